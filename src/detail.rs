//! A style's fine luminance detail, octave by octave: how much of it is flat, how strong its
//! edges are, how much grain it has. Gram matrices see this detail only through VGG-19's
//! features, and a transfer that keeps much of the photo keeps the photo's own fine detail
//! too: a cartoon filter's flat regions come out textured. Matching each detail band's
//! distribution to the style's (Heeger and Bergen's pyramid histogram matching, 1995) makes
//! the result as flat, or as grainy, as the style's images, while the optimisation still
//! decides where the edges and strokes go.
//!
//! The bands are differences of Gaussian blurs of the YIQ luminance: the finest band (0 to 1
//! px) and the next octave (1 to 2 px), in pixels of the images measured. Coarser structure is
//! left to the optimisation and to the tones ([`crate::color::recolour`]).
//!
//! A detail is measured on the images as they are and shrunk to ½ and ¼, and remembers their
//! long side. An image of another size takes the level nearest its size relative to theirs:
//! a result at half the dataset's size takes the detail of the dataset shrunk to half, as the
//! filter's own output would look at that size. Detail finer than the result's pixels cannot
//! be given: a result less than ⅛ of the size keeps its own. Images read larger than they are
//! measured (a phone filter's outputs, shrunk to `--max-side`) are also measured at each
//! doubling up to their own size, so that a result at a phone photo's size takes the filter's
//! detail at that size, not the shrunk images' stretched. The benchmark behind these choices
//! is in README.
use serde::{Deserialize, Serialize};

use crate::color::{Cdf, blur_plane, grey, is_histogram, match_quantiles, to_yiq, with_chroma};
use crate::image_io::{Rgb, resize_mask};

/// The Gaussian σ (pixels) that bound the detail bands: band k holds the luminance blurred by
/// `BANDS[k - 1]` (none for k = 0) minus the luminance blurred by `BANDS[k]`.
pub const BANDS: [f32; 2] = [1.0, 2.0];
/// Bins of each band's histogram, over values in [-1, 1] (luminance differences).
const BINS: usize = 1024;

/// Levels of a [`Detail`]: the images measured at their size, at ½ and at ¼ of it.
pub const LEVELS: usize = 3;

/// The distribution of each detail band's values over a set of images, measured on the images
/// as they are and shrunk to ½ and ¼ of their size: one normalised histogram per level and
/// band of [`BANDS`]. Like [`crate::color::Palette`], details of several images combine by
/// weighted mean, so a dataset streams into one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detail {
    /// `hist[level][band]`: a histogram of `BINS` bins over [-1, 1], summing to 1.
    pub hist: Vec<Vec<Vec<f64>>>,
    /// The long side, in pixels, of the images measured at level 0 (their weighted mean).
    pub long_side: f64,
    /// `finer[k]`: the images measured at 2<sup>k+1</sup> × `long_side`, where they were read
    /// that large ([`Detail::of_read`]): a phone filter's outputs are shrunk for their
    /// statistics, and a result at a phone photo's size takes the filter's detail at that
    /// size from here. Empty for images not read larger, and in older profiles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finer: Vec<Vec<Vec<f64>>>,
}

/// A size counts as read at 2<sup>k</sup> × the measured long side when it is at least this
/// share of it: a phone's 4032 px outputs, measured as they are, give the level at 4096 px
/// (8 × 512).
const FINER_SHARE: f64 = 0.9;

/// The smallest Gaussian σ (pixels) a band may be split at in the image it is matched in.
const FINEST_SIGMA: f32 = 0.5;

fn bin_of(v: f32) -> usize {
    (((v as f64 + 1.0) / 2.0 * BINS as f64) as isize).clamp(0, BINS as isize - 1) as usize
}

/// The detail bands of a `w`×`h` luminance plane, at `scale` × [`BANDS`], and the base below
/// them.
fn split(y: &[f32], w: usize, h: usize, scale: f32) -> (Vec<Vec<f32>>, Vec<f32>) {
    let mut bands = Vec::with_capacity(BANDS.len());
    let mut finer = y.to_vec();
    for &sigma in &BANDS {
        let coarser = blur_plane(y, w, h, sigma * scale);
        bands.push(finer.iter().zip(&coarser).map(|(a, b)| a - b).collect());
        finer = coarser;
    }
    (bands, finer)
}

