//! Posterising: a style painted with a few exact colours, and a result given them.
//!
//! A filter that paints with a fixed set of colours (a cartoon's cel palette, a pencil's
//! graphite-on-paper ramp) leaves the trace in its outputs: a few hundred distinct colours cover
//! almost every pixel, where a photo needs tens of thousands. An image's [`Swatches`] are those
//! colours, with the share of the pixels each covers; they are empty when the image is not
//! posterised. [`Swatches::apply`] gives every pixel of a result the swatch nearest to it, so the
//! result has the filter's palette and its flat regions.
//!
//! A filter that posterises a smoothed image leaves clean regions: in the benchmark's cartoon
//! outputs fewer than 1% of the pixels are *isolated* (fewer than [`ISOLATED_NEIGHBOURS`] of
//! their 8 neighbours share their colour), where a result snapped pixel by pixel had about 10%,
//! speckle along every boundary. So the swatches also record the images' share of isolated
//! pixels, and a result with more of them gives each its neighbours' most common swatch, until
//! it has no more than the images (at most [`CLEAN_PASSES`] times). A filter whose colours are
//! fine texture, with most of its pixels isolated ([`TEXTURE_ISOLATED`]: a pencil's hatching,
//! 83%; grain over a black-and-white filter's 8-bit greys, 87%), has no regions to clean
//! toward, and a result is left as it is: a pass reassigns every isolated pixel at once, so
//! cleaning toward such a share would smooth away the grain it is made of.
//!
//! A filter that rounds each of R, G and B to a few evenly spaced levels (the classic
//! "posterize") leaves swatches on a grid, and decides each channel on its own: a result then
//! takes the swatch nearest in sRGB ([`Swatches::is_channel_grid`]). Other palettes are
//! compared in CIE Lab, at the swatches' colourfulness ([`Swatches::apply`]).
//!
//! Colours are counted exactly (8-bit sRGB), so they must be measured on the images as decoded,
//! before any resizing blends them. A lossy format's noise (JPEG) moves every pixel by a level or
//! two and smears the edges, so a lossy image's swatches are *estimated* from its flat regions
//! instead ([`Swatches::of_lossy`]) and marked [`Swatches::lossy`]. A photo's smooth sky is flat
//! too and gives such a palette, so one image's estimate tells the filter's palette but not
//! whether it has one. Several images tell: a posterising filter paints every image's flat
//! regions with a few colours, where a photo's smooth regions are gradients that take hundreds
//! ([`Swatches::looks_posterised`]). Only then does a transfer paint with an estimate by
//! default; otherwise only when asked (`crate::transfer::Posterise::On`).
use std::collections::HashMap;

use anyhow::{Result, bail};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::color::srgb_to_lab;
use crate::image_io::Rgb;

/// The share of an image's pixels its swatches must cover.
pub const COVERAGE: f64 = 0.99;
/// The most swatches a posterised image may need to cover [`COVERAGE`] of its pixels. A GIF has
/// 256 colours and a 256² photo tens of thousands; this allows four times a GIF's for the blends
/// a filter makes of its colours (an outline over a fill).
pub const MAX_SWATCHES: usize = 1024;
/// A pixel with fewer of its 8 neighbours in its own colour than this is isolated.
pub const ISOLATED_NEIGHBOURS: usize = 2;
/// The most times [`Swatches::apply`] reassigns a result's isolated pixels.
pub const CLEAN_PASSES: usize = 3;
/// A style with at least this share of isolated pixels is painted in fine texture, not in
/// regions (a pencil's hatching, 83%; a black-and-white filter's grain over 8-bit greys, 87%),
/// and a result is not cleaned toward it.
pub const TEXTURE_ISOLATED: f64 = 0.5;
/// The most levels per channel a per-channel grid may have ([`Swatches::is_channel_grid`]):
/// 17, whose levels are within 1 of four bits' truncated (0, 16, …, 240); a grid that fine has
/// more colours than [`MAX_SWATCHES`].
pub const GRID_MAX_LEVELS: usize = 17;
/// The share of the swatches a per-channel grid must carry ([`Swatches::is_channel_grid`]).
/// Measured on the benchmark's training outputs, the best grid carries 92–100% of a
/// posterising-per-channel filter's swatches (comic's dark outlines are the rest), and 0–28% of
/// the others' (a black-and-white filter's 8-bit greys, 28%).
pub const GRID_SHARE: f64 = 0.75;
/// A pixel of a lossy image is *flat* when each of its 8 neighbours is within this many levels
/// of it in every channel ([`Swatches::of_lossy`]).
pub const LOSSY_FLAT: i32 = 3;
/// Colours within this many levels of a swatch in every channel count as it in a lossy image
/// ([`Swatches::of_lossy`]).
pub const LOSSY_RADIUS: i32 = 2;
/// The least share of a lossy image's pixels that must be flat for its swatches to be estimated
/// ([`Swatches::of_lossy`]).
pub const LOSSY_MIN_FLAT: f64 = 0.05;
/// The fewest lossy images whose estimates can tell that a dataset is posterised
/// ([`Swatches::looks_posterised`]).
pub const LOSSY_MIN_IMAGES: usize = 3;
/// The most swatches the estimates of three quarters of a lossy dataset's images (by weight) may
/// have for it to look posterised ([`Swatches::looks_posterised`]).
pub const LOSSY_TYPICAL_SWATCHES: usize = 64;

/// The exact colours an image (or a dataset) is painted with; see the module documentation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Swatches {
    /// 8-bit sRGB colours, most frequent first, each with its share of the pixels (the shares
    /// sum to 1). Empty: not posterised.
    pub colours: Vec<([u8; 3], f64)>,
    /// The share of the images' pixels that are isolated (see the module documentation), when
    /// posterised. Absent in older profiles: a result is then not cleaned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolated: Option<f64>,
    /// Whether the swatches were estimated from lossy images ([`Swatches::of_lossy`]) rather
    /// than counted exactly.
    #[serde(default, skip_serializing_if = "is_false")]
    pub lossy: bool,
    /// Whether lossy images' estimated swatches show that their filter posterises; see
    /// [`Swatches::looks_posterised`]. Set by [`Swatches::mix`]; absent in older profiles.
    #[serde(default, skip_serializing_if = "is_false")]
    pub lossy_posterised: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A colour's key in the counts.
fn key(c: [u8; 3]) -> u32 {
    (c[0] as u32) << 16 | (c[1] as u32) << 8 | c[2] as u32
}

fn colour(k: u32) -> [u8; 3] {
    [(k >> 16) as u8, (k >> 8) as u8, k as u8]
}

/// Sorts (colour, share) pairs most frequent first; ties by colour, so the order does not depend
/// on a hash's.
fn most_frequent_first<T: Ord>(v: &mut [(T, f64)]) {
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
}

