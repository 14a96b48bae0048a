//! Images in and out: decoding with clear errors, resizing, tensors, and atomic writes.
//!
//! In memory an image is planar RGB in [0, 1] ([`Rgb`]); on the network it is a tensor
//! [1, 3, H, W]. Every file this crate writes goes through [`write_atomic`]: a temporary file in
//! the same folder, then a rename, so an interrupted run never leaves a half-written output.
use std::io::{Cursor, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::tensor::{Device, Tensor, TensorData};
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, Rgb32FImage, RgbImage};

/// Planar RGB image, values nominally in [0, 1], `data` laid out as \[3\]\[height\]\[width\].
#[derive(Clone, Debug, PartialEq)]
pub struct Rgb {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

/// Reads an image file (PNG, JPEG, WebP, …) as RGB; the error names the file and the fix.
pub fn load(path: &Path) -> Result<Rgb> {
    decode(path).map(|d| d.image)
}

/// An image as decoded, whether its format is lossy, and the notes it carries.
#[derive(Clone, Debug)]
pub struct Decoded {
    pub image: Rgb,
    /// Stored in a lossy format (JPEG, lossy WebP): its compression noise hides what is exact
    /// in an image, such as a posterised filter's colours ([`crate::posterise`]) or a
    /// pixelated one's blocks ([`crate::pixelate`]).
    pub lossy: bool,
    /// A PNG's text chunks (tEXt, zTXt, iTXt), in file order: what [`Rgb::save_with_notes`]
    /// wrote, and any other program's. Empty for other formats.
    pub notes: Vec<Note>,
}

/// A text note stored in an image file beside its pixels: a PNG text chunk's keyword (1 to 79
/// Latin-1 characters) and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub key: String,
    pub text: String,
}

/// The most a compressed note may decompress to: far above what stylelearn writes (about 60
/// KB), far below what would strain memory.
const NOTE_LIMIT: usize = 8 << 20;

/// The text chunks of a PNG file's header (those before its image data), as [`Note`]s; the
/// compressed ones decompressed (up to [`NOTE_LIMIT`]). A note that does not decompress is
/// left out: another program's damaged or oversized chunk is not this image's concern.
fn png_notes(bytes: &[u8]) -> Result<Vec<Note>> {
    let reader = png::Decoder::new(Cursor::new(bytes)).read_info()?;
    let info = reader.info();
    let plain = info
        .uncompressed_latin1_text
        .iter()
        .map(|c| Some((c.keyword.clone(), c.text.clone())));
    let compressed = info.compressed_latin1_text.iter().map(|c| {
        let mut c = c.clone();
        c.decompress_text_with_limit(NOTE_LIMIT).ok()?;
        Some((c.keyword.clone(), c.get_text().ok()?))
    });
    let utf8 = info.utf8_text.iter().map(|c| {
        let mut c = c.clone();
        c.decompress_text_with_limit(NOTE_LIMIT).ok()?;
        Some((c.keyword.clone(), c.get_text().ok()?))
    });
    Ok(plain
        .chain(compressed)
        .chain(utf8)
        .flatten()
        .map(|(key, text)| Note { key, text })
        .collect())
}

/// [`load`], telling whether the file's format is lossy.
pub fn decode(path: &Path) -> Result<Decoded> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read image {}", path.display()))?;
    let (img, icc) = upright(&bytes).with_context(|| unreadable(path, &bytes))?;
    let img = match icc {
        Some(icc) => to_srgb(img, &icc),
        None => img,
    };
    let image = Rgb::from_dynamic(&img);
    let notes = match image::guess_format(&bytes) {
        Ok(ImageFormat::Png) => png_notes(&bytes)
            .with_context(|| format!("cannot read the text chunks of {}", path.display()))?,
        _ => Vec::new(),
    };
    Ok(Decoded {
        image,
        lossy: is_lossy(&bytes),
        notes,
    })
}