/// The histograms of `img`'s detail bands at its own size, each pixel counting with its mask
/// value.
fn histograms(img: &Rgb, mask: Option<&[f32]>) -> Vec<Vec<f64>> {
    let n = img.width * img.height;
    let (bands, _) = split(&to_yiq(img)[..n], img.width, img.height, 1.0);
    bands
        .iter()
        .map(|band| {
            let mut h = vec![0.0f64; BINS];
            for (i, &v) in band.iter().enumerate() {
                h[bin_of(v)] += mask.map_or(1.0, |m| m[i] as f64);
            }
            let s: f64 = h.iter().sum();
            if s > 0.0 {
                h.iter_mut().for_each(|v| *v /= s);
            }
            h
        })
        .collect()
}

impl Detail {
    /// The detail of `img`; with a mask (one value in [0, 1] per pixel) only the masked region
    /// counts.
    pub fn of(img: &Rgb, mask: Option<&[f32]>) -> Self {
        let long = img.width.max(img.height);
        let hist = (0..LEVELS)
            .map(|level| {
                let (w, h) = img.size_for_long_side((long >> level).max(1));
                let small = img.resize(w, h);
                let mask = mask.map(|m| resize_mask(m, img.width, img.height, w, h));
                histograms(&small, mask.as_deref())
            })
            .collect();
        Self {
            hist,
            long_side: long as f64,
            finer: Vec::new(),
        }
    }

    /// The detail of `img` (with `mask`) as [`Detail::of`] measures it, and of `full`, the same
    /// image as it was read before it was shrunk to `img`'s size (with `full_mask`), at each
    /// doubling of `img`'s long side that `full` reaches (or 0.9 of it: a size just short of a
    /// doubling counts as it).
    pub fn of_read(img: &Rgb, mask: Option<&[f32]>, full: &Rgb, full_mask: Option<&[f32]>) -> Self {
        let mut d = Self::of(img, mask);
        let full_long = full.width.max(full.height) as f64;
        let mut long = d.long_side * 2.0;
        while full_long >= FINER_SHARE * long {
            // a size just short of the doubling is measured as it is: enlarging it would blur
            // the finest band more than its 10% of scale changes it
            let h = if full_long <= long {
                histograms(full, full_mask)
            } else {
                let (w, h) = full.size_for_long_side(long.round() as usize);
                let mask = full_mask.map(|m| resize_mask(m, full.width, full.height, w, h));
                histograms(&full.resize(w, h), mask.as_deref())
            };
            d.finer.push(h);
            long *= 2.0;
        }
        d
    }

    /// The weighted mean of details (weights need not sum to 1).
    pub fn mix(parts: &[(&Detail, f64)]) -> Option<Self> {
        let total: f64 = parts.iter().map(|(_, w)| w).sum();
        if parts.is_empty() || total <= 0.0 {
            return None;
        }
        let mut hist = vec![vec![vec![0.0f64; BINS]; BANDS.len()]; LEVELS];
        // the finer levels every part has
        let finer_levels = parts.iter().map(|(d, _)| d.finer.len()).min().unwrap_or(0);
        let mut finer = vec![vec![vec![0.0f64; BINS]; BANDS.len()]; finer_levels];
        let mut long_side = 0.0;
        for (d, w) in parts {
            let levels = hist.iter_mut().chain(finer.iter_mut());
            let theirs = d.hist.iter().chain(d.finer.iter());
            for (acc, h) in levels.flatten().zip(theirs.flatten()) {
                for (a, v) in acc.iter_mut().zip(h) {
                    *a += v * w / total;
                }
            }
            long_side += d.long_side * w / total;
        }
        Some(Self {
            hist,
            long_side,
            finer,
        })
    }

    /// How far apart two details are at their images' own size (level 0): the 1-D
    /// Wasserstein distance between each band's distributions (in luminance units), averaged
    /// over the bands.
    pub fn distance(&self, other: &Detail) -> f64 {
        let width = 2.0 / BINS as f64;
        let per_band: f64 = self.hist[0]
            .iter()
            .zip(&other.hist[0])
            .map(|(a, b)| {
                let (mut ca, mut cb, mut d) = (0.0f64, 0.0f64, 0.0f64);
                for (x, y) in a.iter().zip(b) {
                    ca += x;
                    cb += y;
                    d += (ca - cb).abs() * width;
                }
                d
            })
            .sum();
        per_band / BANDS.len() as f64
    }

    /// The level an image of long side `long` takes (negative: `finer[-level - 1]`), and how
    /// much its bands are widened (see [`Detail::apply`]).
    fn level_for(&self, long: f64) -> (isize, f32) {
        let ratio = long / self.long_side;
        let level = (-ratio.log2())
            .round()
            .clamp(-(self.finer.len() as f64), (LEVELS - 1) as f64) as isize;
        (level, (ratio * 2f64.powi(level as i32)) as f32)
    }

