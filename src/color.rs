//! Colour: luminance-only transfer (Gatys et al. 2016, "Preserving colour in neural artistic
//! style transfer"): the style is transferred on luminance and the result keeps the content's
//! chroma (YIQ colour space) and, here, its distribution of tones ([`recolour`]). And the
//! opposite: a style's colour distribution
//! ([`Palette`]: weighted histograms of CIE Lab L, a and b) and mapping a photo onto it
//! (per-channel histogram matching), so a transfer can start from the style's palette. And in
//! between, [`Palette::adapt`]: the photo's own colours, moved only as far as the style's
//! images agree (their lightness, colourfulness, and black and white points, [`Levels`]).
use serde::{Deserialize, Serialize};

use crate::image_io::Rgb;

/// sRGB in [0, 1] (clamped) to CIE Lab under D65.
pub fn srgb_to_lab(rgb: [f32; 3]) -> [f64; 3] {
    let lin = rgb.map(|v| {
        let v = (v as f64).clamp(0.0, 1.0);
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    });
    let [r, g, b] = lin;
    let x = 0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * b;
    let y = 0.212_672_9 * r + 0.715_152_2 * g + 0.072_175_0 * b;
    let z = 0.019_333_9 * r + 0.119_192_0 * g + 0.950_304_1 * b;
    let f = |t: f64| {
        const D: f64 = 6.0 / 29.0;
        if t > D * D * D {
            t.cbrt()
        } else {
            t / (3.0 * D * D) + 4.0 / 29.0
        }
    };
    let (fx, fy, fz) = (f(x / 0.950_47), f(y), f(z / 1.088_83));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// CIE Lab (D65) to sRGB in [0, 1] (clamped): the inverse of [`srgb_to_lab`].
pub fn lab_to_srgb(lab: [f64; 3]) -> [f32; 3] {
    let fy = (lab[0] + 16.0) / 116.0;
    let fx = fy + lab[1] / 500.0;
    let fz = fy - lab[2] / 200.0;
    let finv = |t: f64| {
        const D: f64 = 6.0 / 29.0;
        if t > D {
            t * t * t
        } else {
            3.0 * D * D * (t - 4.0 / 29.0)
        }
    };
    let (x, y, z) = (finv(fx) * 0.950_47, finv(fy), finv(fz) * 1.088_83);
    let r = 3.240_454_2 * x - 1.537_138_5 * y - 0.498_531_4 * z;
    let g = -0.969_266_0 * x + 1.876_010_8 * y + 0.041_556_0 * z;
    let b = 0.055_643_4 * x - 0.204_025_9 * y + 1.057_225_2 * z;
    [r, g, b].map(|v| {
        let v = v.clamp(0.0, 1.0);
        let s = if v <= 0.003_130_8 {
            12.92 * v
        } else {
            1.055 * v.powf(1.0 / 2.4) - 0.055
        };
        s as f32
    })
}

/// Bins per Lab channel in a [`Palette`].
const PALETTE_BINS: usize = 256;
/// Range of each Lab channel: L in [0, 100], a and b in [-128, 128].
const LAB_RANGE: [(f64, f64); 3] = [(0.0, 100.0), (-128.0, 128.0), (-128.0, 128.0)];

/// A colour distribution: one normalised histogram per CIE Lab channel. Palettes of several
/// images combine by weighted mean, so a dataset streams into one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Palette {
    /// `[L, a, b]` histograms of `PALETTE_BINS` (256) bins, each summing to 1.
    pub hist: [Vec<f64>; 3],
    /// How the images' mean lightness and colourfulness vary from one image to the next
    /// (palettes mixed from two or more images; absent in older profiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<ColourSpread>,
    /// The darkest and brightest the images get, per sRGB channel. Absent in older profiles,
    /// and for masked regions: a region (a sky, a face) need not reach black or white, so
    /// its levels tell nothing about the filter's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<Levels>,
    /// The images' shared darkening toward the corners, when they have one
    /// ([`crate::vignette`]): the rest of the palette is then measured without it, and
    /// [`Palette::adapt`] gives it to the photo. Absent in older profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vignette: Option<crate::vignette::Vignette>,
}

/// A set of images' black and white points: per sRGB channel, the darkest and the brightest
/// any of them gets. Each image is first blurred by [`LEVELS_BLUR`] pixels, so film grain or
/// paper noise does not count, and its [`LEVELS_QUANTILE`] and 1 − [`LEVELS_QUANTILE`]
/// quantiles are taken, so a few stray pixels do not either; a mixture keeps the lowest black
/// and the highest white.
///
/// Natural photos, a dozen of them, reach pure black and white within [`LEVELS_TOLERANCE`] in
/// every channel. A filter that lifts its blacks (faded film) or lowers and tints its whites
/// keeps all its outputs away from them, whatever the photo, so [`Palette::adapt`] maps a new
/// photo's channels into that range: no pair of photo and output is needed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Levels {
    pub black: [f64; 3],
    pub white: [f64; 3],
}

/// Gaussian blur (pixels) before an image's [`Levels`] are read.
pub const LEVELS_BLUR: f32 = 1.5;
/// The share of an image's pixels allowed below its black point (and above its white point).
pub const LEVELS_QUANTILE: f64 = 0.005;
/// How far from pure black and white a set of natural photos' [`Levels`] may stay. Measured
/// (`LEVELS_BLUR`, `LEVELS_QUANTILE`) on the benchmark's 16 photos before any filter: the 12
/// training photos reach 0.000 and 0.961 (green), the 4 held-out ones 0.009 and 0.982 (red).
/// Only what lies beyond this counts as the filter's.
pub const LEVELS_TOLERANCE: f64 = 0.04;
/// The fewest images whose [`Levels`] [`Palette::adapt`] believes. Few photos need not reach
/// black or white at all: in random subsets of the benchmark's 16 photos the levels stay
/// beyond [`LEVELS_TOLERANCE`] by 0.052 on average with 4 photos, 0.009 with 8, 0.001 with 12.
pub const LEVELS_MIN_IMAGES: usize = 8;