/// Why the image at `path`, whose file begins with `head`, cannot be read, and what to do. A
/// phone's HEIC or AVIF photo (an ISO base media file: a size, `ftyp`, then its brand) is named
/// as such, with the fix.
fn unreadable(path: &Path, head: &[u8]) -> String {
    let brand = (head.get(4..8) == Some(b"ftyp"))
        .then(|| head.get(8..12))
        .flatten();
    match brand {
        Some(b"avif" | b"avis") => format!(
            "{} is an AVIF image, which stylelearn cannot read: convert it to JPEG or PNG",
            path.display()
        ),
        Some(b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1") => {
            format!(
                "{} is a HEIC image (an iPhone's default), which stylelearn cannot read: convert it to JPEG or PNG (or set the camera to \"Most Compatible\")",
                path.display()
            )
        }
        _ => format!(
            "{} is not a readable image (PNG, JPEG, WebP, BMP or TIFF expected)",
            path.display()
        ),
    }
}

/// An encoded image as it is meant to be seen: turned and flipped as its Exif orientation
/// says (a phone stores a portrait photo as landscape pixels and an orientation tag), so a
/// result, a mask and a filter's output line up with the photo as a viewer shows it; and the
/// ICC profile embedded with it, if any ([`to_srgb`]). An orientation or a profile that
/// cannot be read counts as none: the pixels are still the image.
fn upright(bytes: &[u8]) -> image::ImageResult<(DynamicImage, Option<Vec<u8>>)> {
    let mut decoder = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()?
        .into_decoder()?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let mut img = DynamicImage::from_decoder(decoder)?;
    img.apply_orientation(orientation);
    Ok((img, icc))
}

/// Brings an image's colours from the RGB colour space its embedded ICC profile names into
/// sRGB, the space everything here assumes and every result is written in. A phone's photo
/// in Display P3 read as sRGB would look washed out, and its result would too. A profile
/// that is not an RGB one, that cannot be read, or that moves no colour of a coarse grid by
/// a quarter of an 8-bit level (an sRGB profile, as most cameras and editors embed) leaves
/// the pixels exactly as they are. Colours outside sRGB are clipped to it (moxcms's
/// transform clips; the tests hold it to that).
fn to_srgb(img: DynamicImage, icc: &[u8]) -> DynamicImage {
    use moxcms::{ColorProfile, DataColorSpace, Layout, TransformOptions};
    let Ok(profile) = ColorProfile::new_from_slice(icc) else {
        return img;
    };
    if profile.color_space != DataColorSpace::Rgb {
        return img;
    }
    let Ok(transform) = profile.create_transform_f32(
        Layout::Rgb,
        &ColorProfile::new_srgb(),
        Layout::Rgb,
        TransformOptions::default(),
    ) else {
        return img;
    };
    // a 9×9×9 grid of colours: a profile that moves none of them is sRGB's
    let grid: Vec<f32> = (0..9 * 9 * 9 * 3)
        .map(|i| ((i / 3) / [1, 9, 81][i % 3] % 9) as f32 / 8.0)
        .collect();
    let mut moved = vec![0.0; grid.len()];
    if transform.transform(&grid, &mut moved).is_err()
        || grid
            .iter()
            .zip(&moved)
            .all(|(a, b)| (a - b).abs() < 0.25 / 255.0)
    {
        return img;
    }
    // interleaved RGB, as the decoder gives it and the transform takes it
    let src = img.to_rgb32f();
    let mut dst = src.clone();
    if transform.transform(&src, &mut dst).is_err() {
        return img;
    }
    DynamicImage::ImageRgb32F(dst)
}

/// Whether an encoded image is in a lossy format: JPEG, or WebP holding a lossy ("VP8 ")
/// bitstream rather than a lossless ("VP8L") one.
pub fn is_lossy(bytes: &[u8]) -> bool {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Jpeg) => true,
        // RIFF chunks from byte 12 on: a four-letter name, a little-endian size, the data
        // padded to an even length
        Ok(ImageFormat::WebP) => {
            let mut at = 12;
            while let Some(head) = bytes.get(at..at + 8) {
                if &head[..4] == b"VP8 " {
                    return true;
                }
                let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
                at = at
                    .saturating_add(8)
                    .saturating_add(size)
                    .saturating_add(size & 1);
            }
            false
        }
        _ => false,
    }
}

