//! Style datasets: image files and folders, per-image weights (CSV `file,weight`), per-image
//! masks (same file stem in a masks folder, white = inside), with clear errors for bad input.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::image_io::{self, Rgb};

/// The file names a folder's images have: the formats stylelearn reads, and a phone's HEIC and
/// AVIF, which it cannot, listed so that such a photo is named with the fix
/// ([`crate::image_io::decode`]) instead of being left out of a folder unsaid.
pub(crate) const IMAGE_EXTENSIONS: [&str; 10] = [
    "png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "heic", "heif", "avif",
];

/// Which part of each masked image to learn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// Where the mask is white.
    Foreground,
    /// Where the mask is black.
    Background,
}

impl std::str::FromStr for Region {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "foreground" => Ok(Region::Foreground),
            "background" => Ok(Region::Background),
            _ => Err(format!(
                "unknown region '{s}': expected foreground or background"
            )),
        }
    }
}

/// One dataset entry (not yet decoded).
#[derive(Clone, Debug)]
pub struct Entry {
    pub path: PathBuf,
    pub weight: f64,
    pub mask: Option<PathBuf>,
    /// True if it came from listing a folder (may be skipped with --skip-bad).
    pub from_folder: bool,
}

pub(crate) fn is_image_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// True for files a stylelearn run wrote beside a style profile `S.profile.safetensors` in the
/// same folder (`S.png`, `S.iterNNNNN.png`, `S.curve.png`, …) and for partial files: a learn
/// run whose output lies in its dataset folder must not learn from them next time.
fn is_own_output(p: &Path) -> bool {
    let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if name.starts_with(crate::outputs::PARTIAL_PREFIX) {
        return true;
    }
    let Some(dir) = p.parent() else { return false };
    // Every prefix of the name up to a dot may be the stem of a learn output.
    name.match_indices('.').any(|(i, _)| {
        let stem = &name[..i];
        dir.join(format!("{stem}.profile.safetensors")).is_file() && {
            let rest = &name[i + 1..];
            !rest.contains('.')
                || rest.starts_with("curve.")
                || (rest.starts_with("iter")
                    && rest[4..]
                        .split('.')
                        .next()
                        .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit())))
        }
    })
}

/// Expands files and folders (folders: their image files, sorted by name, not recursive,
/// leaving out what stylelearn itself wrote there: see `is_own_output`).
pub fn expand(inputs: &[PathBuf]) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("cannot list folder {}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_image_name(p) && !is_own_output(p))
                .collect();
            files.sort();
            if files.is_empty() {
                bail!(
                    "folder {} holds no images (.png, .jpg, .jpeg, .webp, .bmp, .tif, .tiff)",
                    input.display()
                );
            }
            out.extend(files.into_iter().map(|path| Entry {
                path,
                weight: 1.0,
                mask: None,
                from_folder: true,
            }));
        } else if input.is_file() {
            out.push(Entry {
                path: input.clone(),
                weight: 1.0,
                mask: None,
                from_folder: false,
            });
        } else {
            bail!("dataset input {} does not exist", input.display());
        }
    }
    if out.is_empty() {
        bail!("the dataset is empty: give image files or folders of images");
    }
    Ok(out)
}

/// Applies a weights CSV (`file,weight` per line; `file` matched by path, file name or stem;
/// an optional header line `file,weight` and `#` comments are allowed; a UTF-8 BOM is ignored).
/// Images the file does not list get weight 0 and are left out: their paths are returned so
/// the caller can say so. Naming an image that is not in the dataset, naming one twice, or a
/// malformed line is an error.
pub fn apply_weights(entries: &mut Vec<Entry>, csv: &Path) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(csv)
        .with_context(|| format!("cannot read weights file {}", csv.display()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut given: Vec<(String, f64, usize)> = Vec::new();
    let mut first = true;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let is_header = first
            && fields.len() == 2
            && fields[0].eq_ignore_ascii_case("file")
            && fields[1].eq_ignore_ascii_case("weight");
        first = false;
        if is_header {
            continue;
        }
        if fields.len() != 2 || fields[0].is_empty() {
            bail!(
                "{}:{}: expected `file,weight`, got '{line}'",
                csv.display(),
                n + 1
            );
        }
        let (name, w) = (fields[0], fields[1]);
        let w: f64 = w.parse().map_err(|_| {
            anyhow::anyhow!("{}:{}: weight '{w}' is not a number", csv.display(), n + 1)
        })?;
        if !(w >= 0.0 && w.is_finite()) {
            bail!(
                "{}:{}: weight {w} for {name} must be a non-negative number",
                csv.display(),
                n + 1
            );
        }
        if let Some((_, _, line0)) = given.iter().find(|(g, _, _)| g == name) {
            bail!(
                "{}:{}: {name} is already given on line {line0}: give each image once",
                csv.display(),
                n + 1
            );
        }
        given.push((name.to_string(), w, n + 1));
    }
    let key_of = |e: &Entry| -> Vec<String> {
        let mut k = vec![e.path.display().to_string()];
        if let Some(n) = e.path.file_name().and_then(|s| s.to_str()) {
            k.push(n.to_string());
        }
        if let Some(s) = e.path.file_stem().and_then(|s| s.to_str()) {
            k.push(s.to_string());
        }
        k
    };
    for (name, _, line) in &given {
        if !entries.iter().any(|e| key_of(e).contains(name)) {
            bail!("{}:{line}: '{name}' is not in the dataset", csv.display());
        }
    }
    for e in entries.iter_mut() {
        let keys = key_of(e);
        e.weight = given
            .iter()
            .find(|(g, _, _)| keys.contains(g))
            .map(|(_, w, _)| *w)
            .unwrap_or(0.0);
    }
    let left_out = entries
        .iter()
        .filter(|e| e.weight <= 0.0)
        .map(|e| e.path.clone())
        .collect();
    entries.retain(|e| e.weight > 0.0);
    if entries.is_empty() {
        bail!(
            "weights file {} gives every image weight 0: at least one must be positive",
            csv.display()
        );
    }
    Ok(left_out)
}