impl Levels {
    /// The levels of `img` (pure black and white, which change nothing, for an empty image).
    pub fn of(img: &Rgb) -> Self {
        let (w, h) = (img.width, img.height);
        let n = w * h;
        let mut black = [0.0; 3];
        let mut white = [1.0; 3];
        for c in (0..3).filter(|_| n > 0) {
            let mut v = blur_plane(&img.data[c * n..(c + 1) * n], w, h, LEVELS_BLUR);
            v.sort_by(f32::total_cmp);
            let at = |q: f64| v[(q * (v.len() - 1) as f64).round() as usize] as f64;
            black[c] = at(LEVELS_QUANTILE).clamp(0.0, 1.0);
            white[c] = at(1.0 - LEVELS_QUANTILE).clamp(0.0, 1.0);
        }
        Self { black, white }
    }

    /// The lowest black and highest white of several images' levels.
    fn mix<'a>(all: impl IntoIterator<Item = &'a Levels>) -> Self {
        all.into_iter().fold(
            Self {
                black: [1.0; 3],
                white: [0.0; 3],
            },
            |acc, l| Self {
                black: [0, 1, 2].map(|c| acc.black[c].min(l.black[c])),
                white: [0, 1, 2].map(|c| acc.white[c].max(l.white[c])),
            },
        )
    }

    /// `img` with each channel mapped linearly from [0, 1] onto these levels widened by
    /// [`LEVELS_TOLERANCE`] (black and white points within it of 0 and 1 change nothing).
    pub fn apply(&self, img: &Rgb) -> Rgb {
        let n = img.width * img.height;
        let mut out = img.clone();
        for c in 0..3 {
            let lo = (self.black[c] - LEVELS_TOLERANCE).max(0.0) as f32;
            let hi = (self.white[c] + LEVELS_TOLERANCE).min(1.0) as f32;
            if hi <= lo {
                continue;
            }
            for v in &mut out.data[c * n..(c + 1) * n] {
                *v = lo + v.clamp(0.0, 1.0) * (hi - lo);
            }
        }
        out
    }
}

/// Between-image statistics of a set of images' colours, for [`Palette::adapt`]: the weighted
/// mean and standard deviation, over the images, of each image's mean CIE L and RMS chroma
/// √(a² + b²).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColourSpread {
    pub lightness: f64,
    pub lightness_sd: f64,
    pub chroma: f64,
    pub chroma_sd: f64,
    pub images: usize,
}

/// How much natural photos' mean CIE L and RMS chroma vary from one photo to the next (standard
/// deviations). A dataset whose images vary as much as this tells nothing about the filter's
/// lightness or colourfulness (it keeps the photo's); one that varies much less shows the
/// filter imposing its own. Round values between what scikit-image's colour sample images give
/// (20 and 18, including synthetic ones) and the spread of the benchmark's three tuned,
/// colour-keeping filters' training outputs (12–14 and 13–23).
pub const PHOTO_LIGHTNESS_SD: f64 = 15.0;
pub const PHOTO_CHROMA_SD: f64 = 15.0;

fn bin_of(v: f64, c: usize) -> usize {
    let (lo, hi) = LAB_RANGE[c];
    (((v - lo) / (hi - lo) * PALETTE_BINS as f64) as isize).clamp(0, PALETTE_BINS as isize - 1)
        as usize
}

impl Palette {
    /// The palette of `img`; with a mask (one value in [0, 1] per pixel) only the masked
    /// region counts.
    pub fn of(img: &Rgb, mask: Option<&[f32]>) -> Self {
        let n = img.width * img.height;
        let mut hist = [0, 1, 2].map(|_| vec![0.0f64; PALETTE_BINS]);
        for i in 0..n {
            let w = mask.map_or(1.0, |m| m[i] as f64);
            if w <= 0.0 {
                continue;
            }
            let lab = srgb_to_lab([img.data[i], img.data[n + i], img.data[2 * n + i]]);
            for c in 0..3 {
                hist[c][bin_of(lab[c], c)] += w;
            }
        }
        for h in &mut hist {
            let s: f64 = h.iter().sum();
            if s > 0.0 {
                h.iter_mut().for_each(|v| *v /= s);
            }
        }
        Self {
            hist,
            spread: None,
            levels: mask.is_none().then(|| Levels::of(img)),
            vignette: None,
        }
    }