/// The size (width, height) of an image file as [`load`] gives it (turned upright), from its
/// header, without decoding the pixels.
pub fn dimensions(path: &Path) -> Result<(usize, usize)> {
    let mut decoder = image::ImageReader::open(path)
        .with_context(|| format!("cannot read image {}", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("cannot read image {}", path.display()))?
        .into_decoder()
        .with_context(|| {
            let head = std::fs::File::open(path)
                .and_then(|f| {
                    std::io::Read::bytes(f)
                        .take(16)
                        .collect::<std::io::Result<Vec<u8>>>()
                })
                .unwrap_or_default();
            unreadable(path, &head)
        })?;
    let (w, h) = decoder.dimensions();
    let (w, h) = (w as usize, h as usize);
    use image::metadata::Orientation::*;
    Ok(match decoder.orientation().unwrap_or(NoTransforms) {
        Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH => (h, w),
        NoTransforms | Rotate180 | FlipHorizontal | FlipVertical => (w, h),
    })
}

/// A mask (one value per pixel of a `width`×`height` image) resized to `new_w`×`new_h` as the
/// image itself is ([`Rgb::resize`]), so that it keeps covering the same region.
pub fn resize_mask(m: &[f32], width: usize, height: usize, new_w: usize, new_h: usize) -> Vec<f32> {
    let grey = Rgb::from_planar(width, height, m.repeat(3));
    grey.resize(new_w, new_h).data[..new_w * new_h].to_vec()
}

/// Reads a mask (white = inside) as values in [0, 1], which must be `width`×`height`.
pub fn load_mask(path: &Path, width: usize, height: usize) -> Result<Vec<f32>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read mask {}", path.display()))?;
    let img = upright(&bytes)
        .with_context(|| format!("mask {} is not a readable image", path.display()))?
        .0
        .to_luma32f();
    let (w, h) = (img.width() as usize, img.height() as usize);
    if (w, h) != (width, height) {
        // images are read as their Exif orientation shows them; a mask made by a tool that
        // ignores it has the stored pixels' shape
        let turned = if (w, h) == (height, width) {
            " (turned: an image is read as its Exif orientation shows it, so a mask made from its stored pixels must be turned alike)"
        } else {
            ""
        };
        bail!(
            "mask {} is {w}×{h} but its image is {width}×{height}: masks must have the size of their image{turned}",
            path.display(),
        );
    }
    Ok(img.into_raw())
}

impl Rgb {
    pub fn from_dynamic(img: &DynamicImage) -> Self {
        let rgb = img.to_rgb32f();
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        let mut data = vec![0.0; 3 * w * h];
        for (i, p) in rgb.pixels().enumerate() {
            for c in 0..3 {
                data[c * w * h + i] = p.0[c];
            }
        }
        Self {
            width: w,
            height: h,
            data,
        }
    }

    fn to_rgb32f(&self) -> Rgb32FImage {
        let n = self.width * self.height;
        let mut buf = Vec::with_capacity(3 * n);
        for i in 0..n {
            for c in 0..3 {
                buf.push(self.data[c * n + i].clamp(0.0, 1.0));
            }
        }
        Rgb32FImage::from_raw(self.width as u32, self.height as u32, buf).expect("sizes agree")
    }

    /// 8-bit pixels, as [`Rgb::save`] encodes them: each channel clamped to [0, 1] and rounded.
    fn to_rgb8(&self) -> RgbImage {
        DynamicImage::ImageRgb32F(self.to_rgb32f()).to_rgb8()
    }

    /// Each pixel's 8-bit sRGB colour (values clipped to [0, 1], then rounded), in row order.
    pub fn pixels_8bit(&self) -> Vec<[u8; 3]> {
        let n = self.width * self.height;
        let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        (0..n)
            .map(|i| [self.data[i], self.data[n + i], self.data[2 * n + i]].map(byte))
            .collect()
    }