/// Finds each entry's mask in `dir` (same file stem, any image extension).
pub fn attach_masks(entries: &mut [Entry], dir: &Path) -> Result<()> {
    if !dir.exists() {
        bail!("masks folder {} does not exist", dir.display());
    }
    if !dir.is_dir() {
        bail!(
            "masks {} is a file: give the folder that holds the masks",
            dir.display()
        );
    }
    for e in entries.iter_mut() {
        let stem = e
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let found = IMAGE_EXTENSIONS
            .iter()
            .map(|ext| dir.join(format!("{stem}.{ext}")))
            .find(|p| p.is_file());
        match found {
            Some(p) => e.mask = Some(p),
            None => bail!(
                "no mask for {} in {} (expected {stem}.png or another image with the same stem)",
                e.path.display(),
                dir.display()
            ),
        }
    }
    Ok(())
}

/// A decoded dataset image, resized to at most `max_side` on its long side (with the vignette
/// [`load_entry`] was given removed), with its mask.
pub struct Loaded {
    pub image: Rgb,
    pub mask: Option<Vec<f32>>,
    /// The exact colours of the image as decoded (in its masked region), before resizing
    /// blended them.
    pub swatches: crate::posterise::Swatches,
    /// Whether the image as decoded is pixelated (in its masked region).
    pub pixels: crate::pixelate::Seen,
    /// The fine detail of the image as resized and, at its doublings, as decoded
    /// ([`crate::detail::Detail::of_read`]), with the vignette given removed.
    pub detail: crate::detail::Detail,
    /// Whether the file is in a lossy format, whose noise hides exact colours (its swatches are
    /// estimated, [`crate::posterise::Swatches::of_lossy`], and its blocks found by contrast,
    /// [`crate::pixelate::Seen::of_lossy`]).
    pub lossy: bool,
}

/// Decodes one entry (image and mask, the mask inverted for the background region). With a
/// `vignette`, the image is returned and its detail measured with the vignette removed (its
/// exact colours and blocks are measured as decoded).
pub fn load_entry(
    e: &Entry,
    max_side: Option<usize>,
    region: Region,
    vignette: Option<&crate::vignette::Vignette>,
) -> Result<Loaded> {
    let image_io::Decoded { image, lossy, .. } = image_io::decode(&e.path)?;
    crate::vgg::check_size(image.height, image.width)
        .with_context(|| format!("style image {}", e.path.display()))?;
    let mask = match &e.mask {
        Some(m) => {
            let mut v = image_io::load_mask(m, image.width, image.height)?;
            if region == Region::Background {
                v.iter_mut().for_each(|x| *x = 1.0 - *x);
            }
            if v.iter().sum::<f32>() < 1.0 {
                bail!(
                    "mask {} selects no pixels of the {region:?} region",
                    m.display()
                );
            }
            Some(v)
        }
        None => None,
    };
    let swatches = crate::posterise::Swatches::of_read(&image, mask.as_deref(), lossy);
    let pixels = crate::pixelate::Seen::of_read(&image, mask.as_deref(), lossy);
    let (read, read_mask) = match max_side {
        Some(s) if image.width.max(image.height) > s => {
            let r = image.fit_long_side(s);
            let mask = mask
                .as_ref()
                .map(|m| image_io::resize_mask(m, image.width, image.height, r.width, r.height));
            (Some(r), mask)
        }
        _ => (None, None),
    };
    // measured (and returned) with the vignette given removed
    let without = |img: Rgb| match vignette {
        Some(v) => v.remove(&img),
        None => img,
    };
    let (image, mask, detail) = match read {
        Some(r) => {
            let (r, full) = (without(r), without(image));
            let detail =
                crate::detail::Detail::of_read(&r, read_mask.as_deref(), &full, mask.as_deref());
            (r, read_mask, detail)
        }
        None => {
            let image = without(image);
            let detail = crate::detail::Detail::of(&image, mask.as_deref());
            (image, mask, detail)
        }
    };
    crate::vgg::check_size(image.height, image.width).with_context(|| {
        format!(
            "style image {} after resizing to a long side of {} px",
            e.path.display(),
            max_side.unwrap_or(0)
        )
    })?;
    Ok(Loaded {
        image,
        mask,
        swatches,
        pixels,
        detail,
        lossy,
    })
}