/// Whether at least [`LOSSY_MIN_IMAGES`] parts (all posterised, as [`Swatches::mix`] has
/// checked) are given, and three quarters of their weight is in parts of at most
/// [`LOSSY_TYPICAL_SWATCHES`] swatches ([`Swatches::looks_posterised`]).
fn few_swatches_each(parts: &[&(&Swatches, f64)]) -> bool {
    if parts.len() < LOSSY_MIN_IMAGES {
        return false;
    }
    let total: f64 = parts.iter().map(|(_, w)| w).sum();
    let few: f64 = parts
        .iter()
        .filter(|(s, _)| s.colours.len() <= LOSSY_TYPICAL_SWATCHES)
        .map(|(_, w)| w)
        .sum();
    few >= 0.75 * total
}

impl Swatches {
    /// The swatches of `img` (empty if it is not posterised); with a mask (one value in [0, 1]
    /// per pixel) only the masked region counts, each pixel by its mask value.
    pub fn of(img: &Rgb, mask: Option<&[f32]>) -> Self {
        let mut counts: HashMap<u32, f64> = HashMap::new();
        let keys: Vec<u32> = img.pixels_8bit().into_iter().map(key).collect();
        for (i, k) in keys.iter().enumerate() {
            let w = mask.map_or(1.0, |m| m[i] as f64);
            if w > 0.0 {
                *counts.entry(*k).or_default() += w;
            }
        }
        let mut s = Self::from_counts(counts);
        if s.is_posterised() {
            s.isolated = Some(isolated_share(&keys, img.width, img.height, mask));
        }
        s
    }

    /// The swatches of an image read from a file: counted exactly ([`Swatches::of`]), or
    /// estimated ([`Swatches::of_lossy`]) when the file is `lossy`.
    pub fn of_read(img: &Rgb, mask: Option<&[f32]>, lossy: bool) -> Self {
        if lossy {
            Self::of_lossy(img, mask)
        } else {
            Self::of(img, mask)
        }
    }

    /// The swatches of a lossy image (JPEG), estimated, and marked [`Swatches::lossy`] (empty
    /// or not).
    ///
    /// A JPEG moves each pixel of a filter's flat region by a level or two, and smears the
    /// edges between regions. So the colours are counted only on *flat* pixels (each of
    /// their 8 neighbours within [`LOSSY_FLAT`] levels in every channel), which must be at
    /// least [`LOSSY_MIN_FLAT`] of the pixels. The most frequent of those colours is a
    /// swatch and claims every colour within [`LOSSY_RADIUS`] levels of it; then the most
    /// frequent colour not yet claimed, and so on until the swatches claim [`COVERAGE`] of
    /// the flat pixels, within [`MAX_SWATCHES`]. Every pixel then counts as the swatch
    /// nearest it in sRGB, which gives the swatches' shares and the share of isolated pixels.
    ///
    /// A photo's smooth sky is flat too, and tiles into swatches like a filter's regions:
    /// this tells a filter's palette, not whether there is one.
    pub fn of_lossy(img: &Rgb, mask: Option<&[f32]>) -> Self {
        let (w, h) = (img.width, img.height);
        let px = img.pixels_8bit();
        let keys: Vec<u32> = px.iter().map(|&p| key(p)).collect();
        let weight = |i: usize| mask.map_or(1.0, |m| m[i] as f64);
        let flat: Vec<bool> = (0..px.len())
            .into_par_iter()
            .map(|i| {
                neighbours(i, w, h).all(|j| {
                    (0..3).all(|c| (px[i][c] as i32 - px[j][c] as i32).abs() <= LOSSY_FLAT)
                })
            })
            .collect();
        let total: f64 = (0..px.len()).map(weight).sum();
        let mut counts: HashMap<u32, f64> = HashMap::new();
        for (i, &k) in keys.iter().enumerate() {
            let m = weight(i);
            if flat[i] && m > 0.0 {
                *counts.entry(k).or_default() += m;
            }
        }
        let flat_total: f64 = counts.values().sum();
        let none = Self {
            lossy: true,
            ..Self::default()
        };
        if total <= 0.0 || flat_total < LOSSY_MIN_FLAT * total {
            return none;
        }
        let mut sorted: Vec<(u32, f64)> = counts.iter().map(|(&k, &c)| (k, c)).collect();
        most_frequent_first(&mut sorted);
        // the keys of the colours within LOSSY_RADIUS of `c` in every channel
        let r = LOSSY_RADIUS;
        let around = |c: [u8; 3]| {
            (-r..=r)
                .flat_map(move |d0| {
                    (-r..=r).flat_map(move |d1| (-r..=r).map(move |d2| [d0, d1, d2]))
                })
                .map(move |d| [0, 1, 2].map(|i| c[i] as i32 + d[i]))
                .filter(|n| n.iter().all(|v| (0..=255).contains(v)))
                .map(|n| key(n.map(|v| v as u8)))
        };
        let mut claimed: std::collections::HashSet<u32> = std::collections::HashSet::new();
        let mut swatches: Vec<[u8; 3]> = Vec::new();
        let mut covered = 0.0;
        for &(k, _) in &sorted {
            if covered >= COVERAGE * flat_total {
                break;
            }
            if claimed.contains(&k) {
                continue;
            }
            if swatches.len() == MAX_SWATCHES {
                return none;
            }
            let c = colour(k);
            swatches.push(c);
            for near in around(c) {
                if let Some(v) = counts.get(&near)
                    && claimed.insert(near)
                {
                    covered += v;
                }
            }
        }
        // every pixel's nearest swatch, found once per distinct colour
        let mut distinct = keys.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let found: HashMap<u32, usize> = distinct
            .par_iter()
            .map(|&k| {
                let p = colour(k);
                let d = |s: usize| {
                    (0..3)
                        .map(|c| (p[c] as f64 - swatches[s][c] as f64).powi(2))
                        .sum::<f64>()
                };
                (k, nearest(swatches.len(), d))
            })
            .collect();
        let labels: Vec<usize> = keys.iter().map(|k| found[k]).collect();
        let mut shares = vec![0.0; swatches.len()];
        for (i, &l) in labels.iter().enumerate() {
            shares[l] += weight(i);
        }
        let mut colours: Vec<([u8; 3], f64)> = swatches
            .iter()
            .zip(&shares)
            .filter(|(_, s)| **s > 0.0)
            .map(|(c, s)| (*c, s / total))
            .collect();
        most_frequent_first(&mut colours);
        Self {
            colours,
            isolated: Some(isolated_share(&labels, w, h, mask)),
            lossy: true,
            // one image cannot tell ([`Swatches::looks_posterised`])
            lossy_posterised: false,
        }
    }

    /// The most frequent colours of `counts` that cover [`COVERAGE`], with their shares
    /// renormalised; empty if that takes more than [`MAX_SWATCHES`].
    fn from_counts(counts: HashMap<u32, f64>) -> Self {
        let total: f64 = counts.values().sum();
        if total <= 0.0 {
            return Self::default();
        }
        let mut sorted: Vec<(u32, f64)> = counts.into_iter().collect();
        most_frequent_first(&mut sorted);
        let mut covered = 0.0;
        let mut keep = 0;
        for (_, c) in &sorted {
            if keep == MAX_SWATCHES {
                return Self::default();
            }
            covered += c;
            keep += 1;
            if covered >= COVERAGE * total {
                break;
            }
        }
        let colours = sorted[..keep]
            .iter()
            .map(|&(k, c)| (colour(k), c / covered))
            .collect();
        Self {
            colours,
            isolated: None,
            ..Self::default()
        }
    }