    /// Checks a palette read from a file: three histograms of `PALETTE_BINS` (256) non-negative
    /// finite bins with some mass, a finite spread, black and white points within [0, 1] and a
    /// vignette within its bounds.
    pub fn check(&self) -> anyhow::Result<()> {
        let hist = self.hist.iter().all(|h| is_histogram(h, PALETTE_BINS));
        let spread = self.spread.as_ref().is_none_or(|s| {
            [s.lightness, s.lightness_sd, s.chroma, s.chroma_sd]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0)
        });
        let levels = self.levels.as_ref().is_none_or(|l| {
            l.black
                .iter()
                .chain(&l.white)
                .all(|v| (0.0..=1.0).contains(v))
        });
        anyhow::ensure!(
            hist && spread && levels,
            "its colour distribution is not 3 histograms of {PALETTE_BINS} non-negative bins \
             with a finite spread and black and white points within [0, 1]"
        );
        self.vignette.as_ref().map_or(Ok(()), |v| v.check())
    }

    /// Mean L and RMS chroma √(E\[a²\] + E\[b²\]) of this distribution (from the bin centres).
    pub fn moments(&self) -> (f64, f64) {
        let centre = |c: usize, i: usize| {
            let (lo, hi) = LAB_RANGE[c];
            lo + (i as f64 + 0.5) * (hi - lo) / PALETTE_BINS as f64
        };
        let lightness = self.hist[0]
            .iter()
            .enumerate()
            .map(|(i, v)| v * centre(0, i))
            .sum();
        let sq: f64 = (1..3)
            .map(|c| {
                self.hist[c]
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v * centre(c, i).powi(2))
                    .sum::<f64>()
            })
            .sum();
        (lightness, sq.sqrt())
    }

    /// Several datasets' palettes pooled, as one palette of all their images (weights need
    /// not sum to 1; each dataset's images count by its weight): the histograms' weighted
    /// mean; the spread of the pooled images (each dataset's own spread plus how far its mean
    /// lies from the pooled mean, the law of total variance), when every dataset records
    /// one; the lowest black and highest white, when every dataset records them; and the
    /// vignette they share, if they all have the same. One palette is returned as it is.
    pub fn pool(parts: &[(&Palette, f64)]) -> Option<Self> {
        if let [(one, w)] = parts
            && *w > 0.0
        {
            return Some((*one).clone());
        }
        let total: f64 = parts.iter().map(|(_, w)| w).sum();
        let mixed = Self::mix(parts)?;
        let spread = parts
            .iter()
            .map(|(p, w)| p.spread.as_ref().map(|s| (s, w / total)))
            .collect::<Option<Vec<_>>>()
            .map(|all| {
                let pooled = |mean: fn(&ColourSpread) -> f64, sd: fn(&ColourSpread) -> f64| {
                    let m: f64 = all.iter().map(|(s, w)| w * mean(s)).sum();
                    let var: f64 = all
                        .iter()
                        .map(|(s, w)| w * (sd(s).powi(2) + (mean(s) - m).powi(2)))
                        .sum();
                    (m, var.sqrt())
                };
                let (lightness, lightness_sd) = pooled(|s| s.lightness, |s| s.lightness_sd);
                let (chroma, chroma_sd) = pooled(|s| s.chroma, |s| s.chroma_sd);
                ColourSpread {
                    lightness,
                    lightness_sd,
                    chroma,
                    chroma_sd,
                    images: all.iter().map(|(s, _)| s.images).sum(),
                }
            });
        let vignette = parts[0]
            .0
            .vignette
            .clone()
            .filter(|v| parts.iter().all(|(p, _)| p.vignette.as_ref() == Some(v)));
        Some(Self {
            spread,
            vignette,
            ..mixed
        })
    }

    /// The weighted mean of palettes (weights need not sum to 1).
    pub fn mix(parts: &[(&Palette, f64)]) -> Option<Self> {
        let total: f64 = parts.iter().map(|(_, w)| w).sum();
        if parts.is_empty() || total <= 0.0 {
            return None;
        }
        let mut hist = [0, 1, 2].map(|_| vec![0.0f64; PALETTE_BINS]);
        for (p, w) in parts {
            for c in 0..3 {
                for (acc, v) in hist[c].iter_mut().zip(&p.hist[c]) {
                    *acc += v * w / total;
                }
            }
        }
        let spread = (parts.len() >= 2).then(|| {
            let n = parts.len() as f64;
            let moments: Vec<((f64, f64), f64)> = parts
                .iter()
                .map(|(p, w)| (p.moments(), w / total))
                .collect();
            let stat = |pick: fn(&(f64, f64)) -> f64| {
                let mean: f64 = moments.iter().map(|(m, w)| w * pick(m)).sum();
                let var: f64 = moments
                    .iter()
                    .map(|(m, w)| w * (pick(m) - mean).powi(2))
                    .sum::<f64>()
                    * n
                    / (n - 1.0);
                (mean, var.sqrt())
            };
            let (lightness, lightness_sd) = stat(|m| m.0);
            let (chroma, chroma_sd) = stat(|m| m.1);
            ColourSpread {
                lightness,
                lightness_sd,
                chroma,
                chroma_sd,
                images: parts.len(),
            }
        });
        let levels = parts
            .iter()
            .map(|(p, _)| p.levels.as_ref())
            .collect::<Option<Vec<_>>>()
            .map(Levels::mix);
        Some(Self {
            hist,
            spread,
            levels,
            vignette: None,
        })
    }

    /// `img` with its mean lightness and its colourfulness moved toward this palette's images'
    /// as far as those images agree with each other: the evidence that a filter imposes its
    /// own lightness or colourfulness rather than keeping the photo's.
    ///
    /// For each of mean CIE L (shifted) and RMS chroma (scaled, hues kept), the target is
    /// `w·photo + (1 − w)·dataset` with `w = min(1, (dataset's spread / natural photos'
    /// spread)²)` ([`PHOTO_LIGHTNESS_SD`], [`PHOTO_CHROMA_SD`]): a shrinkage estimate. A pencil
    /// filter's outputs, all near-white paper with little colour, have a small spread: the
    /// photo moves almost all the way. A colour grade's outputs vary like photos: the photo
    /// stays as it is. Without a spread (one image, or an older profile) `img` is returned.
    ///
    /// Before that, with [`LEVELS_MIN_IMAGES`] or more images, `img`'s channels are mapped into
    /// the images' black and white points ([`Levels::apply`]): a colour grade's faded, tinted
    /// blacks and lowered whites, which a photo's own colours would not show. After it, when
    /// the images share a vignette, `img` is darkened toward its corners like them
    /// ([`crate::vignette`]; the rest of this palette was measured without it).
    pub fn adapt(&self, img: &Rgb) -> Rgb {
        let Some(sp) = &self.spread else {
            return img.clone();
        };
        let levelled;
        let img = match &self.levels {
            Some(l) if sp.images >= LEVELS_MIN_IMAGES => {
                levelled = l.apply(img);
                &levelled
            }
            _ => img,
        };
        let n = img.width * img.height;
        let mut labs: Vec<[f64; 3]> = (0..n)
            .map(|i| srgb_to_lab([img.data[i], img.data[n + i], img.data[2 * n + i]]))
            .collect();
        let nf = n.max(1) as f64;
        let own_l = labs.iter().map(|p| p[0]).sum::<f64>() / nf;
        let own_c = (labs.iter().map(|p| p[1] * p[1] + p[2] * p[2]).sum::<f64>() / nf).sqrt();
        let keep = |sd: f64, prior: f64| (sd / prior).powi(2).min(1.0);
        let (wl, wc) = (
            keep(sp.lightness_sd, PHOTO_LIGHTNESS_SD),
            keep(sp.chroma_sd, PHOTO_CHROMA_SD),
        );
        let shift = (wl * own_l + (1.0 - wl) * sp.lightness) - own_l;
        let gain = (wc * own_c + (1.0 - wc) * sp.chroma) / own_c.max(1e-6);
        let mut data = vec![0.0f32; 3 * n];
        for (i, p) in labs.iter_mut().enumerate() {
            let rgb = lab_to_srgb([(p[0] + shift).clamp(0.0, 100.0), p[1] * gain, p[2] * gain]);
            for c in 0..3 {
                data[c * n + i] = rgb[c];
            }
        }
        let adapted = Rgb::from_planar(img.width, img.height, data);
        match &self.vignette {
            Some(v) => v.apply(&adapted),
            None => adapted,
        }
    }

    /// `img` with each Lab channel's distribution mapped onto this palette's (histogram
    /// matching: a pixel at quantile q of the image's channel moves to quantile q of the
    /// palette's). Structure and shading order are kept; the colours become the style's.
    pub fn apply(&self, img: &Rgb) -> Rgb {
        let n = img.width * img.height;
        let labs: Vec<[f64; 3]> = (0..n)
            .map(|i| srgb_to_lab([img.data[i], img.data[n + i], img.data[2 * n + i]]))
            .collect();
        let own = Palette::of(img, None);
        // Per channel: the palette's distribution and the image's.
        let cdfs: Vec<(Cdf, Cdf)> = (0..3)
            .map(|c| {
                let (lo, hi) = LAB_RANGE[c];
                let width = (hi - lo) / PALETTE_BINS as f64;
                (
                    Cdf::new(&self.hist[c], lo, width),
                    Cdf::new(&own.hist[c], lo, width),
                )
            })
            .collect();
        let map = |v: f64, c: usize| -> f64 {
            let (target, source) = &cdfs[c];
            let b = bin_of(v, c);
            // The pixel's quantile in the image, interpolated within its bin.
            let frac = ((v - source.lo) / source.width - b as f64).clamp(0.0, 1.0);
            let q = source.below(b) + frac * own.hist[c][b];
            // The palette's value at that quantile.
            target.quantile(q)
        };
        let mut out = vec![0.0f32; 3 * n];
        for (i, lab) in labs.iter().enumerate() {
            let rgb = lab_to_srgb([map(lab[0], 0), map(lab[1], 1), map(lab[2], 2)]);
            for c in 0..3 {
                out[c * n + i] = rgb[c];
            }
        }
        Rgb::from_planar(img.width, img.height, out)
    }
}