    /// The histograms of `level` (see [`Detail::level_for`]).
    fn level(&self, level: isize) -> &[Vec<f64>] {
        match usize::try_from(level) {
            Ok(l) => &self.hist[l],
            Err(_) => &self.finer[(-level - 1) as usize],
        }
    }

    /// The detail a style image carries ([`crate::carried::Carried`]; its `long_side` at the
    /// image's pixel scale), for a result of long side `long` whose style image is used at
    /// long side `used`: the result takes it as the image at that size would. (A style
    /// image's statistics are taken at its pixel scale as used, `--style-scale`.)
    pub fn for_style_used_at(&self, used: f64, long: f64) -> Self {
        Self {
            long_side: long * self.long_side / used,
            ..self.clone()
        }
    }

    /// Checks a detail read from a file: one histogram of the right size per level and band,
    /// of non-negative finite values with some mass, and a size.
    pub fn check(&self) -> anyhow::Result<()> {
        let ok = self.long_side.is_finite()
            && self.long_side >= 1.0
            && self.hist.len() == LEVELS
            && self.hist.iter().chain(&self.finer).all(|level| {
                level.len() == BANDS.len() && level.iter().all(|h| is_histogram(h, BINS))
            });
        anyhow::ensure!(
            ok,
            "its detail distribution is not {LEVELS} (and any finer) levels of {} histograms of {BINS} non-negative bins with a size",
            BANDS.len()
        );
        Ok(())
    }