    /// Whether the image(s) are posterised (the swatches are not empty).
    pub fn is_posterised(&self) -> bool {
        !self.colours.is_empty()
    }

    /// Whether the swatches are a *per-channel grid*: the colours a filter makes by rounding
    /// each of R, G and B to a few evenly spaced levels (the classic "posterize", with or
    /// without blurring first). They are when the swatches whose three channels all lie
    /// within 1 of the levels `round(i·255/(L − 1))`, i = 0 … L − 1, carry at least
    /// [`GRID_SHARE`] of the share, for some L from 2 to [`GRID_MAX_LEVELS`]. Levels made by
    /// truncating bits (`i·256/2ᵏ`: 0, 64, 128 and 192 for two bits) count too: they are
    /// within 1 of the 2ᵏ + 1 spread levels. Such a filter decides each channel on its own,
    /// whatever the colour's hue and chroma, and [`Swatches::apply`] then takes the swatch
    /// nearest in sRGB.
    ///
    /// Swatches estimated from lossy images ([`Swatches::lossy`]) are a level or two off their
    /// colours, so theirs need only lie within [`LOSSY_RADIUS`] + 1 of the levels.
    pub fn is_channel_grid(&self) -> bool {
        self.grid_levels().is_some()
    }

    /// The levels of the coarsest per-channel grid the swatches lie on
    /// ([`Swatches::is_channel_grid`]), if any.
    fn grid_levels(&self) -> Option<Vec<i32>> {
        let within = if self.lossy { LOSSY_RADIUS + 1 } else { 1 };
        let on = |levels: &[i32]| {
            self.colours
                .iter()
                .filter(|(c, _)| {
                    c.iter()
                        .all(|&v| levels.iter().any(|&l| (v as i32 - l).abs() <= within))
                })
                .map(|(_, s)| s)
                .sum::<f64>()
        };
        (2..=GRID_MAX_LEVELS as i32)
            .map(|l| {
                (0..l)
                    .map(|i| (i as f64 * 255.0 / (l - 1) as f64).round() as i32)
                    .collect::<Vec<i32>>()
            })
            .find(|levels| on(levels) >= GRID_SHARE)
    }

    /// Estimated swatches on a per-channel grid moved onto it: each swatch that lies on the
    /// grid ([`Swatches::is_channel_grid`]) to its nearest levels, and swatches that meet there
    /// merged. Swatches off the grid, and swatches counted exactly, as they are.
    fn snapped_to_grid(&self) -> Self {
        let Some(levels) = self.lossy.then(|| self.grid_levels()).flatten() else {
            return self.clone();
        };
        let level = |v: u8| {
            levels
                .iter()
                .copied()
                .find(|&l| (v as i32 - l).abs() <= LOSSY_RADIUS + 1)
        };
        let mut merged: Vec<([u8; 3], f64)> = Vec::new();
        for &(c, share) in &self.colours {
            let c = match c.map(level) {
                [Some(r), Some(g), Some(b)] => [r, g, b].map(|l| l as u8),
                _ => c,
            };
            match merged.iter_mut().find(|(m, _)| *m == c) {
                Some(m) => m.1 += share,
                None => merged.push((c, share)),
            }
        }
        most_frequent_first(&mut merged);
        Self {
            colours: merged,
            ..self.clone()
        }
    }

    /// The weighted mix of several images' swatches (weights need not sum to 1; parts of
    /// weight 0 are left out): posterised only if every image is, and their colours together
    /// are few enough; [`Swatches::lossy`] if any image's are, and then
    /// [`Swatches::lossy_posterised`] when the images' estimates show a posterising filter
    /// ([`Swatches::looks_posterised`]). `None` without any weight.
    pub fn mix(parts: &[(&Swatches, f64)]) -> Option<Self> {
        let parts: Vec<_> = parts.iter().filter(|(_, w)| *w > 0.0).collect();
        let total: f64 = parts.iter().map(|(_, w)| w).sum();
        if parts.is_empty() || total <= 0.0 {
            return None;
        }
        let lossy = parts.iter().any(|(s, _)| s.lossy);
        if parts.iter().any(|(s, _)| !s.is_posterised()) {
            return Some(Self {
                lossy,
                ..Self::default()
            });
        }
        let mut counts: HashMap<u32, f64> = HashMap::new();
        for (s, w) in &parts {
            for &(c, share) in &s.colours {
                *counts.entry(key(c)).or_default() += share * w / total;
            }
        }
        let isolated = parts
            .iter()
            .map(|(s, w)| s.isolated.map(|v| v * w / total))
            .sum::<Option<f64>>();
        let mixed = Self::from_counts(counts);
        // a part that already shows a palette (a profile's swatches, carried by a learned image)
        // vouches for its images
        let vouched = parts.iter().all(|(s, _)| s.looks_posterised());
        let lossy_posterised =
            lossy && mixed.is_posterised() && (vouched || few_swatches_each(&parts));
        Some(Self {
            isolated: isolated.filter(|_| mixed.is_posterised()),
            lossy,
            lossy_posterised,
            ..mixed
        })
    }

    /// Whether the swatches show that their images are posterised, so that a result may take
    /// them unasked (`crate::transfer::Posterise::Auto`): counted exactly, whenever there are
    /// any; estimated from lossy images ([`Swatches::of_lossy`]), only when
    /// [`Swatches::mix`] found that the images' estimates each need few swatches
    /// ([`Swatches::lossy_posterised`]).
    ///
    /// One lossy image's estimate cannot tell: a photo's smooth sky is flat, and tiles into a
    /// few swatches as a filter's regions do. Several can. A posterising filter paints the flat
    /// regions of *every* image with a few colours, where most photos' flat regions are
    /// gradients, which take hundreds of swatches. So the mix of at least
    /// [`LOSSY_MIN_IMAGES`] estimates looks posterised when three quarters of them (by weight)
    /// need at most [`LOSSY_TYPICAL_SWATCHES`] swatches each. On the benchmark's training
    /// outputs saved as JPEG at quality 90 and 75 (`make_benchmark.py`, Pillow), the estimate
    /// at three quarters is 5–56 on all thirteen filters whose PNGs are posterised and that give
    /// every image an estimate, and 117–371 on the other filters, and the sets of photos, that
    /// do (README, "Posterising").
    pub fn looks_posterised(&self) -> bool {
        self.is_posterised() && (!self.lossy || self.lossy_posterised)
    }