/// Whether `h`, read from a file, is a histogram of `bins` non-negative finite bins with some
/// mass.
pub(crate) fn is_histogram(h: &[f64], bins: usize) -> bool {
    h.len() == bins && h.iter().all(|v| v.is_finite() && *v >= 0.0) && h.iter().sum::<f64>() > 0.0
}

/// A normalised histogram of bins `width` wide from `lo`, with its cumulative sums, read at
/// quantiles.
pub(crate) struct Cdf<'a> {
    hist: &'a [f64],
    cum: Vec<f64>,
    lo: f64,
    width: f64,
}

impl<'a> Cdf<'a> {
    pub(crate) fn new(hist: &'a [f64], lo: f64, width: f64) -> Self {
        let cum = hist
            .iter()
            .scan(0.0, |s, v| {
                *s += v;
                Some(*s)
            })
            .collect();
        Self {
            hist,
            cum,
            lo,
            width,
        }
    }

    /// The mass of the bins below bin `b`.
    pub(crate) fn below(&self, b: usize) -> f64 {
        if b == 0 { 0.0 } else { self.cum[b - 1] }
    }

    /// The value at quantile `p`: the bin where the cumulative sum reaches `p`, interpolated
    /// within it (the middle of an empty bin).
    pub(crate) fn quantile(&self, p: f64) -> f64 {
        let j = self
            .cum
            .partition_point(|&c| c < p)
            .min(self.hist.len() - 1);
        let inside = if self.hist[j] > 0.0 {
            ((p - self.below(j)) / self.hist[j]).clamp(0.0, 1.0)
        } else {
            0.5
        };
        self.lo + (j as f64 + inside) * self.width
    }
}

const TO_YIQ: [[f32; 3]; 3] = [
    [0.299, 0.587, 0.114],
    [0.595_716, -0.274_453, -0.321_263],
    [0.211_456, -0.522_591, 0.311_135],
];
const FROM_YIQ: [[f32; 3]; 3] = [
    [1.0, 0.956_3, 0.621_0],
    [1.0, -0.272_1, -0.647_4],
    [1.0, -1.107_0, 1.704_6],
];

fn mat(m: &[[f32; 3]; 3], img: &Rgb) -> Vec<f32> {
    let n = img.width * img.height;
    let mut out = vec![0.0; 3 * n];
    for i in 0..n {
        let p = [img.data[i], img.data[n + i], img.data[2 * n + i]];
        for r in 0..3 {
            out[r * n + i] = m[r][0] * p[0] + m[r][1] * p[1] + m[r][2] * p[2];
        }
    }
    out
}

/// The YIQ planes of an image.
pub fn to_yiq(img: &Rgb) -> Vec<f32> {
    mat(&TO_YIQ, img)
}

/// Luminance as a grey RGB image, optionally matched in mean and standard deviation to
/// `like`'s luminance (as the paper does for the style image).
pub fn luminance(img: &Rgb, like: Option<&Rgb>) -> Rgb {
    let n = img.width * img.height;
    let mut y: Vec<f32> = to_yiq(img)[..n].to_vec();
    if let Some(like) = like {
        let ly = &to_yiq(like)[..like.width * like.height];
        let (m0, s0) = mean_std(&y);
        let (m1, s1) = mean_std(ly);
        for v in &mut y {
            *v = (*v - m0) / s0.max(1e-6) * s1 + m1;
        }
    }
    grey(img.width, img.height, &y)
}

/// A grey image whose three channels are the plane `y`.
pub(crate) fn grey(width: usize, height: usize, y: &[f32]) -> Rgb {
    Rgb::from_planar(width, height, y.repeat(3))
}

/// Combines the luminance of `luma` (grey or colour) with the chroma (I, Q) of `chroma`.
pub fn with_chroma(luma: &Rgb, chroma: &Rgb) -> Rgb {
    assert_eq!((luma.width, luma.height), (chroma.width, chroma.height));
    let n = luma.width * luma.height;
    let mut yiq = to_yiq(chroma);
    yiq[..n].copy_from_slice(&to_yiq(luma)[..n]);
    let tmp = Rgb::from_planar(luma.width, luma.height, yiq);
    Rgb::from_planar(luma.width, luma.height, mat(&FROM_YIQ, &tmp))
}

