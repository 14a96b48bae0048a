//! A filter's vignette: its outputs darkening toward the corners, whatever the photo.
//!
//! Many filters (lomo, vintage prints, phone presets) multiply every output by a radial
//! falloff. Nothing in a Gram matrix, a palette or a detail histogram holds a position, so a
//! transfer cannot learn it from them; worse, the falloff darkens the dataset's colour
//! statistics on average, so a photo adapted to them comes out too dark in the middle.
//!
//! It is found, like [`crate::color::Levels`], in the envelope of many images and without
//! pairs: ring by ring of the normalised radius, the brightest any image gets. A photo's own
//! content puts bright things anywhere (skies in corners); a vignette caps every image's
//! brightness more the farther out it is. The falloff is modelled as the classic
//! `gain = 1 − strength · r²`, with `r² = (((x − w/2)/(w/2))² + ((y − h/2)/(h/2))²) / 2`, 0 at
//! the centre and 1 in the corners, and fitted to the envelope by least squares.
//!
//! When a dataset has one ([`Vignette::find`]), its colours and detail are measured with the
//! vignette removed ([`Vignette::remove`]). `--colours adapt`
//! ([`crate::color::Palette::adapt`]) adapts the photo to those colours and then gives it the
//! vignette ([`Vignette::apply`]), as the filter does last; the transfer keeps it, as it keeps
//! the adapted photo's other tones. Giving the vignette to the finished result instead was
//! measured and lost on texture: lomo's held-out texture distance went from 0.150 to 0.173
//! and vintage's from 0.162 to 0.176, where darkening the photo gives 0.149 and 0.154.
use crate::color::{LEVELS_BLUR, LEVELS_MIN_IMAGES, LEVELS_QUANTILE, blur_plane};
use crate::image_io::Rgb;
use serde::{Deserialize, Serialize};

/// Rings of equal width in r², from the centre (0) to the corners (1).
pub const RINGS: usize = 10;
/// The weakest falloff believed (corners a quarter darker are 0.25). Measured on the
/// benchmark's 16 photos before any filter, in 2000 random subsets: of 8 photos, 95% fit
/// below 0.10, 99% below 0.13 and 0.25% at 0.15 or more; of 12, none reach 0.12. Of the
/// benchmark's nine filters without a vignette, cartoon fits the most, 0.11: its flat colours
/// stop short of white in every outer ring of its 12 outputs.
pub const MIN_STRENGTH: f64 = 0.15;
/// The strongest falloff kept: the corners keep a tenth of their brightness.
pub const MAX_STRENGTH: f64 = 0.9;

/// One image's brightness envelope by ring: the [`LEVELS_QUANTILE`] top quantile of its
/// brightest channel (after a [`LEVELS_BLUR`] blur, so grain does not count) in each of
/// [`RINGS`] rings.
#[derive(Clone, Debug, PartialEq)]
pub struct Rings(pub [f64; RINGS]);

/// The falloff `gain = 1 − strength · r²` (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vignette {
    pub strength: f64,
}

/// r² of pixel (x, y)'s centre in a `w`×`h` image, in [0, 1].
fn r2(x: usize, y: usize, w: usize, h: usize) -> f64 {
    let dx = (x as f64 + 0.5 - w as f64 / 2.0) / (w as f64 / 2.0);
    let dy = (y as f64 + 0.5 - h as f64 / 2.0) / (h as f64 / 2.0);
    (dx * dx + dy * dy) / 2.0
}

impl Rings {
    /// The envelope of `img` by ring; `None` when some ring holds no pixel.
    pub fn of(img: &Rgb) -> Option<Self> {
        let (w, h) = (img.width, img.height);
        let n = w * h;
        let planes: Vec<Vec<f32>> = (0..3)
            .map(|c| blur_plane(&img.data[c * n..(c + 1) * n], w, h, LEVELS_BLUR))
            .collect();
        let mut rings: Vec<Vec<f32>> = vec![Vec::new(); RINGS];
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let ring = ((r2(x, y, w, h) * RINGS as f64) as usize).min(RINGS - 1);
                rings[ring].push(planes[0][i].max(planes[1][i]).max(planes[2][i]));
            }
        }
        let mut out = [0.0; RINGS];
        for (o, mut v) in out.iter_mut().zip(rings) {
            if v.is_empty() {
                return None;
            }
            v.sort_by(f32::total_cmp);
            *o = v[((1.0 - LEVELS_QUANTILE) * (v.len() - 1) as f64).round() as usize] as f64;
        }
        Some(Self(out))
    }
}