    /// Checks swatches read from a file.
    pub fn check(&self) -> Result<()> {
        if self.colours.len() > MAX_SWATCHES {
            bail!(
                "{} swatches, more than the {MAX_SWATCHES} a posterised style may have",
                self.colours.len()
            );
        }
        if self
            .colours
            .iter()
            .any(|(_, s)| !(s.is_finite() && *s > 0.0))
        {
            bail!("a swatch's share is not a positive number");
        }
        let sum: f64 = self.colours.iter().map(|(_, s)| s).sum();
        if self.is_posterised() && (sum - 1.0).abs() > 1e-6 {
            bail!("the swatches' shares sum to {sum}, not 1");
        }
        let mut keys: Vec<u32> = self.colours.iter().map(|(c, _)| key(*c)).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            bail!("a swatch appears twice");
        }
        if self.isolated.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
            bail!("the share of isolated pixels is not within [0, 1]");
        }
        Ok(())
    }

    /// `img` with every pixel replaced by its nearest swatch (unchanged if there are none).
    ///
    /// Swatches that are a per-channel grid ([`Swatches::is_channel_grid`]) are compared in
    /// sRGB, each pixel with its own colour: the filter rounded each channel, and rounding
    /// each channel of the pixel is what the nearest point of a grid is. The Lab comparison
    /// below, on those filters' dull photos, took vivid swatches that the filter does not: on
    /// the benchmark's three (`transfer --iters 0`, ΔE / texture) comic 9.13 / 0.176 → 6.38 /
    /// 0.199, pixelart 10.03 / 0.243 → 5.52 / 0.206, poster3 16.14 / 0.246 → 4.37 / 0.121
    /// (README, "Posterising").
    ///
    /// Swatches estimated from lossy images on such a grid are first moved onto its levels
    /// (those off it stay): a JPEG leaves them a few levels off, with satellites around each.
    /// On the benchmark's outputs saved as JPEG at quality 90 (`--posterise on`), the grid
    /// rule and this move took pixelart from 10.30 / 0.120 to 7.36 / 0.084 and comic from
    /// 9.90 / 0.183 to 8.72 / 0.187, and popart, whose colours are boosted before they are
    /// rounded, from 12.63 / 0.132 to 17.91 / 0.112 (README, "Posterising").
    ///
    /// Other swatches are compared in CIE Lab, the pixel at the swatches' colourfulness: its a
    /// and b are scaled by a gain g so that the image's RMS chroma is the swatches'. A filter
    /// that posterises also decides how colourful its colours are (a cartoon's are vivid), so
    /// a dull pixel of a hue takes the vivid swatch of that hue rather than a grey. On the
    /// benchmark's two posterising filters this brought the colour distance from 9.95 to 8.18
    /// (cartoon) and 6.81 to 6.78 (pencil).
    ///
    /// Scaling a and b by g > 1 makes their differences count g² times as much as the
    /// lightness's, and a dull photo (g up to 7 on the benchmark's photos) would then take its
    /// swatches by hue alone: cartoon's hazy `china_lake` came out with an L* spread of 27.6,
    /// where the photo has 36.1 and the filter's output 35.0. So the lightness difference is
    /// weighted by g ([`lightness_weight`]), which is the same as comparing the pixel and the
    /// swatches at the colourfulness midway between theirs.
    ///
    /// Then, while the result has a larger share of isolated pixels than the style's images,
    /// each isolated pixel takes its neighbours' most common swatch (see the module
    /// documentation).
    pub fn apply(&self, img: &Rgb) -> Rgb {
        if !self.is_posterised() {
            return img.clone();
        }
        let snapped = self.snapped_to_grid();
        snapped.paint(img)
    }

    /// [`Swatches::apply`], for posterised swatches.
    fn paint(&self, img: &Rgb) -> Rgb {
        let to_float = |c: [u8; 3]| c.map(|v| v as f32 / 255.0);
        let swatches: Vec<[f64; 3]> = self
            .colours
            .iter()
            .map(|(c, _)| srgb_to_lab(to_float(*c)))
            .collect();
        let n = img.width * img.height;
        let mut nearest = if self.is_channel_grid() {
            self.nearest_in_srgb(img)
        } else {
            self.nearest_in_lab(img, &swatches)
        };
        if let Some(style_share) = self.isolated.filter(|&s| s < TEXTURE_ISOLATED) {
            let (w, h) = (img.width, img.height);
            for _ in 0..CLEAN_PASSES {
                if isolated_share(&nearest, w, h, None) <= style_share {
                    break;
                }
                nearest = clean(&nearest, w, h, &swatches);
            }
        }
        let mut data = vec![0.0f32; 3 * n];
        for (i, &k) in nearest.iter().enumerate() {
            let rgb = to_float(self.colours[k].0);
            for c in 0..3 {
                data[c * n + i] = rgb[c];
            }
        }
        Rgb::from_planar(img.width, img.height, data)
    }

    /// The index of the swatch nearest each pixel of `img` in sRGB, for a per-channel grid
    /// ([`Swatches::is_channel_grid`]).
    fn nearest_in_srgb(&self, img: &Rgb) -> Vec<usize> {
        let n = img.width * img.height;
        let swatches: Vec<[f32; 3]> = self
            .colours
            .iter()
            .map(|(c, _)| c.map(|v| v as f32 / 255.0))
            .collect();
        (0..n)
            .into_par_iter()
            .map(|i| {
                let p = [img.data[i], img.data[n + i], img.data[2 * n + i]];
                nearest(swatches.len(), |k| {
                    (0..3).map(|c| (p[c] - swatches[k][c]).powi(2)).sum::<f32>() as f64
                })
            })
            .collect()
    }

    /// The index of the swatch nearest each pixel of `img` in CIE Lab (`swatches`, in order),
    /// the pixel seen at the swatches' colourfulness and its lightness weighed by the gain
    /// ([`Swatches::apply`]).
    fn nearest_in_lab(&self, img: &Rgb, swatches: &[[f64; 3]]) -> Vec<usize> {
        let n = img.width * img.height;
        let labs: Vec<[f64; 3]> = (0..n)
            .into_par_iter()
            .map(|i| srgb_to_lab([img.data[i], img.data[n + i], img.data[2 * n + i]]))
            .collect();
        let gain = self.chroma_gain(swatches, &labs);
        let lw = lightness_weight(gain);
        labs.par_iter()
            .map(|p| {
                let q = [p[0], p[1] * gain, p[2] * gain];
                nearest(swatches.len(), |k| {
                    let s = &swatches[k];
                    lw * (q[0] - s[0]).powi(2) + (q[1] - s[1]).powi(2) + (q[2] - s[2]).powi(2)
                })
            })
            .collect()
    }

    /// The gain that brings the RMS chroma of the pixels `labs` (CIE Lab) to the swatches'
    /// (weighted by their shares); `swatches` are the swatches' colours in Lab, in order. 1 for
    /// pixels without chroma.
    fn chroma_gain(&self, swatches: &[[f64; 3]], labs: &[[f64; 3]]) -> f64 {
        let chroma_sq = |p: &[f64; 3]| p[1] * p[1] + p[2] * p[2];
        let target: f64 = self
            .colours
            .iter()
            .zip(swatches)
            .map(|((_, s), p)| s * chroma_sq(p))
            .sum::<f64>()
            .sqrt();
        let own = (labs.iter().map(chroma_sq).sum::<f64>() / labs.len().max(1) as f64).sqrt();
        if own > 1e-6 { target / own } else { 1.0 }
    }
}