/// `values` with their distribution replaced by `like`'s, keeping their order (exact
/// histogram matching by rank): the value of rank r among n takes `like`'s quantile
/// (r + ½)/n, interpolated. Equal values stay equal (a tie takes the mean of its quantiles),
/// so a flat region stays flat.
pub fn match_distribution(values: &mut [f32], like: &[f32]) {
    if like.is_empty() {
        return;
    }
    let mut sorted_like = like.to_vec();
    sorted_like.sort_unstable_by(f32::total_cmp);
    let m = sorted_like.len();
    match_quantiles(values, |p| {
        let t = (p * m as f64 - 0.5).clamp(0.0, (m - 1) as f64);
        let (i, f) = (t.floor() as usize, t.fract());
        let hi = sorted_like[(i + 1).min(m - 1)] as f64;
        sorted_like[i] as f64 * (1.0 - f) + hi * f
    });
}

/// `values` with their distribution replaced by the one whose quantile function is `quantile`
/// (p in (0, 1) → value), keeping their order: the value of rank r among n takes
/// `quantile((r + ½)/n)`. Equal values stay equal (a tie takes the mean of its quantiles).
pub(crate) fn match_quantiles(values: &mut [f32], quantile: impl Fn(f64) -> f64) {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| values[a].total_cmp(&values[b]));
    let at_rank = |r: usize| quantile((r as f64 + 0.5) / n as f64);
    let mut start = 0;
    while start < n {
        let v = values[order[start]];
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| values[i] == v)
                .count();
        let mean = (start..end).map(at_rank).sum::<f64>() / (end - start) as f64;
        for &i in &order[start..end] {
            values[i] = mean as f32;
        }
        start = end;
    }
}

/// The σ (pixels) above which [`blur_plane`] approximates the Gaussian by three box blurs,
/// whose cost does not grow with σ. A full-size result's tones are blurred at σ = 63 px
/// (4032 px / 64), where the exact kernel's 380 taps made the blurs most of its finish's time.
/// Up to a 512 px result (σ = 8) every blur is exact.
pub(crate) const EXACT_BLUR_MAX_SIGMA: f32 = 8.0;

/// A Gaussian blur of one plane of `w`×`h` values, `sigma` pixels (the image crate's): exact
/// up to [`EXACT_BLUR_MAX_SIGMA`], above it Kovesi's three box blurs (`fast_blur`).
pub(crate) fn blur_plane(v: &[f32], w: usize, h: usize, sigma: f32) -> Vec<f32> {
    let plane =
        image::ImageBuffer::<image::Luma<f32>, Vec<f32>>::from_raw(w as u32, h as u32, v.to_vec())
            .expect("a plane of w×h values");
    if sigma > EXACT_BLUR_MAX_SIGMA {
        image::imageops::fast_blur(&plane, sigma).into_raw()
    } else {
        image::imageops::blur(&plane, sigma).into_raw()
    }
}

/// The result of a luminance-only transfer in colour: the luminance of `luma` with the chroma
/// of `photo` (what [`with_chroma`] does), and with `tones`, the photo's tones too.
///
/// With `tones: Some(σ)` the result's luminance is split into a base (a Gaussian blur of σ
/// pixels) and the detail above it. The base takes the distribution of the photo's base, the
/// same blur of the photo's luminance ([`match_distribution`]), and the detail is added back
/// as the optimisation made it. So the colour model (the photo's own colours, or
/// [`Palette::adapt`]'s) decides which tones there are and the optimisation where they go, while
/// fine texture the style asks for (grain, strokes) survives: matching the whole luminance
/// (σ = 0) would press it into the photo's clean distribution. Without `tones` the optimisation
/// also shifts and stretches the tones, away from the photo's.
pub fn recolour(luma: &Rgb, photo: &Rgb, tones: Option<f32>) -> Rgb {
    let Some(sigma) = tones else {
        return with_chroma(luma, photo);
    };
    let (w, h) = (luma.width, luma.height);
    let n = w * h;
    let mut y = to_yiq(luma)[..n].to_vec();
    let photo_y = &to_yiq(photo)[..photo.width * photo.height];
    if sigma > 0.0 {
        let base = blur_plane(&y, w, h, sigma);
        let mut toned = base.clone();
        match_distribution(
            &mut toned,
            &blur_plane(photo_y, photo.width, photo.height, sigma),
        );
        for ((v, b), t) in y.iter_mut().zip(&base).zip(&toned) {
            *v += t - b;
        }
    } else {
        match_distribution(&mut y, photo_y);
    }
    with_chroma(&grey(w, h, &y), photo)
}

fn mean_std(v: &[f32]) -> (f32, f32) {
    let n = v.len() as f64;
    let m = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n;
    (m as f32, var.sqrt() as f32)
}

#[cfg(test)]
mod tests {
    use super::{PHOTO_LIGHTNESS_SD, Palette, lab_to_srgb, srgb_to_lab};
    use crate::image_io::Rgb;