    /// The image saved as a JPEG of `quality` and decoded again.
    #[cfg(test)]
    pub(crate) fn through_jpeg(&self, quality: u8) -> Self {
        let px = self.pixels_8bit();
        let w = self.width;
        let rgb = RgbImage::from_fn(w as u32, self.height as u32, |x, y| {
            image::Rgb(px[y as usize * w + x as usize])
        });
        let mut buf = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality)
            .encode_image(&rgb)
            .unwrap();
        Self::from_dynamic(&image::load_from_memory(&buf).unwrap())
    }

    /// The image as an 8-bit file ([`Rgb::save`] to PNG) holds it.
    pub fn to_8bit(&self) -> Self {
        Self::from_dynamic(&DynamicImage::ImageRgb8(self.to_rgb8()))
    }

    /// Resized to exactly `width`×`height` (Lanczos3 when shrinking, Catmull-Rom when growing).
    pub fn resize(&self, width: usize, height: usize) -> Self {
        if width == self.width && height == self.height {
            return self.clone();
        }
        let filter = if width < self.width {
            FilterType::Lanczos3
        } else {
            FilterType::CatmullRom
        };
        let out = image::imageops::resize(&self.to_rgb32f(), width as u32, height as u32, filter);
        Self::from_dynamic(&DynamicImage::ImageRgb32F(out))
    }

    /// Size with the long side `long`, keeping the aspect ratio.
    pub fn size_for_long_side(&self, long: usize) -> (usize, usize) {
        let s = long as f64 / self.width.max(self.height) as f64;
        let w = ((self.width as f64 * s).round() as usize).max(1);
        let h = ((self.height as f64 * s).round() as usize).max(1);
        (w, h)
    }

    /// Resized so the long side is `long` px.
    pub fn fit_long_side(&self, long: usize) -> Self {
        let (w, h) = self.size_for_long_side(long);
        self.resize(w, h)
    }

    /// As a tensor [1, 3, H, W] on `device`.
    pub fn to_tensor(&self, device: &Device) -> Tensor<4> {
        Tensor::from_data(
            TensorData::new(self.data.clone(), [1, 3, self.height, self.width]),
            device,
        )
    }

    /// From planar data [3, height, width].
    pub fn from_planar(width: usize, height: usize, data: Vec<f32>) -> Self {
        assert_eq!(data.len(), 3 * width * height);
        Self {
            width,
            height,
            data,
        }
    }

    /// The largest difference between any channel of any pixel of two images of the same size.
    pub fn max_abs_diff(&self, other: &Rgb) -> f32 {
        assert_eq!((self.width, self.height), (other.width, other.height));
        self.data
            .iter()
            .zip(&other.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    }

    /// Encodes by the extension of `path` (png, jpg/jpeg, webp) and writes atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.save_with_notes(path, &[])
    }

    /// [`Rgb::save`], with `notes` stored beside the pixels when the format is PNG (as
    /// compressed text chunks, zTXt, before the image data); JPEG and WebP files are written
    /// without them. [`decode`] reads them back.
    pub fn save_with_notes(&self, path: &Path, notes: &[Note]) -> Result<()> {
        let format = output_format(path)?;
        let img = self.to_rgb8();
        let mut buf = Cursor::new(Vec::new());
        match format {
            ImageFormat::Png if !notes.is_empty() => {
                let mut enc = png::Encoder::new(&mut buf, img.width(), img.height());
                enc.set_color(png::ColorType::Rgb);
                enc.set_depth(png::BitDepth::Eight);
                for n in notes {
                    enc.add_ztxt_chunk(n.key.clone(), n.text.clone())?;
                }
                let mut w = enc
                    .write_header()
                    .with_context(|| format!("cannot encode {}", path.display()))?;
                w.write_image_data(img.as_raw())
                    .and_then(|_| w.finish())
                    .with_context(|| format!("cannot encode {}", path.display()))?;
            }
            ImageFormat::Jpeg => {
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 95)
                    .encode_image(&img)
                    .with_context(|| format!("cannot encode {}", path.display()))?;
            }
            _ => img
                .write_to(&mut buf, format)
                .with_context(|| format!("cannot encode {}", path.display()))?,
        }
        write_atomic(path, buf.get_ref())
    }
}

/// The image format named by `path`'s extension, or an error listing the supported ones.
pub fn output_format(path: &Path) -> Result<ImageFormat> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("png") => Ok(ImageFormat::Png),
        Some("jpg") | Some("jpeg") => Ok(ImageFormat::Jpeg),
        Some("webp") => Ok(ImageFormat::WebP),
        _ => bail!(
            "cannot tell the image format of output {}: use a .png, .jpg or .webp name",
            path.display()
        ),
    }
}