/// The weight of the squared lightness difference when a pixel whose a and b were scaled by
/// `gain` is compared with the swatches (their a and b differences weigh 1).
///
/// With a gain above 1, weighting lightness by the gain is the same as scaling the pixel's a and
/// b by √gain and the swatches' by 1/√gain: both are compared at the colourfulness midway
/// between the image's and the swatches', and neither's lightness is drowned by the other's
/// chroma. A gain below 1 (a photo more colourful than the swatches) only brings the pixel's
/// chroma down, which drowns nothing, so lightness keeps its plain weight; with greys for
/// swatches (gain 0) the midway would not exist.
///
/// Measured on 2026-11-29 against the plain weight (`transfer bench-data/F/heldout/photos
/// --style-profile F.st --size 256`, ΔE / texture): cartoon 8.34 / 0.178 → 7.51 / 0.206, comic
/// 9.19 / 0.177 → 9.03 / 0.174, pixelart 10.12 / 0.278 → 10.01 / 0.236, poster3 17.07 /
/// 0.287 → 16.16 / 0.278, and popart, written after the rule, 10.20 / 0.205 → 9.81 / 0.128
/// (README, "Posterising").
pub fn lightness_weight(gain: f64) -> f64 {
    gain.max(1.0)
}

/// The first of `count` swatches at the smallest distance `d(k)`.
fn nearest(count: usize, d: impl Fn(usize) -> f64) -> usize {
    (0..count)
        .min_by(|&a, &b| d(a).total_cmp(&d(b)))
        .expect("posterised: at least one swatch")
}

/// The in-bounds 8-neighbours of pixel `i` of a `w`×`h` image.
fn neighbours(i: usize, w: usize, h: usize) -> impl Iterator<Item = usize> {
    let (x, y) = ((i % w) as isize, (i / w) as isize);
    (-1isize..=1)
        .flat_map(move |dy| (-1isize..=1).map(move |dx| (x + dx, y + dy)))
        .filter(move |&(nx, ny)| {
            (nx, ny) != (x, y) && nx >= 0 && ny >= 0 && nx < w as isize && ny < h as isize
        })
        .map(move |(nx, ny)| ny as usize * w + nx as usize)
}

fn is_isolated<T: PartialEq>(labels: &[T], i: usize, w: usize, h: usize) -> bool {
    neighbours(i, w, h)
        .filter(|&j| labels[j] == labels[i])
        .count()
        < ISOLATED_NEIGHBOURS
}

/// The share of `labels`' pixels (weighted by `mask`) that are isolated.
fn isolated_share<T: PartialEq + Sync>(
    labels: &[T],
    w: usize,
    h: usize,
    mask: Option<&[f32]>,
) -> f64 {
    let (hit, total) = (0..labels.len())
        .into_par_iter()
        .map(|i| {
            let m = mask.map_or(1.0, |m| m[i] as f64);
            (if is_isolated(labels, i, w, h) { m } else { 0.0 }, m)
        })
        .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    if total > 0.0 { hit / total } else { 0.0 }
}