    #[test]
    fn a_wide_blur_is_the_gaussian_within_a_small_error() {
        use super::{EXACT_BLUR_MAX_SIGMA, blur_plane};
        // noise over hard-edged blocks, so the blur has edges and grain to spread
        let (w, h) = (240, 180);
        let grain = crate::image_io::noise(w, h, 9).data;
        let v: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let block = if (x / 60 + y / 45) % 2 == 0 { 0.8 } else { 0.2 };
                0.7 * block + 0.3 * grain[i]
            })
            .collect();
        let exact = |sigma: f32| {
            let plane = image::ImageBuffer::<image::Luma<f32>, Vec<f32>>::from_raw(
                w as u32,
                h as u32,
                v.clone(),
            )
            .unwrap();
            image::imageops::blur(&plane, sigma).into_raw()
        };
        let mean_abs = |a: &[f32], b: &[f32]| {
            a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
        };
        assert_eq!(
            blur_plane(&v, w, h, EXACT_BLUR_MAX_SIGMA),
            exact(EXACT_BLUR_MAX_SIGMA)
        );
        for sigma in [12.0f32, 24.0] {
            let (fast, exact) = (blur_plane(&v, w, h, sigma), exact(sigma));
            // what the blur changes, against how far the approximation is from it
            let blurred_by = mean_abs(&v, &exact);
            let off = mean_abs(&fast, &exact);
            assert!(
                off < blurred_by / 10.0,
                "σ {sigma}: {off} off, blur moved {blurred_by}"
            );
        }
    }

    #[test]
    fn lab_round_trips() {
        for rgb in [
            [0.0, 0.0, 0.0],
            [1.0, 1.0, 1.0],
            [0.9, 0.2, 0.1],
            [0.1, 0.5, 0.7],
        ] {
            let back = lab_to_srgb(srgb_to_lab(rgb));
            for c in 0..3 {
                assert!((back[c] - rgb[c]).abs() < 1e-4, "{rgb:?} -> {back:?}");
            }
        }
    }

    #[test]
    fn matching_a_palette_takes_its_colours_and_keeps_the_order_of_shades() {
        let photo = crate::image_io::noise(40, 30, 1);
        let mut style = crate::image_io::noise(20, 20, 2);
        // A warm, dark palette.
        let m = 400;
        for i in 0..m {
            style.data[i] = 0.3 + 0.7 * style.data[i];
            style.data[m + i] *= 0.6;
            style.data[2 * m + i] *= style.data[2 * m + i] * 0.5;
        }
        let target = Palette::of(&style, None);
        let mapped = target.apply(&photo);
        let err = |p: &Palette| -> f64 {
            (0..3)
                .map(|c| {
                    let (mut a, mut b, mut d) = (0.0, 0.0, 0.0f64);
                    for (x, y) in p.hist[c].iter().zip(&target.hist[c]) {
                        a += x;
                        b += y;
                        d = d.max((a - b).abs());
                    }
                    d
                })
                .fold(0.0, f64::max)
        };
        let before = err(&Palette::of(&photo, None));
        let after = err(&Palette::of(&mapped, None));
        assert!(
            after < 0.1 && after < before / 3.0,
            "CDF distance {before} -> {after}"
        );
        // Shading order is kept: a darker photo pixel stays darker.
        let n = photo.width * photo.height;
        let l = |img: &Rgb, i: usize| {
            srgb_to_lab([img.data[i], img.data[n + i], img.data[2 * n + i]])[0]
        };
        for (i, j) in [(0, n - 1), (5, 700), (40, 1000)] {
            assert_eq!(l(&photo, i) < l(&photo, j), l(&mapped, i) <= l(&mapped, j));
        }
        // A photo's own palette changes it very little.
        let same = Palette::of(&photo, None).apply(&photo);
        let diff = same.max_abs_diff(&photo);
        assert!(diff < 0.03, "{diff}");
    }

    #[test]
    fn palettes_mix_by_weight_and_masks_select_pixels() {
        let red = Rgb::from_planar(2, 1, vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        let blue = Rgb::from_planar(2, 1, vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
        let (pr, pb) = (Palette::of(&red, None), Palette::of(&blue, None));
        let m = Palette::mix(&[(&pr, 3.0), (&pb, 1.0)]).unwrap();
        let peak = |p: &Palette| p.hist[1].iter().cloned().fold(0.0, f64::max);
        assert!((peak(&m) - 0.75).abs() < 1e-9);
        let half = Rgb::from_planar(2, 1, vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(Palette::of(&half, Some(&[1.0, 0.0])).hist, pr.hist);
        assert!(Palette::mix(&[]).is_none());
    }

    use super::*;

    #[test]
    fn yiq_round_trip_keeps_colour() {
        let img = crate::image_io::noise(7, 5, 3);
        let back = with_chroma(&img, &img);
        for (a, b) in img.data.iter().zip(&back.data) {
            assert!((a - b).abs() < 2e-3, "{a} vs {b}");
        }
    }

    #[test]
    fn luminance_is_grey_and_matches_target_stats() {
        let img = crate::image_io::noise(8, 8, 1);
        let like = crate::image_io::noise(8, 8, 2);
        let g = luminance(&img, Some(&like));
        let n = 64;
        assert_eq!(&g.data[..n], &g.data[n..2 * n]);
        let (m, s) = mean_std(&g.data[..n]);
        let (m1, s1) = mean_std(&to_yiq(&like)[..n]);
        assert!((m - m1).abs() < 1e-4 && (s - s1).abs() < 1e-4);
    }

    /// A w×h image of one sRGB colour.
    fn solid(rgb: [f32; 3], w: usize, h: usize) -> Rgb {
        let n = w * h;
        let data = (0..3)
            .flat_map(|c| std::iter::repeat_n(rgb[c], n))
            .collect();
        Rgb::from_planar(w, h, data)
    }

    fn mean_lab(img: &Rgb) -> [f64; 3] {
        let n = img.width * img.height;
        let mut m = [0.0; 3];
        for i in 0..n {
            let lab = srgb_to_lab([img.data[i], img.data[n + i], img.data[2 * n + i]]);
            for c in 0..3 {
                m[c] += lab[c] / n as f64;
            }
        }
        m
    }

    #[test]
    fn pooling_datasets_palettes_gives_the_spread_of_all_their_images() {
        let grey = |v: f32| Palette::of(&solid([v, v, v], 4, 4), None);
        let spread = |lightness, lightness_sd, images| ColourSpread {
            lightness,
            lightness_sd,
            chroma: 10.0,
            chroma_sd: 2.0,
            images,
        };
        let a = Palette {
            spread: Some(spread(40.0, 3.0, 12)),
            ..grey(0.3)
        };
        let b = Palette {
            spread: Some(spread(60.0, 4.0, 8)),
            ..grey(0.6)
        };
        // one dataset: its palette as it is
        assert!(Palette::pool(&[(&a, 0.7)]) == Some(a.clone()));
        // weights 3 : 1: the mean 45; the variance 0.75·3² + 0.25·4² (within) + 0.75·5² +
        // 0.25·15² (between) = 85.75
        let p = Palette::pool(&[(&a, 3.0), (&b, 1.0)]).unwrap();
        let sp = p.spread.clone().unwrap();
        assert!((sp.lightness - 45.0).abs() < 1e-9, "{sp:?}");
        assert!((sp.lightness_sd - 85.75f64.sqrt()).abs() < 1e-9, "{sp:?}");
        assert!((sp.chroma - 10.0).abs() < 1e-9 && (sp.chroma_sd - 2.0).abs() < 1e-9);
        assert_eq!(sp.images, 20);
        // the histograms and levels as mixed
        let mixed = Palette::mix(&[(&a, 3.0), (&b, 1.0)]).unwrap();
        assert!(p.hist == mixed.hist && p.levels == mixed.levels);
        // a dataset that records no spread: the pool records none
        let c = grey(0.5);
        assert!(
            Palette::pool(&[(&a, 1.0), (&c, 1.0)])
                .unwrap()
                .spread
                .is_none()
        );
        assert!(Palette::pool(&[]).is_none());
    }

    #[test]
    fn mixing_two_or_more_palettes_measures_their_spread() {
        let (a, b) = (solid([0.2, 0.2, 0.2], 4, 4), solid([0.8, 0.8, 0.8], 4, 4));
        let (pa, pb) = (Palette::of(&a, None), Palette::of(&b, None));
        assert!(pa.spread.is_none());
        assert!(Palette::mix(&[(&pa, 1.0)]).unwrap().spread.is_none());
        let sp = Palette::mix(&[(&pa, 1.0), (&pb, 1.0)])
            .unwrap()
            .spread
            .unwrap();
        let (la, lb) = (mean_lab(&a)[0], mean_lab(&b)[0]);
        // bin centres: within half a bin (100/256) of the exact values
        assert!((sp.lightness - (la + lb) / 2.0).abs() < 0.4, "{sp:?}");
        // two values: unbiased sd = |la − lb| / √2
        assert!(
            (sp.lightness_sd - (lb - la) / 2f64.sqrt()).abs() < 0.6,
            "{sp:?}"
        );
        assert!(sp.chroma < 1.0 && sp.chroma_sd < 1.0, "grey images: {sp:?}");
        assert_eq!(sp.images, 2);
        // levels: the lowest black and the highest white
        let l = Palette::mix(&[(&pa, 1.0), (&pb, 1.0)])
            .unwrap()
            .levels
            .unwrap();
        for c in 0..3 {
            assert!((l.black[c] - 0.2).abs() < 1e-3 && (l.white[c] - 0.8).abs() < 1e-3);
        }
    }

    #[test]
    fn levels_are_an_images_extremes_without_its_grain_and_not_of_masked_regions() {
        // a ramp from 0.2 to 0.8 with pixel noise of ±0.1 on top
        let (w, h) = (64, 32);
        let grain = crate::image_io::noise(w, h, 5);
        let data: Vec<f32> = (0..3 * w * h)
            .map(|i| 0.2 + 0.6 * (i % w) as f32 / (w - 1) as f32 + 0.2 * (grain.data[i] - 0.5))
            .collect();
        let img = Rgb::from_planar(w, h, data);
        // the grain alone reaches far beyond the ramp's ends
        let mut raw = img.data.clone();
        raw.sort_by(f32::total_cmp);
        let at = |q: f64| raw[(q * raw.len() as f64) as usize];
        assert!(at(LEVELS_QUANTILE) < 0.15 && at(1.0 - LEVELS_QUANTILE) > 0.85);
        let l = Levels::of(&img);
        for c in 0..3 {
            assert!((l.black[c] - 0.2).abs() < 0.03, "{l:?}");
            assert!((l.white[c] - 0.8).abs() < 0.03, "{l:?}");
        }
        assert_eq!(Palette::of(&img, None).levels, Some(l));
        assert_eq!(Palette::of(&img, Some(&vec![1.0; w * h])).levels, None);
        let empty = Levels::of(&Rgb::from_planar(0, 0, vec![]));
        assert_eq!((empty.black, empty.white), ([0.0; 3], [1.0; 3]));
    }

    #[test]
    fn adapting_maps_a_photo_into_the_black_and_white_points_that_many_images_share() {
        let photo = crate::image_io::noise(24, 16, 3);
        let mut p = Palette::of(&photo, None);
        // images whose lightness and colourfulness vary like photos': only the levels act
        let spread = |images| ColourSpread {
            lightness: 50.0,
            lightness_sd: 2.0 * PHOTO_LIGHTNESS_SD,
            chroma: 20.0,
            chroma_sd: 2.0 * PHOTO_CHROMA_SD,
            images,
        };
        let graded = Levels {
            black: [0.06, 0.14, 0.18],
            white: [0.9, 0.88, 0.8],
        };
        p.levels = Some(graded.clone());
        p.spread = Some(spread(LEVELS_MIN_IMAGES));
        let out = p.adapt(&photo);
        let n = photo.width * photo.height;
        let t = LEVELS_TOLERANCE as f32;
        for c in 0..3 {
            let (lo, hi) = (graded.black[c] as f32 - t, graded.white[c] as f32 + t);
            for i in c * n..(c + 1) * n {
                let want = lo + photo.data[i] * (hi - lo);
                assert!(
                    (out.data[i] - want).abs() < 2e-3,
                    "{} want {want}",
                    out.data[i]
                );
            }
        }
        let max_diff = |a: &Rgb| a.max_abs_diff(&photo);
        // too few images to tell a filter's levels from their content's
        p.spread = Some(spread(LEVELS_MIN_IMAGES - 1));
        assert!(max_diff(&p.adapt(&photo)) < 1e-3);
        // levels within the tolerance of black and white, as photos have: nothing moves
        p.spread = Some(spread(LEVELS_MIN_IMAGES));
        p.levels = Some(Levels {
            black: [0.02, 0.0, 0.03],
            white: [0.97, 1.0, 0.965],
        });
        assert!(max_diff(&p.adapt(&photo)) < 1e-3);
        // a vignette the images share is given last: the photo as adapted, then darkened
        let v = crate::vignette::Vignette { strength: 0.3 };
        p.vignette = Some(v.clone());
        let out = p.adapt(&photo);
        p.vignette = None;
        let want = v.apply(&p.adapt(&photo));
        assert!(out.max_abs_diff(&want) < 1e-6);
        assert!(max_diff(&out) > 0.1);
    }

    #[test]
    fn adapting_follows_a_consistent_dataset_and_ignores_one_that_varies_like_photos() {
        let photo = {
            let mut p = crate::image_io::noise(24, 16, 3);
            p.data.iter_mut().for_each(|v| *v = 0.15 + 0.5 * *v);
            p
        };
        // a consistent dataset: light, nearly grey images (a pencil sketch's)
        let light: Vec<Palette> = [0.86f32, 0.88, 0.9]
            .iter()
            .map(|&v| Palette::of(&solid([v, v, v * 0.97], 8, 8), None))
            .collect();
        let parts: Vec<(&Palette, f64)> = light.iter().map(|p| (p, 1.0)).collect();
        let consistent = Palette::mix(&parts).unwrap();
        let sp = consistent.spread.clone().unwrap();
        let out = mean_lab(&consistent.adapt(&photo));
        let before = mean_lab(&photo);
        let w = (sp.lightness_sd / PHOTO_LIGHTNESS_SD).powi(2).min(1.0);
        let want_l = w * before[0] + (1.0 - w) * sp.lightness;
        assert!(w < 0.05, "{sp:?}");
        assert!((out[0] - want_l).abs() < 2.0, "L {} want {want_l}", out[0]);
        let chroma = |m: [f64; 3]| (m[1] * m[1] + m[2] * m[2]).sqrt();
        assert!(
            chroma(out) < 0.5 * chroma(before) + 1.0,
            "{out:?} from {before:?}"
        );
        // a dataset that varies like photos: nothing moves
        let wide: Vec<Palette> = [
            [0.1f32, 0.3, 0.8],
            [0.9, 0.8, 0.1],
            [0.5, 0.5, 0.5],
            [0.2, 0.9, 0.3],
        ]
        .iter()
        .map(|&c| Palette::of(&solid(c, 8, 8), None))
        .collect();
        let parts: Vec<(&Palette, f64)> = wide.iter().map(|p| (p, 1.0)).collect();
        let varied = Palette::mix(&parts).unwrap();
        let sp = varied.spread.clone().unwrap();
        assert!(
            sp.lightness_sd >= PHOTO_LIGHTNESS_SD && sp.chroma_sd >= 15.0,
            "{sp:?}"
        );
        let same = varied.adapt(&photo);
        let diff = same.max_abs_diff(&photo);
        assert!(diff < 1e-3, "moved by {diff}");
        // no spread: the image as it is
        assert_eq!(Palette::of(&photo, None).adapt(&photo).data, photo.data);
    }

    #[test]
    fn matching_a_distribution_keeps_the_order_and_takes_the_values() {
        let mut v = vec![0.3f32, 0.1, 0.9, 0.5, 0.7];
        let like = [10.0f32, 40.0, 20.0, 50.0, 30.0];
        match_distribution(&mut v, &like);
        assert_eq!(v, vec![20.0, 10.0, 50.0, 30.0, 40.0]);
        // equal values stay equal: they share the mean of their quantiles
        let mut flat = vec![0.5f32, 0.5, 0.5, 0.0];
        match_distribution(&mut flat, &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(flat, vec![3.0, 3.0, 3.0, 1.0]);
        // a reference of another size is read at the same quantiles
        let mut two = vec![5.0f32, -5.0];
        match_distribution(&mut two, &[0.0, 1.0, 2.0, 3.0]);
        assert_eq!(two, vec![2.5, 0.5]);
    }

    #[test]
    fn recolouring_with_all_tones_gives_the_photo_s_luminance_distribution_in_the_result_s_order() {
        let photo = crate::image_io::noise(9, 7, 4);
        let n = 63;
        // a result whose luminance is a stretched, shifted ramp, nothing like the photo's
        let ramp: Vec<f32> = (0..n).map(|i| 0.05 + 0.9 * i as f32 / n as f32).collect();
        let luma = Rgb::from_planar(9, 7, ramp.repeat(3));
        let sorted = |v: &[f32]| {
            let mut v = v.to_vec();
            v.sort_unstable_by(f32::total_cmp);
            v
        };
        let photo_y = sorted(&to_yiq(&photo)[..n]);
        let plain = recolour(&luma, &photo, None);
        let toned = recolour(&luma, &photo, Some(0.0));
        assert_eq!(plain.data, with_chroma(&luma, &photo).data);
        let (py, ty) = (&to_yiq(&plain)[..n], &to_yiq(&toned)[..n]);
        // without tones the ramp's luminance stays; with them the photo's values, in the ramp's order
        let off = |y: &[f32]| {
            sorted(y)
                .iter()
                .zip(&photo_y)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max)
        };
        assert!(off(py) > 0.02, "the ramp already had the photo's tones");
        assert!(
            off(ty) < 0.02,
            "toned luminance is off the photo's by {}",
            off(ty)
        );
        assert!(
            ty.windows(2).all(|w| w[0] <= w[1] + 0.02),
            "order lost: {ty:?}"
        );
        // the chroma is the photo's in both
        let iq = |img: &Rgb| to_yiq(img)[n..].to_vec();
        for (a, b) in iq(&toned).iter().zip(&iq(&photo)) {
            assert!((a - b).abs() < 0.02, "{a} vs {b}");
        }
    }

    #[test]
    fn recolouring_the_base_tones_keeps_the_detail_above_them() {
        let (w, h) = (24, 20);
        let n = w * h;
        // a flat photo; a result far lighter, with a one-pixel checkerboard and a ramp on it
        let photo = solid([0.3, 0.25, 0.2], w, h);
        let photo_y = to_yiq(&photo)[0];
        let detail: Vec<f32> = (0..n)
            .map(|i| {
                if (i % w + i / w) % 2 == 0 {
                    0.08
                } else {
                    -0.08
                }
            })
            .collect();
        let y: Vec<f32> = (0..n)
            .map(|i| 0.7 + 0.01 * (i % w) as f32 + detail[i])
            .collect();
        let luma = Rgb::from_planar(w, h, y.repeat(3));
        // the base (the ramp) takes the photo's one tone; the checkerboard stays on top of it
        // (away from the border, where the blur's clamped edge leaks some detail into the base)
        let toned = recolour(&luma, &photo, Some(2.0));
        let ty = &to_yiq(&toned)[..n];
        for (i, (t, d)) in ty.iter().zip(&detail).enumerate() {
            let (x, y) = (i % w, i / w);
            if x < 6 || y < 6 || x >= w - 6 || y >= h - 6 {
                continue;
            }
            assert!(
                (t - (photo_y + d)).abs() < 0.01,
                "pixel {i}: {t} vs {}",
                photo_y + d
            );
        }
        // matching the whole luminance presses the checkerboard into the photo's one tone
        let all = recolour(&luma, &photo, Some(0.0));
        for a in &to_yiq(&all)[..n] {
            assert!((a - photo_y).abs() < 1e-4, "{a} vs {photo_y}");
        }
    }
}