/// Whether an output at `path` keeps the notes [`Rgb::save_with_notes`] is given: a PNG does,
/// JPEG and WebP files are written without them.
pub fn keeps_notes(path: &Path) -> bool {
    matches!(output_format(path), Ok(ImageFormat::Png))
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create folder {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".stylelearn-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    // Outputs are ordinary files for others to read (tempfile creates them private).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Uniform white noise in [0, 1] from a seed (same seed, same image).
pub fn noise(width: usize, height: usize, seed: u64) -> Rgb {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let data = (0..3 * width * height)
        .map(|_| rng.random::<f32>())
        .collect();
    Rgb {
        width,
        height,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(format: ImageFormat) -> Vec<u8> {
        let img = DynamicImage::ImageRgb8(RgbImage::from_fn(8, 8, |x, y| {
            image::Rgb([(x * 30) as u8, (y * 30) as u8, 90])
        }));
        let mut buf = Cursor::new(Vec::new());
        img.write_to(&mut buf, format).unwrap();
        buf.into_inner()
    }

    #[test]
    fn notes_saved_with_a_png_come_back_and_other_formats_carry_none() {
        let dir = tempfile::tempdir().unwrap();
        let img = noise(12, 10, 1);
        let notes = [
            Note {
                key: "stylelearn test".to_string(),
                text: "{\"a\": [1, 2, 3]}".to_string(),
            },
            Note {
                key: "other".to_string(),
                text: "x".repeat(5000),
            },
        ];
        let png = dir.path().join("a.png");
        img.save_with_notes(&png, &notes).unwrap();
        let d = decode(&png).unwrap();
        assert_eq!(d.notes, notes);
        // the pixels are the same as a plain save's
        let plain = dir.path().join("b.png");
        img.save(&plain).unwrap();
        assert_eq!(d.image, load(&plain).unwrap());
        assert!(decode(&plain).unwrap().notes.is_empty());
        let jpeg = dir.path().join("a.jpg");
        assert!(keeps_notes(&png) && !keeps_notes(&jpeg));
        assert!(!keeps_notes(&dir.path().join("a.webp")));
        img.save_with_notes(&jpeg, &notes).unwrap();
        assert!(decode(&jpeg).unwrap().notes.is_empty());
        // a compressed note that would decompress past the limit is left out
        let big = Note {
            key: "big".to_string(),
            text: "x".repeat(NOTE_LIMIT + 1),
        };
        img.save_with_notes(&png, &[big, notes[0].clone()]).unwrap();
        assert_eq!(decode(&png).unwrap().notes, notes[..1]);
    }

    /// An Exif block (big-endian TIFF) holding only the orientation tag (0x0112) set to `value`.
    fn exif_orientation(value: u16) -> Vec<u8> {
        let mut e = b"MM\0*".to_vec();
        e.extend_from_slice(&8u32.to_be_bytes()); // the first directory follows the header
        e.extend_from_slice(&1u16.to_be_bytes()); // one entry
        e.extend_from_slice(&0x0112u16.to_be_bytes());
        e.extend_from_slice(&3u16.to_be_bytes()); // SHORT
        e.extend_from_slice(&1u32.to_be_bytes());
        e.extend_from_slice(&value.to_be_bytes());
        e.extend_from_slice(&[0, 0]);
        e.extend_from_slice(&0u32.to_be_bytes()); // no next directory
        e
    }

    /// A 6×4 image whose every pixel differs, encoded with `exif`.
    fn stored_with_exif(format: ImageFormat, exif: Vec<u8>) -> (RgbImage, Vec<u8>) {
        use image::ImageEncoder;
        let img = RgbImage::from_fn(6, 4, |x, y| image::Rgb([(x * 40) as u8, (y * 60) as u8, 7]));
        let mut buf = Vec::new();
        match format {
            ImageFormat::Png => {
                let mut enc = image::codecs::png::PngEncoder::new(&mut buf);
                enc.set_exif_metadata(exif).unwrap();
                enc.write_image(&img, 6, 4, image::ExtendedColorType::Rgb8)
                    .unwrap();
            }
            _ => {
                let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 95);
                enc.set_exif_metadata(exif).unwrap();
                enc.write_image(&img, 6, 4, image::ExtendedColorType::Rgb8)
                    .unwrap();
            }
        }
        (img, buf)
    }

    #[test]
    fn an_image_stored_turned_is_read_as_its_orientation_shows_it() {
        let dir = tempfile::tempdir().unwrap();
        // Exif orientation 6: the stored pixels are to be turned 90° clockwise to be seen
        let (stored, bytes) = stored_with_exif(ImageFormat::Png, exif_orientation(6));
        let path = dir.path().join("portrait.png");
        std::fs::write(&path, &bytes).unwrap();
        let seen = load(&path).unwrap();
        assert_eq!((seen.width, seen.height), (4, 6));
        assert_eq!(dimensions(&path).unwrap(), (4, 6));
        let px = seen.pixels_8bit();
        for y in 0..6u32 {
            for x in 0..4u32 {
                // turned clockwise: the stored left column is the seen top row
                assert_eq!(
                    px[(y * 4 + x) as usize],
                    stored.get_pixel(y, 3 - x).0,
                    "({x}, {y})"
                );
            }
        }
        // a mask drawn over the image as it is seen fits it; one the stored size does not
        assert_eq!(load_mask(&path, 4, 6).unwrap().len(), 24);
        let e = format!("{:#}", load_mask(&path, 6, 4).unwrap_err());
        assert!(
            e.contains("is 4×6 but its image is 6×4") && e.contains("(turned"),
            "{e}"
        );
        let e = format!("{:#}", load_mask(&path, 5, 4).unwrap_err());
        assert!(!e.contains("turned"), "{e}");

        // a phone's JPEG alike
        let (_, bytes) = stored_with_exif(ImageFormat::Jpeg, exif_orientation(6));
        let jpeg = dir.path().join("portrait.jpg");
        std::fs::write(&jpeg, &bytes).unwrap();
        let seen = decode(&jpeg).unwrap();
        assert_eq!((seen.image.width, seen.image.height), (4, 6));
        assert!(seen.lossy);
        assert_eq!(dimensions(&jpeg).unwrap(), (4, 6));

        // orientation 1 and an Exif block that does not parse leave the pixels as stored
        for exif in [exif_orientation(1), b"not exif at all".to_vec()] {
            let (stored, bytes) = stored_with_exif(ImageFormat::Png, exif);
            std::fs::write(&path, &bytes).unwrap();
            let seen = load(&path).unwrap();
            assert_eq!((seen.width, seen.height), (6, 4));
            assert_eq!(dimensions(&path).unwrap(), (6, 4));
            assert_eq!(seen.pixels_8bit()[1], stored.get_pixel(1, 0).0);
        }
    }

    /// An n×1 PNG of the 8-bit colours `px`, with the ICC profile `icc` embedded.
    fn png_with_icc(px: [[u8; 3]; 3], icc: Option<Vec<u8>>) -> Vec<u8> {
        use image::ImageEncoder;
        let mut buf = Vec::new();
        let mut enc = image::codecs::png::PngEncoder::new(&mut buf);
        if let Some(icc) = icc {
            enc.set_icc_profile(icc).unwrap();
        }
        enc.write_image(px.as_flattened(), 3, 1, image::ExtendedColorType::Rgb8)
            .unwrap();
        buf
    }

    #[test]
    fn colours_in_an_embedded_profile_s_space_are_read_into_srgb() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p3.png");
        let read = |bytes: Vec<u8>| {
            std::fs::write(&path, bytes).unwrap();
            load(&path).unwrap()
        };
        let px = [[204, 76, 51], [128, 128, 128], [255, 0, 0]];
        let p3_profile = || moxcms::ColorProfile::new_display_p3().encode().unwrap();
        let seen = read(png_with_icc(px, Some(p3_profile())));
        // Display P3 to sRGB, written out: both use the sRGB tone curve and D65 white; the
        // linear primaries matrix is the published P3-D65 → sRGB one
        let lin = |v: f32| {
            if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        let enc = |v: f32| {
            if v <= 0.0031308 {
                v * 12.92
            } else {
                1.055 * v.powf(1.0 / 2.4) - 0.055
            }
        };
        let m = [
            [1.2249, -0.2247, 0.0],
            [-0.0420, 1.0419, 0.0],
            [-0.0197, -0.0786, 1.0979],
        ];
        let p = px[0].map(|v| lin(v as f32 / 255.0));
        for (c, row) in m.iter().enumerate() {
            let want = enc(row.iter().zip(&p).map(|(m, p)| m * p).sum::<f32>());
            let got = seen.data[c * 3];
            assert!(
                (got - want).abs() < 0.01,
                "channel {c}: {got} against {want}"
            );
        }
        // grey stays grey; P3's red, redder than sRGB's, is clipped to it
        for c in 0..3 {
            assert!((seen.data[c * 3 + 1] - 128.0 / 255.0).abs() < 0.005);
            assert_eq!(seen.data[c * 3 + 2], [1.0, 0.0, 0.0][c]);
        }

        // a phone's JPEG carries its profile alike (8×8 of the first colour: one JPEG block)
        let mut jpeg = Vec::new();
        let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 100);
        image::ImageEncoder::set_icc_profile(&mut enc, p3_profile()).unwrap();
        let block = [px[0]; 64];
        image::ImageEncoder::write_image(
            enc,
            block.as_flattened(),
            8,
            8,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
        let jpeg_path = dir.path().join("p3.jpg");
        std::fs::write(&jpeg_path, jpeg).unwrap();
        let from_jpeg = load(&jpeg_path).unwrap();
        for c in 0..3 {
            assert!(
                (from_jpeg.data[c * 64] - seen.data[c * 3]).abs() < 0.02,
                "JPEG channel {c}"
            );
        }

        // an sRGB profile, a profile that does not parse, and none: the pixels as stored
        let plain = read(png_with_icc(px, None));
        assert_eq!(plain.pixels_8bit(), px);
        let srgb = moxcms::ColorProfile::new_srgb().encode().unwrap();
        for icc in [srgb, b"not a profile".to_vec()] {
            assert_eq!(read(png_with_icc(px, Some(icc))), plain);
        }
    }

    #[test]
    fn bmp_and_tiff_images_are_read_as_their_extensions_promise() {
        let dir = tempfile::tempdir().unwrap();
        for (format, name) in [(ImageFormat::Bmp, "a.bmp"), (ImageFormat::Tiff, "a.tif")] {
            let path = dir.path().join(name);
            std::fs::write(&path, encoded(format)).unwrap();
            let png = dir.path().join("a.png");
            std::fs::write(&png, encoded(ImageFormat::Png)).unwrap();
            assert_eq!(load(&path).unwrap(), load(&png).unwrap(), "{name}");
            assert_eq!(dimensions(&path).unwrap(), (8, 8));
        }
    }

    #[test]
    fn a_phone_s_heic_or_avif_photo_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        // the start of an ISO base media file: its size, "ftyp", its brand
        let iso = |brand: &[u8; 4]| [&[0, 0, 0, 24][..], b"ftyp", brand, &[0; 4], b"mif1"].concat();
        for (bytes, name, says) in [
            (iso(b"heic"), "phone.heic", "is a HEIC image"),
            (iso(b"mif1"), "phone.heif", "is a HEIC image"),
            (iso(b"avif"), "phone.avif", "is an AVIF image"),
            (
                b"not an image at all".to_vec(),
                "x.png",
                "is not a readable image",
            ),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            for e in [load(&path).unwrap_err(), dimensions(&path).unwrap_err()] {
                let e = format!("{e:#}");
                assert!(e.contains(name) && e.contains(says), "{e}");
                assert_eq!(
                    e.contains("convert it to JPEG or PNG"),
                    name != "x.png",
                    "{e}"
                );
            }
        }
    }

    /// A WebP file header with the given chunks (name, data).
    fn webp(chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut body = b"WEBP".to_vec();
        for (name, data) in chunks {
            body.extend_from_slice(*name);
            body.extend_from_slice(&(data.len() as u32).to_le_bytes());
            body.extend_from_slice(data);
            if data.len() % 2 == 1 {
                body.push(0);
            }
        }
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend(body);
        out
    }

    #[test]
    fn jpeg_and_lossy_webp_are_lossy_and_png_and_lossless_webp_are_not() {
        assert!(is_lossy(&encoded(ImageFormat::Jpeg)));
        assert!(!is_lossy(&encoded(ImageFormat::Png)));
        // the WebP encoder writes lossless ("VP8L") files
        assert!(!is_lossy(&encoded(ImageFormat::WebP)));
        // an extended WebP whose image is a lossy bitstream, after an odd-sized chunk
        assert!(is_lossy(&webp(&[
            (b"VP8X", &[0; 10]),
            (b"ICCP", &[1; 3]),
            (b"VP8 ", &[0; 4])
        ])));
        assert!(!is_lossy(&webp(&[(b"VP8X", &[0; 10]), (b"VP8L", &[0; 4])])));
        // a header cut short, or a chunk size past the end, is not lossy and does not panic
        let mut cut = webp(&[(b"VP8X", &[0; 10]), (b"VP8 ", &[0; 4])]);
        cut.truncate(30);
        assert!(!is_lossy(&cut));
        let mut huge = webp(&[(b"VP8X", &[0; 10])]);
        huge[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(!is_lossy(&huge));
    }
}