/// `labels` (indices into `swatches`, CIE Lab) with every isolated pixel given its neighbours'
/// most common label; of labels as common, the one whose colour is nearest the pixel's.
fn clean(labels: &[usize], w: usize, h: usize, swatches: &[[f64; 3]]) -> Vec<usize> {
    let d = |a: usize, b: usize| {
        (0..3)
            .map(|c| (swatches[a][c] - swatches[b][c]).powi(2))
            .sum::<f64>()
    };
    (0..labels.len())
        .into_par_iter()
        .map(|i| {
            if !is_isolated(labels, i, w, h) {
                return labels[i];
            }
            let mut votes: Vec<(usize, usize)> = Vec::with_capacity(8);
            for j in neighbours(i, w, h) {
                match votes.iter_mut().find(|(l, _)| *l == labels[j]) {
                    Some(v) => v.1 += 1,
                    None => votes.push((labels[j], 1)),
                }
            }
            let own = labels[i];
            votes
                .into_iter()
                .max_by(|a, b| {
                    a.1.cmp(&b.1)
                        .then(d(b.0, own).total_cmp(&d(a.0, own)))
                        .then(b.0.cmp(&a.0))
                })
                .map_or(own, |(l, _)| l)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w`×`h` image whose pixel i has colour `f(i)`.
    fn image(w: usize, h: usize, f: impl Fn(usize) -> [f32; 3]) -> Rgb {
        let n = w * h;
        let mut data = vec![0.0; 3 * n];
        for i in 0..n {
            let c = f(i);
            for k in 0..3 {
                data[k * n + i] = c[k];
            }
        }
        Rgb::from_planar(w, h, data)
    }

    const RED: [u8; 3] = [200, 30, 20];
    const BLUE: [u8; 3] = [20, 40, 190];
    const GREY: [u8; 3] = [128, 128, 128];
    const SAND: [u8; 3] = [230, 210, 120];

    fn float(c: [u8; 3]) -> [f32; 3] {
        c.map(|v| v as f32 / 255.0)
    }

    /// Half red, a quarter blue, a quarter grey.
    fn cel() -> Rgb {
        image(16, 16, |i| match i % 4 {
            0 | 1 => float(RED),
            2 => float(BLUE),
            _ => float(GREY),
        })
    }

    /// A smooth photo-like image: every pixel its own colour.
    fn gradient() -> Rgb {
        image(64, 64, |i| {
            let (x, y) = ((i % 64) as f32 / 63.0, (i / 64) as f32 / 63.0);
            [x, y, 0.5 * (x + y) + 0.001 * (i % 7) as f32]
        })
    }

    #[test]
    fn a_few_exact_colours_are_swatches_and_a_gradient_is_not_posterised() {
        let s = Swatches::of(&cel(), None);
        assert_eq!(
            s.colours.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
            vec![RED, BLUE, GREY]
        );
        assert!((s.colours[0].1 - 0.5).abs() < 1e-12);
        s.check().unwrap();
        let g = Swatches::of(&gradient(), None);
        assert!(!g.is_posterised(), "{} swatches", g.colours.len());
        g.check().unwrap();
    }

    #[test]
    fn a_rare_colour_below_the_coverage_is_left_out() {
        // one pixel in 256 (0.4 %) is green: the other three colours cover 99.6 %
        let img = image(16, 16, |i| match (i, i % 4) {
            (0, _) => [0.0, 1.0, 0.0],
            (_, 0 | 1) => float(RED),
            (_, 2) => float(BLUE),
            _ => float(GREY),
        });
        let s = Swatches::of(&img, None);
        assert_eq!(s.colours.len(), 3);
        assert!(s.colours.iter().all(|(c, _)| *c != [0, 255, 0]));
        let sum: f64 = s.colours.iter().map(|(_, v)| v).sum();
        assert!((sum - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_mask_counts_only_its_region() {
        // the mask keeps the red and blue pixels only
        let mask: Vec<f32> = (0..256).map(|i| (i % 4 != 3) as u8 as f32).collect();
        let s = Swatches::of(&cel(), Some(&mask));
        assert_eq!(s.colours.len(), 2);
        assert!((s.colours[0].1 - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn every_pixel_takes_its_nearest_swatch() {
        let s = Swatches::of(&cel(), None);
        // a noisy version of the cel image, each colour off by up to 0.06
        let noisy = image(16, 16, |i| {
            let c = float(match i % 4 {
                0 | 1 => RED,
                2 => BLUE,
                _ => GREY,
            });
            let e = 0.06 * ((i * 37 % 11) as f32 / 10.0 - 0.5);
            c.map(|v| (v + e).clamp(0.0, 1.0))
        });
        assert_ne!(noisy, cel());
        assert_eq!(s.apply(&noisy), cel());
        // a style that is not posterised leaves the image be
        let g = gradient();
        assert_eq!(Swatches::of(&g, None).apply(&g), g);
    }

    #[test]
    fn a_dull_pixel_takes_the_vivid_swatch_of_its_hue() {
        // swatches: a vivid red and a mid grey of about the same lightness as a dull red
        let style = image(8, 8, |i| {
            if i % 2 == 0 {
                float([230, 40, 40])
            } else {
                float(GREY)
            }
        });
        let s = Swatches::of(&style, None);
        // a dull, greyish red photo: nearer the grey in Lab, but red in hue
        let dull = float([150, 110, 110]);
        let photo = image(8, 8, |_| dull);
        let plain = srgb_to_lab(dull);
        let d = |c: [u8; 3]| {
            let s = srgb_to_lab(float(c));
            (0..3).map(|k| (plain[k] - s[k]).powi(2)).sum::<f64>()
        };
        assert!(
            d(GREY) < d([230, 40, 40]),
            "the test needs grey to be nearer"
        );
        let out = s.apply(&photo);
        assert_eq!(out.data[0], 230.0 / 255.0, "took {:?}", &out.data[..1]);
    }

    #[test]
    fn mixing_weights_the_images_and_needs_every_one_posterised() {
        let a = Swatches::of(&image(4, 4, |_| float(RED)), None);
        let b = Swatches::of(&image(4, 4, |_| float(BLUE)), None);
        let m = Swatches::mix(&[(&a, 3.0), (&b, 1.0)]).unwrap();
        assert_eq!(m.colours, vec![(RED, 0.75), (BLUE, 0.25)]);
        m.check().unwrap();
        let g = Swatches::of(&gradient(), None);
        assert!(
            !Swatches::mix(&[(&a, 1.0), (&g, 1.0)])
                .unwrap()
                .is_posterised()
        );
        // a part of weight 0 does not count
        assert_eq!(Swatches::mix(&[(&a, 1.0), (&g, 0.0)]).unwrap(), a);
        assert!(Swatches::mix(&[(&a, 0.0)]).is_none());
    }

    #[test]
    fn a_light_pixel_keeps_its_lightness_when_a_dull_photo_is_made_vivid() {
        // swatches: a vivid red, a pale pink 30 L* darker than a near-white, and the near-white
        const PINK: [u8; 3] = [235, 120, 120];
        const WHITE: [u8; 3] = [245, 242, 242];
        let style = image(10, 10, |i| {
            float(match i / 10 {
                0..4 => [230, 40, 40],
                4..6 => PINK,
                _ => WHITE,
            })
        });
        let s = Swatches::of(&style, None);
        // a dull photo, a greyish red left and a light, faintly pink right: the chroma gain
        // is about 4.4
        let light = float([225, 205, 205]);
        let photo = image(8, 8, |i| {
            if i % 8 < 4 {
                float([150, 110, 110])
            } else {
                light
            }
        });
        // at the swatches' colourfulness, with lightness weighed plainly, the light pixel
        // would be nearer the pink than the near-white
        let own = srgb_to_lab(light);
        let labs: Vec<[f64; 3]> = (0..64)
            .map(|i| srgb_to_lab([photo.data[i], photo.data[64 + i], photo.data[128 + i]]))
            .collect();
        let swatch_labs: Vec<[f64; 3]> = s
            .colours
            .iter()
            .map(|(c, _)| srgb_to_lab(float(*c)))
            .collect();
        let gain = s.chroma_gain(&swatch_labs, &labs);
        assert!(gain > 4.0 && gain < 5.0, "gain {gain}");
        let d = |c: [u8; 3], lw: f64| {
            let t = srgb_to_lab(float(c));
            lw * (own[0] - t[0]).powi(2)
                + (own[1] * gain - t[1]).powi(2)
                + (own[2] * gain - t[2]).powi(2)
        };
        assert!(
            d(PINK, 1.0) < d(WHITE, 1.0),
            "the test needs pink to be nearer"
        );
        assert_eq!(lightness_weight(gain), gain);
        assert!(d(WHITE, gain) < d(PINK, gain));
        let out = s.apply(&photo);
        let at = |i: usize| [out.data[i], out.data[64 + i], out.data[128 + i]];
        assert_eq!(at(7), float(WHITE), "the light pixel took {:?}", at(7));
        // the dull red still takes the vivid red
        assert_eq!(at(0), float([230, 40, 40]));
        // a gain below 1 leaves lightness its plain weight
        assert_eq!(lightness_weight(0.0), 1.0);
        assert_eq!(lightness_weight(0.5), 1.0);
    }

    /// Swatches of `colours`, equally shared, without a share of isolated pixels (no cleaning).
    fn equal(colours: &[[u8; 3]]) -> Swatches {
        let share = 1.0 / colours.len() as f64;
        Swatches {
            colours: colours.iter().map(|&c| (c, share)).collect(),
            isolated: None,
            ..Swatches::default()
        }
    }

    /// Every colour whose channels take the given levels.
    fn grid(levels: &[u8]) -> Vec<[u8; 3]> {
        let mut out = Vec::new();
        for &r in levels {
            for &g in levels {
                for &b in levels {
                    out.push([r, g, b]);
                }
            }
        }
        out
    }

    #[test]
    fn a_per_channel_grid_is_told_from_a_palette() {
        // 3 levels from 0 to 255; one level off by 1 still counts (8-bit rounding); 2 and 4
        // bits truncated (0, 64, 128, 192 and 0, 16, …, 240), part of the grid used
        assert!(equal(&grid(&[0, 128, 255])).is_channel_grid());
        assert!(equal(&grid(&[0, 85, 171, 255])).is_channel_grid());
        assert!(equal(&grid(&[0, 64, 128, 192])[..40]).is_channel_grid());
        let four_bits: Vec<u8> = (0..16).map(|i| i * 16).collect();
        assert!(equal(&grid(&four_bits)[..1000]).is_channel_grid());
        // 5 levels that are not evenly spaced are not a grid
        assert!(!equal(&grid(&[0, 40, 128, 150, 255])).is_channel_grid());
        // a palette of arbitrary colours is not, even with a grey on every grid among them
        assert!(!Swatches::of(&cel(), None).is_channel_grid());
        // nor are the 8-bit greys of a black-and-white photo
        let greys: Vec<[u8; 3]> = (0..200).map(|v| [v, v, v]).collect();
        assert!(!equal(&greys).is_channel_grid());
        // a grid with an outline colour off it: counted by share, up to a quarter
        let with_outline = |outline_share: f64| {
            let colours = grid(&[0, 128, 255]);
            let each = (1.0 - outline_share) / colours.len() as f64;
            let mut colours: Vec<([u8; 3], f64)> = colours.into_iter().map(|c| (c, each)).collect();
            colours.push(([26, 20, 31], outline_share));
            Swatches {
                colours,
                isolated: None,
                ..Swatches::default()
            }
        };
        assert!(with_outline(0.2).is_channel_grid());
        assert!(!with_outline(0.3).is_channel_grid());
    }

    #[test]
    fn a_per_channel_grid_rounds_each_channel_of_a_dull_photo() {
        // a dull photo: each channel within 0.3 of mid grey
        let photo = image(32, 32, |i| {
            let (x, y) = ((i % 32) as f32 / 31.0, (i / 32) as f32 / 31.0);
            [0.35 + 0.3 * x, 0.35 + 0.3 * y, 0.5 + 0.15 * (x - y)]
        });
        let s = equal(&grid(&[0, 128, 255]));
        let out = s.apply(&photo);
        let round = |v: f32| ((v * 2.0).round() * 128.0).min(255.0) / 255.0;
        assert_eq!(
            out.data,
            photo.data.iter().map(|&v| round(v)).collect::<Vec<_>>()
        );
        // seen at the swatches' colourfulness in Lab, the same photo takes vivid colours
        let lab = s.nearest_in_lab(
            &photo,
            &s.colours
                .iter()
                .map(|(c, _)| srgb_to_lab(float(*c)))
                .collect::<Vec<_>>(),
        );
        let vivid = lab.iter().filter(|&&k| {
            let c = s.colours[k].0;
            c.iter().max() != c.iter().min()
        });
        assert!(vivid.count() > 32 * 32 / 2);
    }

    /// Two flat halves, red and blue, as a smoothed-then-posterised filter leaves them.
    fn halves(w: usize, h: usize) -> Rgb {
        image(w, h, |i| float(if i % w < w / 2 { RED } else { BLUE }))
    }

    #[test]
    fn speckle_is_cleaned_down_to_the_style_s_share_of_isolated_pixels() {
        let style = Swatches::of(&halves(16, 16), None);
        assert_eq!(style.isolated, Some(0.0));
        // a result with a few stray pixels of the other colour inside each half
        let strays = [(3, 3), (12, 5), (4, 10), (11, 13)];
        let speckled = image(16, 16, |i| {
            let (x, y) = (i % 16, i / 16);
            let left = (x < 8) != strays.contains(&(x, y));
            float(if left { RED } else { BLUE })
        });
        assert!(style.apply(&speckled) == halves(16, 16), "speckle left");
        // without a recorded share (an older profile) the speckle stays
        let old = Swatches {
            isolated: None,
            ..style.clone()
        };
        assert!(old.apply(&speckled) == speckled);
        // a style whose colours are fine texture (13 greys, no pixel sharing its grey with a
        // neighbour) keeps the result's own isolated pixels
        let check = image(16, 16, |i| [((i * 7 % 13) * 19) as f32 / 255.0; 3]);
        let fine = Swatches::of(&check, None);
        assert_eq!(fine.isolated, Some(1.0));
        let unclean = Swatches {
            isolated: None,
            ..fine.clone()
        };
        assert!(fine.apply(&speckled) == unclean.apply(&speckled));
        // shares mix by weight
        let m = Swatches::mix(&[(&style, 3.0), (&fine, 1.0)]).unwrap();
        assert_eq!(m.isolated, Some(0.25));
        // a style mostly of fine texture (75% isolated) does not clean a result that has even
        // more isolated pixels: its grain would be smoothed away
        let grainy = Swatches::mix(&[(&style, 1.0), (&fine, 3.0)]).unwrap();
        assert_eq!(grainy.isolated, Some(0.75));
        let unclean = Swatches {
            isolated: None,
            ..grainy.clone()
        };
        assert!(grainy.apply(&check) == unclean.apply(&check));
    }

    #[test]
    fn damaged_swatches_are_refused() {
        let good = Swatches::of(&cel(), None);
        let mut twice = good.clone();
        twice.colours[1].0 = twice.colours[0].0;
        let mut negative = good.clone();
        negative.colours[0].1 = -0.5;
        let mut unnormalised = good.clone();
        unnormalised.colours[0].1 *= 2.0;
        let mut isolated = good.clone();
        isolated.isolated = Some(1.5);
        for bad in [twice, negative, unnormalised, isolated] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    /// Four colours in regions 20×28 px, whose edges fall inside a JPEG's 8 px blocks, with a
    /// faint grain of a level up or down.
    fn regions(w: usize, h: usize) -> Rgb {
        let colours = [RED, BLUE, GREY, SAND];
        image(w, h, |i| {
            let (x, y) = (i % w, i / w);
            let grain = ((x / 2 + y / 2) % 2) as f32 * 2.0 - 1.0;
            float(colours[(x / 20 + 2 * (y / 28)) % 4]).map(|v| v + grain / 255.0)
        })
    }

    /// Whether `c` is within `levels` of `want` in every channel.
    fn near(c: [u8; 3], want: [u8; 3], levels: i32) -> bool {
        (0..3).all(|k| (c[k] as i32 - want[k] as i32).abs() <= levels)
    }

    #[test]
    fn a_lossy_image_s_palette_is_estimated_from_its_flat_regions() {
        let painted = regions(100, 84);
        for quality in [90, 75] {
            let jpeg = painted.through_jpeg(quality);
            let s = Swatches::of_lossy(&jpeg, None);
            assert!(s.lossy && s.is_posterised(), "quality {quality}");
            s.check().unwrap();
            // the four largest swatches are the four colours, and carry most of the pixels
            for want in [RED, BLUE, GREY, SAND] {
                assert!(
                    s.colours[..4].iter().any(|(c, _)| near(*c, want, 3)),
                    "quality {quality}: {want:?} not among {:?}",
                    &s.colours[..4]
                );
            }
            let top: f64 = s.colours[..4].iter().map(|(_, share)| share).sum();
            assert!(top > 0.9, "quality {quality}: {top}");
            let isolated = s.isolated.unwrap();
            assert!(isolated < 0.1, "quality {quality}: {isolated}");
            // a result takes the four colours' swatches, in the painting's regions
            let painted_again = s.apply(&painted);
            let px = painted_again.pixels_8bit();
            let within = px
                .iter()
                .zip(painted.pixels_8bit())
                .filter(|(c, want)| near(**c, *want, 3))
                .count();
            assert!(within as f64 > 0.98 * px.len() as f64, "quality {quality}");
        }
        // only the masked region counts: the top-left region, red
        let mask: Vec<f32> = (0..100 * 84)
            .map(|i| {
                if i % 100 < 20 && i / 100 < 28 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let red = Swatches::of_lossy(&painted.through_jpeg(90), Some(&mask));
        red.check().unwrap();
        assert!(
            near(red.colours[0].0, RED, 3) && red.colours[0].1 > 0.9,
            "{red:?}"
        );
        // noise has no flat pixels: no palette, though marked as estimated
        let hash = |i: usize| {
            let h = (i as u32).wrapping_mul(2_654_435_761).rotate_left(13) ^ 0x5bd1_e995;
            (h.wrapping_mul(2_246_822_519) >> 8) as f32 / (1 << 24) as f32
        };
        let noise = image(64, 64, |i| [hash(3 * i), hash(3 * i + 1), hash(3 * i + 2)]);
        let none = Swatches::of_lossy(&noise.through_jpeg(90), None);
        assert!(none.lossy && !none.is_posterised());
        // a mix is estimated if any of its parts is
        let exact = Swatches::of(&painted, None);
        assert!(!exact.lossy && exact.is_posterised());
        let s = Swatches::of_lossy(&painted.through_jpeg(90), None);
        let mixed = Swatches::mix(&[(&exact, 1.0), (&s, 1.0)]).unwrap();
        assert!(mixed.lossy && mixed.is_posterised());
        assert!(Swatches::mix(&[(&exact, 1.0), (&none, 1.0)]).unwrap().lossy);
        assert!(
            !Swatches::mix(&[(&exact, 1.0), (&exact, 2.0)])
                .unwrap()
                .lossy
        );
    }

    /// A smooth photo-like image through a JPEG: gradients of under a level per pixel, so
    /// every pixel is flat, and the estimate tiles them into hundreds of swatches.
    fn smooth_sky() -> Rgb {
        image(128, 96, |i| {
            let (x, y) = ((i % 128) as f32 / 127.0, (i / 128) as f32 / 95.0);
            [0.3 + 0.4 * x, 0.4 + 0.3 * y, 0.8 - 0.2 * x * y]
        })
        .through_jpeg(90)
    }

    #[test]
    fn several_lossy_images_look_posterised_when_most_need_few_swatches() {
        let painted = Swatches::of_lossy(&regions(100, 84).through_jpeg(90), None);
        let sky = Swatches::of_lossy(&smooth_sky(), None);
        assert!(painted.is_posterised() && painted.colours.len() <= LOSSY_TYPICAL_SWATCHES);
        assert!(
            sky.is_posterised() && sky.colours.len() > LOSSY_TYPICAL_SWATCHES,
            "{}",
            sky.colours.len()
        );
        let mix = |parts: &[(&Swatches, f64)]| Swatches::mix(parts).unwrap();
        // one image cannot tell, nor two
        assert!(!painted.looks_posterised());
        assert!(!mix(&[(&painted, 1.0); 2]).looks_posterised());
        assert!(!mix(&[(&painted, 1.0), (&painted, 1.0), (&painted, 0.0)]).looks_posterised());
        // three can
        let three = mix(&[(&painted, 1.0); 3]);
        assert!(three.lossy && three.lossy_posterised && three.looks_posterised());
        // swatches that show a palette keep showing it, mixed alone (a learned image carries
        // its dataset's) or with others that do; one lossy image beside them cannot tell
        assert!(mix(&[(&three, 1.0)]).looks_posterised());
        assert!(mix(&[(&three, 1.0), (&three, 2.0)]).looks_posterised());
        assert!(!mix(&[(&three, 1.0), (&painted, 1.0)]).looks_posterised());
        // three quarters of the images, by weight, must need few swatches
        let four = |w: f64| mix(&[(&painted, 1.0), (&painted, 1.0), (&painted, 1.0), (&sky, w)]);
        assert!(four(1.0).looks_posterised());
        assert!(!four(1.5).looks_posterised());
        // a photo's smooth regions do not look posterised, however many
        let skies = mix(&[(&sky, 1.0); 4]);
        assert!(skies.is_posterised() && !skies.looks_posterised());
        // exact swatches need no sign
        assert!(Swatches::of(&cel(), None).looks_posterised());
        // the sign is kept where swatches are written (a profile, a learned image's note);
        // swatches written before it was are not taken unasked
        let back: Swatches = serde_json::from_str(&serde_json::to_string(&three).unwrap()).unwrap();
        assert_eq!(back, three);
        let mut older = serde_json::to_value(&three).unwrap();
        older.as_object_mut().unwrap().remove("lossy_posterised");
        let older: Swatches = serde_json::from_value(older).unwrap();
        assert!(older.lossy && !older.looks_posterised());
    }

    #[test]
    fn estimated_swatches_on_a_grid_are_moved_onto_it() {
        // a JPEG leaves a 4-level grid's colours a few levels off, with satellites
        let off = Swatches {
            colours: vec![
                ([0, 86, 85], 0.4),
                ([170, 168, 3], 0.3),
                ([253, 255, 87], 0.15),
                ([2, 84, 87], 0.1),
                ([60, 200, 120], 0.05),
            ],
            isolated: None,
            lossy: true,
            ..Swatches::default()
        };
        assert!(off.is_channel_grid());
        let counted = Swatches {
            lossy: false,
            ..off.clone()
        };
        assert!(!counted.is_channel_grid(), "exact swatches lie within 1");
        let snapped = off.snapped_to_grid();
        assert_eq!(
            snapped.colours,
            vec![
                ([0, 85, 85], 0.5),
                ([170, 170, 0], 0.3),
                ([255, 255, 85], 0.15),
                ([60, 200, 120], 0.05)
            ],
            "a swatch off the grid stays"
        );
        let painted = off.apply(&gradient()).pixels_8bit();
        assert!(
            painted
                .iter()
                .all(|c| snapped.colours.iter().any(|(s, _)| s == c)),
            "every pixel takes a swatch moved onto the grid, or one off it"
        );
        // swatches counted exactly, or not on a grid, stay as they are: a comic's outline
        let outlined = Swatches {
            colours: vec![
                ([0, 85, 85], 0.6),
                ([170, 170, 0], 0.3),
                ([26, 20, 31], 0.1),
            ],
            isolated: None,
            ..Swatches::default()
        };
        assert!(outlined.is_channel_grid());
        assert_eq!(outlined.snapped_to_grid(), outlined);
        assert_eq!(counted.snapped_to_grid(), counted);
        let palette = Swatches {
            lossy: true,
            ..Swatches::of(&cel(), None)
        };
        assert_eq!(palette.snapped_to_grid(), palette);
    }
}