impl Vignette {
    /// The vignette that `rings` (one per image) share, if they are [`LEVELS_MIN_IMAGES`] or
    /// more and their envelope falls off by at least [`MIN_STRENGTH`].
    pub fn find(rings: &[Rings]) -> Option<Self> {
        if rings.len() < LEVELS_MIN_IMAGES {
            return None;
        }
        let envelope: Vec<f64> = (0..RINGS)
            .map(|k| rings.iter().map(|r| r.0[k]).fold(0.0, f64::max))
            .collect();
        // Least squares of envelope = a + b·m over the rings' mid radii m.
        let mid: Vec<f64> = (0..RINGS)
            .map(|k| (k as f64 + 0.5) / RINGS as f64)
            .collect();
        let n = RINGS as f64;
        let (mm, me) = (
            mid.iter().sum::<f64>() / n,
            envelope.iter().sum::<f64>() / n,
        );
        let sxy: f64 = mid
            .iter()
            .zip(&envelope)
            .map(|(m, e)| (m - mm) * (e - me))
            .sum();
        let sxx: f64 = mid.iter().map(|m| (m - mm).powi(2)).sum();
        let b = sxy / sxx;
        let a = me - b * mm;
        if a <= 0.0 {
            return None;
        }
        let strength = -b / a;
        (strength >= MIN_STRENGTH).then_some(Self {
            strength: strength.min(MAX_STRENGTH),
        })
    }

    /// Checks a vignette read from a file.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (0.0..=MAX_STRENGTH).contains(&self.strength),
            "its vignette strength {} is outside [0, {MAX_STRENGTH}]",
            self.strength
        );
        Ok(())
    }

    fn scaled(&self, img: &Rgb, gain: impl Fn(f64) -> f64) -> Rgb {
        let (w, h) = (img.width, img.height);
        let n = w * h;
        let mut out = img.clone();
        for y in 0..h {
            for x in 0..w {
                let g = gain(1.0 - self.strength * r2(x, y, w, h)) as f32;
                for c in 0..3 {
                    out.data[c * n + y * w + x] *= g;
                }
            }
        }
        out
    }

    /// `img` darkened toward its corners, as the filter's outputs are.
    pub fn apply(&self, img: &Rgb) -> Rgb {
        self.scaled(img, |g| g)
    }

    /// `img` with the vignette undone, for measuring a dataset's colours and detail as they
    /// were before it. Values may exceed 1: nothing is clipped.
    pub fn remove(&self, img: &Rgb) -> Rgb {
        self.scaled(img, |g| 1.0 / g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w`×`h` image whose channels are `f(x, y)`.
    fn image(w: usize, h: usize, f: impl Fn(usize, usize) -> [f32; 3]) -> Rgb {
        let n = w * h;
        let mut data = vec![0.0; 3 * n];
        for y in 0..h {
            for x in 0..w {
                let p = f(x, y);
                for c in 0..3 {
                    data[c * n + y * w + x] = p[c];
                }
            }
        }
        Rgb::from_planar(w, h, data)
    }

    /// Photo-like images: stripes of several brightnesses at several angles, some reaching
    /// white, wherever they are.
    fn photos(count: usize) -> Vec<Rgb> {
        (0..count)
            .map(|k| {
                image(48, 40, move |x, y| {
                    let t = ((x * (k % 2 + 1) + y * (k % 3)) / 12 + k) % 4;
                    let v = [1.0, 0.6, 0.3, 0.05][t];
                    [v, v * 0.9, v * 0.8]
                })
            })
            .collect()
    }

    #[test]
    fn a_vignette_many_images_share_is_found_and_photos_have_none() {
        let plain: Vec<Rings> = photos(8).iter().map(|p| Rings::of(p).unwrap()).collect();
        assert_eq!(Vignette::find(&plain), None);
        let v = Vignette { strength: 0.3 };
        let dark: Vec<Rings> = photos(8)
            .iter()
            .map(|p| Rings::of(&v.apply(p)).unwrap())
            .collect();
        let found = Vignette::find(&dark).expect("a 0.3 vignette");
        assert!((found.strength - 0.3).abs() < 0.05, "{found:?}");
        // Seven images are too few to believe, and a weak falloff is not believed.
        assert_eq!(Vignette::find(&dark[..7]), None);
        let weak = Vignette { strength: 0.1 };
        let faint: Vec<Rings> = photos(8)
            .iter()
            .map(|p| Rings::of(&weak.apply(p)).unwrap())
            .collect();
        assert_eq!(Vignette::find(&faint), None);
    }

    #[test]
    fn removing_a_vignette_undoes_applying_it_and_rings_need_pixels() {
        let v = Vignette { strength: 0.5 };
        let p = &photos(1)[0];
        let back = v.remove(&v.apply(p));
        let err = back.max_abs_diff(p);
        assert!(err < 1e-5, "{err}");
        // The corners are darkened by half, the centre barely.
        let d = v.apply(&image(40, 40, |_, _| [1.0; 3]));
        assert!((d.data[0] - 0.5).abs() < 0.03 && d.data[20 * 40 + 20] > 0.99);
        assert_eq!(Rings::of(&image(2, 2, |_, _| [1.0; 3])), None);
        assert!(Vignette { strength: 1.5 }.check().is_err());
        assert!(v.check().is_ok());
    }
}