    /// `img` with each detail band of its luminance given this distribution (exact matching
    /// by rank, `match_quantiles`), the base below the bands and the chroma kept; values
    /// are clipped to [0, 1].
    ///
    /// The distribution is the one measured at the size nearest to `img`'s relative to the
    /// measured images (their own, ½ or ¼, or a doubling they were read at), its bands widened
    /// or narrowed by what remains of
    /// the ratio: so a result half the dataset's size takes the detail of the dataset shrunk
    /// to half, as the filter's output shrunk to that size would have. An image less than ⅛
    /// of the measured size is returned as it is (clipped): that detail is finer than its
    /// pixels.
    pub fn apply(&self, img: &Rgb) -> Rgb {
        let (w, h) = (img.width, img.height);
        let n = w * h;
        let (level, scale) = self.level_for(w.max(h) as f64);
        if BANDS[0] * scale < FINEST_SIGMA {
            let clipped = img.data.iter().map(|v| v.clamp(0.0, 1.0)).collect();
            return Rgb::from_planar(w, h, clipped);
        }
        let (bands, mut y) = split(&to_yiq(img)[..n], w, h, scale);
        for (mut band, hist) in bands.into_iter().zip(self.level(level)) {
            let cdf = Cdf::new(hist, -1.0, 2.0 / BINS as f64);
            match_quantiles(&mut band, |p| cdf.quantile(p));
            for (v, b) in y.iter_mut().zip(&band) {
                *v += b;
            }
        }
        let out = with_chroma(&grey(w, h, &y), img);
        Rgb::from_planar(w, h, out.data.iter().map(|v| v.clamp(0.0, 1.0)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::Detail;
    use crate::color::to_yiq;
    use crate::image_io::{Rgb, noise};

    /// A smooth diagonal gradient, `w`×`h`, with a hard-edged square in the middle.
    fn flat_shapes(w: usize, h: usize) -> Rgb {
        let n = w * h;
        let mut data = vec![0.0f32; 3 * n];
        for y in 0..h {
            for x in 0..w {
                let inside = x > w / 4 && x < 3 * w / 4 && y > h / 4 && y < 3 * h / 4;
                let v = if inside {
                    0.8
                } else {
                    0.2 + 0.2 * (x + y) as f32 / (w + h) as f32
                };
                for c in 0..3 {
                    data[c * n + y * w + x] = v * (0.9 + 0.1 * c as f32);
                }
            }
        }
        Rgb::from_planar(w, h, data)
    }

    /// `a` and `b` mixed pixel by pixel: `t·a + (1 − t)·b`.
    fn blend(a: &Rgb, b: &Rgb, t: f32) -> Rgb {
        let data = a
            .data
            .iter()
            .zip(&b.data)
            .map(|(x, y)| t * x + (1.0 - t) * y)
            .collect();
        Rgb::from_planar(a.width, a.height, data)
    }

    #[test]
    fn matching_takes_the_style_s_detail_and_keeps_the_coarse_image() {
        let (w, h) = (64, 48);
        let shapes = flat_shapes(w, h);
        let grainy = blend(&noise(w, h, 3), &shapes, 0.3);
        // A flat style's detail removes the grain; a grainy style's puts it back. (Measured
        // again on the result the bands are not exactly the matched ones: the finer band's
        // change leaks into the next when the result is split again.)
        let (flat_d, grainy_d) = (Detail::of(&shapes, None), Detail::of(&grainy, None));
        let flattened = flat_d.apply(&grainy);
        // (An optimised image has no exactly flat regions; exact ties, as in `shapes`, would
        // stay tied.)
        let faint = blend(&noise(w, h, 4), &shapes, 0.02);
        let grained = grainy_d.apply(&faint);
        let before = flat_d.distance(&grainy_d);
        for (img, want) in [(&flattened, &flat_d), (&grained, &grainy_d)] {
            let after = Detail::of(img, None).distance(want);
            assert!(after < before / 3.0, "distance {after}, before {before}");
        }
        // Below the bands the image is the one it was: the mean luminance of each 16×16 block.
        let block_means = |img: &Rgb| -> Vec<f32> {
            let y = &to_yiq(img)[..w * h];
            (0..(w / 16) * (h / 16))
                .map(|b| {
                    let (bx, by) = (b % (w / 16) * 16, b / (w / 16) * 16);
                    (0..256)
                        .map(|i| y[(by + i / 16) * w + bx + i % 16])
                        .sum::<f32>()
                        / 256.0
                })
                .collect()
        };
        for (a, b) in block_means(&grainy).iter().zip(block_means(&flattened)) {
            assert!((a - b).abs() < 0.03, "block mean {a} became {b}");
        }
    }

    #[test]
    fn a_smaller_image_takes_the_detail_of_the_style_shrunk_to_its_size() {
        let grainy = blend(&noise(64, 64, 5), &flat_shapes(64, 64), 0.3);
        let detail = Detail::of(&grainy, None);
        assert_eq!(detail.long_side, 64.0);
        // What the style's images look like at half their size is what a result at half the
        // size takes (the grain, averaged, is fainter), not their detail at full size.
        let truth = Detail::of(&grainy.resize(32, 32), None);
        let small = blend(&noise(32, 32, 6), &flat_shapes(32, 32), 0.02);
        let before = Detail::of(&small, None).distance(&truth);
        let after = Detail::of(&detail.apply(&small), None).distance(&truth);
        let mut full_size = detail.clone();
        full_size.long_side = 32.0;
        let unscaled = Detail::of(&full_size.apply(&small), None).distance(&truth);
        assert!(
            after < before / 3.0 && after < unscaled / 2.0,
            "distance to the shrunk style's: {after}, before {before}, unscaled {unscaled}"
        );
        // Below ⅛ of the size the detail is finer than a pixel: the image stays as it is.
        let tiny = blend(&noise(7, 7, 7), &flat_shapes(7, 7), 0.5);
        assert_eq!(detail.apply(&tiny).data, tiny.data);
    }

    #[test]
    fn a_result_larger_than_the_measured_images_takes_their_detail_as_read_at_its_size() {
        // A phone filter's outputs are shrunk for their statistics; its 1-px grain is averaged
        // away there. A result at the outputs' own size takes the grain they were read with.
        let full = blend(&noise(128, 96, 8), &flat_shapes(128, 96), 0.3);
        let read = full.resize(32, 24);
        let d = Detail::of_read(&read, None, &full, None);
        assert_eq!(d.finer.len(), 2, "levels at 64 and 128 px");
        assert_eq!(d.hist, Detail::of(&read, None).hist);
        assert_eq!(d.finer[0], Detail::of(&full.resize(64, 48), None).hist[0]);
        assert_eq!(d.finer[1], Detail::of(&full, None).hist[0]);
        d.check().expect("a valid detail");
        let truth = Detail::of(&full, None);
        let faint = blend(&noise(128, 96, 9), &flat_shapes(128, 96), 0.02);
        let with_finer = Detail::of(&d.apply(&faint), None).distance(&truth);
        let as_read = Detail::of(&Detail::of(&read, None).apply(&faint), None).distance(&truth);
        assert!(
            with_finer < as_read / 3.0,
            "distance to the outputs' own detail: {with_finer}, from the shrunk ones' {as_read}"
        );
        // At the read size nothing changes.
        let small = blend(&noise(32, 24, 10), &flat_shapes(32, 24), 0.1);
        assert_eq!(d.apply(&small), Detail::of(&read, None).apply(&small));
        // 120 px counts as read at 128 px; 110 px does not.
        let near_full = full.resize(120, 90);
        let near = Detail::of_read(&read, None, &near_full, None);
        assert_eq!(near.finer.len(), 2);
        // (measured as it is, not enlarged)
        assert_eq!(near.finer[1], Detail::of(&near_full, None).hist[0]);
        let short = Detail::of_read(&read, None, &full.resize(110, 82), None);
        assert_eq!(short.finer.len(), 1);
        // Mixed, only the finer levels every part has; a damaged finer level is refused.
        let mixed = Detail::mix(&[(&d, 1.0), (&short, 1.0)]).expect("two parts");
        assert_eq!(mixed.finer.len(), 1);
        for (k, h) in mixed.finer[0].iter().enumerate() {
            for (i, v) in h.iter().enumerate() {
                let want = 0.5 * d.finer[0][k][i] + 0.5 * short.finer[0][k][i];
                assert!((v - want).abs() < 1e-12);
            }
        }
        let mut bad = d.clone();
        bad.finer[1][0].pop();
        assert!(bad.check().is_err());
        // A detail written before finer levels existed reads with none.
        let mut json = serde_json::to_value(Detail::of(&read, None)).unwrap();
        assert!(json.get("finer").is_none());
        json.as_object_mut().unwrap().remove("finer");
        let old: Detail = serde_json::from_value(json).unwrap();
        assert!(old.finer.is_empty());
        let back: Detail = serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn a_carried_detail_is_taken_at_the_scale_its_image_is_used_at() {
        let d = Detail::of(&flat_shapes(96, 64), None);
        for (used, long) in [
            (96.0, 96.0),
            (48.0, 64.0),
            (24.0, 200.0),
            (96.0, 48.0),
            (30.0, 30.0),
        ] {
            let (level, scale) = d.level_for(used);
            let (l, s) = d.for_style_used_at(used, long).level_for(long);
            assert_eq!(l, level, "used at {used}, result {long}");
            assert!(
                (s - scale).abs() < 1e-5,
                "used at {used}: scale {s}, want {scale}"
            );
        }
    }

    #[test]
    fn an_image_s_own_detail_leaves_it_as_it_is() {
        let img = blend(&noise(40, 30, 1), &flat_shapes(40, 30), 0.5);
        let out = Detail::of(&img, None).apply(&img);
        let worst = img.max_abs_diff(&out);
        assert!(worst < 2.0 / 255.0, "changed by up to {worst}");
    }

    #[test]
    fn details_mix_by_weight_and_masks_select_pixels() {
        let (w, h) = (32, 32);
        let flat = Detail::of(&flat_shapes(w, h), None);
        let grainy = Detail::of(&noise(w, h, 2), None);
        let mut grainy = grainy;
        grainy.long_side = 64.0;
        let mixed = Detail::mix(&[(&flat, 3.0), (&grainy, 1.0)]).expect("two parts");
        assert_eq!(mixed.long_side, 0.75 * 32.0 + 0.25 * 64.0);
        for (l, level) in mixed.hist.iter().enumerate() {
            for (k, h) in level.iter().enumerate() {
                for (i, v) in h.iter().enumerate() {
                    let want = 0.75 * flat.hist[l][k][i] + 0.25 * grainy.hist[l][k][i];
                    assert!((v - want).abs() < 1e-12);
                }
            }
        }
        assert!(Detail::mix(&[]).is_none());
        // A mask that keeps only the noisy left half sees noise only.
        let half = blend(&noise(w, h, 2), &flat_shapes(w, h), 1.0);
        let mut img = flat_shapes(w, h);
        let mut mask = vec![0.0f32; w * h];
        for y in 0..h {
            for x in 4..w / 2 - 4 {
                mask[y * w + x] = 1.0;
                for c in 0..3 {
                    img.data[c * w * h + y * w + x] = half.data[c * w * h + y * w + x];
                }
            }
        }
        let spread = |d: &Detail| {
            let h = &d.hist[0][0];
            h.iter()
                .enumerate()
                .map(|(i, v)| v * (i as f64 - 512.0).abs())
                .sum::<f64>()
        };
        let masked = Detail::of(&img, Some(&mask));
        assert!(spread(&masked) > 1.5 * spread(&Detail::of(&img, None)));
        masked.check().expect("a valid detail");
        let mut bad = masked.clone();
        bad.hist[1][0].pop();
        assert!(bad.check().is_err());
    }
}
