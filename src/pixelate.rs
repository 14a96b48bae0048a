//! Pixelation: a style painted in square blocks of one colour, and a result given them.
//!
//! A filter that pixelates (shrinks the photo, then enlarges it again without smoothing, as a
//! "pixel art" or mosaic effect does) leaves an exact trace in its outputs: inside each block
//! every pixel has its neighbours' colour, to the last bit, and the colour changes only on the
//! lines of a grid. No photo and no other filter does that: a posterising filter's flat regions
//! also repeat colours (87–92% of the pixels next to each other are equal in the benchmark's
//! cartoon and palette outputs), but their edges fall anywhere. So an image's [`Seen`] tells,
//! from the image alone, whether it is pixelated and how large its blocks are
//! ([`Seen::of`]): a whole number of pixels, or a side shrunk to a whole number of blocks and
//! enlarged again, which makes them a fraction of a pixel larger or smaller (40 blocks across
//! 256 px are 6.4 px: 6 or 7 px wide, placed as the resizer rounds). A dataset is pixelated
//! when its images agree ([`Blocks::mix`]), and [`Blocks::apply`] gives a result the same
//! blocks, each the mean of its pixels, before posterising ([`crate::posterise`]) takes the
//! block colours to the filter's palette.
//!
//! The optimisation cannot make blocks itself: the style statistics are averages over
//! positions, blind to where a grid's lines fall, so a result has the blocks' texture (edges,
//! flat patches) without their alignment.
//!
//! Colours are compared exactly (8-bit sRGB), so they must be read on the images as decoded,
//! before any resizing blends them. A lossy format's noise (JPEG) breaks that equality, so an
//! image read from one is judged by contrast instead ([`Seen::of_lossy`]): inside the blocks
//! neighbouring pixels differ by the noise, across the lines by the colours' steps.
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::image_io::Rgb;

/// The share of neighbouring pixel pairs inside the blocks that must be of equal colour.
pub const INSIDE_EQUAL: f64 = 0.99;
/// The share of neighbouring pixel pairs across the blocks' edges that must differ for an
/// image to show its blocks. Below it the image is too flat to tell ([`Seen::Flat`]): a
/// pixelated sky, or a posterised image whose regions are large (0.2–3% of the pairs differ
/// on any grid in the benchmark's flattest palette outputs, where pixel art's differ on
/// 18–44% of its edges).
pub const EDGE_CHANGE: f64 = 0.1;
/// The largest block side looked for, in pixels.
pub const MAX_BLOCK: usize = 64;
/// The fewest blocks across an image's side for its blocks to be looked for.
pub const MIN_BLOCKS: usize = 4;
/// How far the pixelated images' block sizes (relative to their long sides) may lie from their
/// mean, as a share of it, for a dataset to count as pixelated.
pub const SIZE_SPREAD: f64 = 0.25;

/// The blocks a pixelated style is painted in.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Blocks {
    /// A block's side in pixels, in an image whose long side is `long_side`.
    pub size: f64,
    /// The long side the block size is measured at; a result of another size takes blocks of
    /// the same share of its long side ([`Blocks::size_at`]).
    pub long_side: f64,
}

/// What one image shows of pixelation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Seen {
    /// Square blocks of one colour on a grid (square within [`SQUARE_SPREAD`]).
    Blocks(Blocks),
    /// Consistent with blocks, but too flat to show them ([`EDGE_CHANGE`]).
    Flat,
    /// Not pixelated: some neighbouring pixels differ wherever a grid's lines would fall.
    No,
}

/// In a lossy image (JPEG), whose noise breaks the equality inside blocks, the most that a
/// position inside the blocks may differ from its neighbour on average, as a share of what the
/// pairs across the lines differ ([`Seen::of_lossy`]). Measured on the benchmark's training
/// outputs saved as JPEG at quality 90 and 75 (whole-pixel grids): 0.04–0.44 on pixelating
/// filters' images (their flattest aside), 0.46–0.98 on the other filters' best grids (a dot
/// screen's period the lowest).
pub const LOSSY_RATIO: f64 = 0.45;
/// In a lossy image, the least mean difference across the lines, in 8-bit levels, for an image
/// to show its blocks; below it, and in an image whose neighbouring pixels differ less than
/// this on average, the noise is as large as the blocks' edges: too flat to tell.
pub const LOSSY_EDGE: f64 = 5.0;

/// How far the block sides found along the two directions may lie apart, as a share of the
/// larger, for the blocks to count as square. A filter that shrinks each side of the photo to a
/// whole number of blocks rounds the two sides apart: 40 blocks across a 256 × 170 image's long
/// side give 6.4 px, and 27 across its short side 6.3 px.
pub const SQUARE_SPREAD: f64 = 0.15;

/// A grid of lines along one direction: blocks `size` pixels wide (not necessarily a whole
/// number), the first starting at `phase`. The pair of pixels (x, x + 1) is across a line when
/// x + 1 starts a block: ⌊(x + 1 − phase) / size⌋ ≠ ⌊(x − phase) / size⌋.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Lines {
    size: f64,
    phase: f64,
}

/// How close to a pixel a line of blocks must fall to lie on it (see [`Lines::position`]).
const TIE: f64 = 1e-6;

impl Lines {
    /// The grids looked for along a side of `n` pixels, largest blocks first: each whole side
    /// from [`MAX_BLOCK`] down to 2 at every offset, and each whole number of blocks across the
    /// side whose blocks are not a whole number of pixels, placed as the three usual ways of
    /// enlarging without smoothing place them (block ⌊x m / n⌋, ⌊(x + ½) m / n⌋, or
    /// round(x (m − 1) / (n − 1)) for pixel x of m blocks). At least [`MIN_BLOCKS`] across.
    fn candidates(n: usize) -> Vec<Lines> {
        let mut out = Vec::new();
        for k in 2..=MAX_BLOCK.min(n / MIN_BLOCKS) {
            out.extend((0..k).map(|o| Lines {
                size: k as f64,
                phase: o as f64,
            }));
        }
        let nf = n as f64;
        for m in MIN_BLOCKS.max(n.div_ceil(MAX_BLOCK))..=n / 2 {
            let size = nf / m as f64;
            let corners = (nf - 1.0) / (m - 1) as f64;
            let placed = [(size, 0.0), (size, -0.5), (corners, -corners / 2.0)];
            for (size, phase) in placed {
                if size.fract() != 0.0 && size <= MAX_BLOCK as f64 {
                    out.push(Lines { size, phase });
                }
            }
        }
        out.sort_by(|a, b| b.size.total_cmp(&a.size));
        out
    }

    /// Where the pair (x, x + 1) lies: `Some(0)` across a line, else `Some` of the position of
    /// x + 1 in its block (1 up to the block's side, rounded to a pixel). `None` when a line of
    /// blocks that are not a whole number of pixels falls exactly on pixel x or x + 1 (its
    /// block index, ⌊(x − phase) / size⌋, is a whole number): an enlarging computes that index
    /// in floating point and puts such a pixel in either block, so the pairs beside it are not
    /// counted. Whole sides place every line exactly.
    fn position(&self, x: usize) -> Option<usize> {
        let whole = self.size.fract() == 0.0;
        let on_edge = |e: f64| {
            let line = ((e - self.phase) / self.size).round() * self.size + self.phase;
            (line - e).abs() < TIE
        };
        let x = x as f64;
        if !whole && (on_edge(x) || on_edge(x + 1.0)) {
            return None;
        }
        let at = (x + 1.0 - self.phase) / self.size;
        Some(if at.floor() != ((x - self.phase) / self.size).floor() {
            0
        } else {
            ((at - at.floor()) * self.size).round().max(1.0) as usize
        })
    }

    /// The pairs among the first `pairs` that are across a line (`true`) or not counted
    /// ([`Lines::position`] `Some(0)` or `None`), in order: the line between blocks j − 1 and
    /// j lies across the pair before pixel ⌈j size + phase⌉, or on a pixel.
    fn beside(&self, pairs: usize) -> impl Iterator<Item = (usize, bool)> + '_ {
        let whole = self.size.fract() == 0.0;
        ((-self.phase / self.size).floor() as i64..)
            .map(move |j| j as f64 * self.size + self.phase)
            .take_while(move |&b| b < pairs as f64 + 1.0)
            .flat_map(move |b| {
                let on = b.round();
                if !whole && (b - on).abs() < TIE {
                    [(on as i64 - 1, false), (on as i64, false)]
                } else {
                    [(b.ceil() as i64 - 1, true), (-1, false)]
                }
            })
            .filter(move |&(x, _)| x >= 0 && x < pairs as i64)
            .map(|(x, line)| (x as usize, line))
    }
}

/// Two (value, weight) sums added.
fn add(a: (f64, f64), b: &(f64, f64)) -> (f64, f64) {
    (a.0 + b.0, a.1 + b.1)
}

/// How neighbouring pixels are compared.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Compare {
    /// Equal to the last bit or not (a lossless image): per pair, the weight of the equal pairs.
    Exact,
    /// By their largest channel difference in 8-bit levels (a lossy image): per pair, the
    /// weighted sum of the differences.
    Contrast,
}

/// Along one direction: the block side whose grid fits (with [`Compare::Exact`] the largest,
/// with the placement whose lines stand out most), and how much its lines stand out: with
/// [`Compare::Exact`] the share of the pairs across them that differ, with
/// [`Compare::Contrast`] their mean difference. `None` when no grid fits. With
/// [`Compare::Exact`] a grid fits when, at every position inside its blocks, at least
/// [`INSIDE_EQUAL`] of the neighbouring pairs are equal: each position on its own, so that a
/// grid twice the true one's, whose middle lines change on a few pairs only in a flat image,
/// does not fit. With [`Compare::Contrast`], when every position's mean difference is
/// at most [`LOSSY_RATIO`] of the lines', and the grid taken is not the largest that fits but
/// the one whose positions differ least against its lines: a grid of half the side fits too,
/// its lines diluted by the blocks' middles, and a large wrong grid's few lines can stand out
/// by chance. `pairs` holds, per pair (x, x + 1), its value (see [`Compare`]) and its weight.
fn grid(pairs: &[(f64, f64)], compare: Compare) -> Option<(f64, f64)> {
    // the grid, how much its lines stand out, and the score it was chosen by
    let mut best: Option<(f64, f64, f64)> = None;
    let total = pairs.iter().fold((0.0, 0.0), add);
    for lines in Lines::candidates(pairs.len() + 1) {
        if compare == Compare::Exact && best.is_some_and(|(size, _, _)| lines.size < size) {
            break;
        }
        // First the positions inside the blocks pooled, which every grid that fits passes: it
        // needs only the pairs on and beside the lines, and rules out most grids of a photo.
        let (mut across, mut beside) = ((0.0, 0.0), (0.0, 0.0));
        for (x, line) in lines.beside(pairs.len()) {
            beside = add(beside, &pairs[x]);
            if line {
                across = add(across, &pairs[x]);
            }
        }
        let inside = (total.0 - beside.0, total.1 - beside.1);
        let slack = 1e-9 * total.1;
        let pooled = match compare {
            Compare::Exact => inside.0 >= INSIDE_EQUAL * inside.1 - slack,
            Compare::Contrast => {
                across.1 > 0.0 && inside.0 <= LOSSY_RATIO * across.0 / across.1 * inside.1 + slack
            }
        };
        if !pooled {
            continue;
        }
        let mut at = vec![(0.0, 0.0); lines.size.ceil() as usize + 1];
        for (x, p) in pairs.iter().enumerate() {
            if let Some(r) = lines.position(x) {
                at[r] = add(at[r], p);
            }
        }
        if at[0].1 <= 0.0 {
            continue;
        }
        let (fits, stands_out, score) = match compare {
            Compare::Exact => {
                let change = 1.0 - at[0].0 / at[0].1;
                let fits = at[1..].iter().all(|&(eq, w)| eq >= INSIDE_EQUAL * w);
                (fits, change, change)
            }
            Compare::Contrast => {
                let line = at[0].0 / at[0].1;
                let inside = at[1..]
                    .iter()
                    .filter(|(_, w)| *w > 0.0)
                    .map(|&(d, w)| d / w)
                    .fold(0.0, f64::max);
                (inside <= LOSSY_RATIO * line, line, -inside / line)
            }
        };
        if fits && best.is_none_or(|(_, _, s)| score > s) {
            best = Some((lines.size, stands_out, score));
        }
    }
    best.map(|(size, stands_out, _)| (size, stands_out))
}

impl Seen {
    /// Whether `img` is pixelated, its colours compared exactly (a lossless image); with a mask
    /// (one value in [0, 1] per pixel) only the pairs of pixels inside the masked region count,
    /// each by the smaller of their mask values.
    pub fn of(img: &Rgb, mask: Option<&[f32]>) -> Seen {
        let px = img.pixels_8bit();
        let equal = |a: usize, b: usize| if px[a] == px[b] { 1.0 } else { 0.0 };
        let [across, down] = pairs(img, mask, equal);
        // a direction whose lines change too little cannot tell its block size
        let shown = |g: Option<(f64, f64)>| g.map(|(k, c)| (c >= EDGE_CHANGE).then_some(k));
        Self::verdict(
            img,
            shown(grid(&across, Compare::Exact)),
            shown(grid(&down, Compare::Exact)),
        )
    }

    /// [`Seen::of`] for an image read from a lossy format (JPEG), whose noise breaks the
    /// equality inside blocks: neighbouring pixels are compared by how much they differ
    /// ([`LOSSY_RATIO`], [`LOSSY_EDGE`]).
    pub fn of_lossy(img: &Rgb, mask: Option<&[f32]>) -> Seen {
        let px = img.pixels_8bit();
        let differ = |a: usize, b: usize| {
            (0..3)
                .map(|c| px[a][c].abs_diff(px[b][c]))
                .max()
                .unwrap_or(0) as f64
        };
        let [across, down] = pairs(img, mask, differ);
        let shown = |pairs: &[(f64, f64)]| match grid(pairs, Compare::Contrast) {
            Some((k, line)) => Some((line >= LOSSY_EDGE).then_some(k)),
            None => {
                let (d, w) = pairs.iter().fold((0.0, 0.0), add);
                (w > 0.0 && d < LOSSY_EDGE * w).then_some(None)
            }
        };
        Self::verdict(img, shown(&across), shown(&down))
    }

    /// [`Seen::of`] or, for an image read from a lossy format, [`Seen::of_lossy`].
    pub fn of_read(img: &Rgb, mask: Option<&[f32]>, lossy: bool) -> Seen {
        if lossy {
            Seen::of_lossy(img, mask)
        } else {
            Seen::of(img, mask)
        }
    }

    /// An image's verdict from its two directions': each `None` when no grid fits, `Some(None)`
    /// when it is too flat to tell, `Some(Some(side))` when it shows blocks of that side.
    fn verdict(img: &Rgb, across: Option<Option<f64>>, down: Option<Option<f64>>) -> Seen {
        let (w, h) = (img.width, img.height);
        match (across, down) {
            (Some(Some(kx)), Some(Some(ky))) if (kx - ky).abs() <= SQUARE_SPREAD * kx.max(ky) => {
                // the long side holds more blocks, so its side is the better measured
                Seen::Blocks(Blocks {
                    size: if w >= h { kx } else { ky },
                    long_side: w.max(h) as f64,
                })
            }
            (Some(Some(_)), Some(Some(_))) => Seen::No,
            (Some(_), Some(_)) => Seen::Flat,
            _ => Seen::No,
        }
    }
}

/// Per column pair (x, x + 1) and per row pair (y, y + 1) of `img`: the sum of `value` over
/// its pixel pairs, each weighted by the smaller of their mask values, and the sum of weights.
fn pairs(
    img: &Rgb,
    mask: Option<&[f32]>,
    value: impl Fn(usize, usize) -> f64,
) -> [Vec<(f64, f64)>; 2] {
    let (w, h) = (img.width, img.height);
    let pair = |a: usize, b: usize| {
        let wt = mask.map_or(1.0, |m| m[a].min(m[b]) as f64);
        (if wt > 0.0 { value(a, b) * wt } else { 0.0 }, wt)
    };
    let across = (0..w.saturating_sub(1))
        .map(|x| {
            (0..h)
                .map(|y| pair(y * w + x, y * w + x + 1))
                .fold((0.0, 0.0), |acc, p| add(acc, &p))
        })
        .collect();
    let down = (0..h.saturating_sub(1))
        .map(|y| {
            (0..w)
                .map(|x| pair(y * w + x, (y + 1) * w + x))
                .fold((0.0, 0.0), |acc, p| add(acc, &p))
        })
        .collect();
    [across, down]
}

impl Blocks {
    /// The blocks of several images (weights need not sum to 1; parts of weight 0 are left
    /// out), or `None` when they are not pixelated: when any image is not, when none shows
    /// blocks, or when the block sizes of those that do, relative to their long sides, lie more
    /// than [`SIZE_SPREAD`] from their weighted mean. Images too flat to tell count neither way:
    /// a filter with few colours leaves most of its images so (8 of 12 for a 4-colour one). The
    /// blocks are the weighted mean's, at the showing images' mean long side.
    pub fn mix(parts: &[(Seen, f64)]) -> Option<Blocks> {
        let parts: Vec<&(Seen, f64)> = parts.iter().filter(|(_, w)| *w > 0.0).collect();
        if parts.iter().any(|(s, _)| *s == Seen::No) {
            return None;
        }
        let shown: Vec<(Blocks, f64)> = parts
            .iter()
            .filter_map(|(s, w)| match s {
                Seen::Blocks(b) => Some((*b, *w)),
                _ => None,
            })
            .collect();
        if shown.is_empty() {
            return None;
        }
        let shown_w: f64 = shown.iter().map(|(_, w)| w).sum();
        let relative = shown
            .iter()
            .map(|(b, w)| b.size / b.long_side * w)
            .sum::<f64>()
            / shown_w;
        let long_side = shown.iter().map(|(b, w)| b.long_side * w).sum::<f64>() / shown_w;
        if shown
            .iter()
            .any(|(b, _)| (b.size / b.long_side - relative).abs() > SIZE_SPREAD * relative)
        {
            return None;
        }
        Some(Blocks {
            size: relative * long_side,
            long_side,
        })
    }

    /// Checks blocks read from a file.
    pub fn check(&self) -> Result<()> {
        if !(self.long_side.is_finite() && self.long_side >= 1.0) {
            bail!("the pixelation's long side is not a size of one pixel or more");
        }
        if !(self.size.is_finite() && self.size >= 1.0 && self.size <= self.long_side) {
            bail!("the pixelation's block size is not between one pixel and the long side");
        }
        Ok(())
    }

    /// The block side, in pixels, of a result whose long side is `long`: the same share of it.
    pub fn size_at(&self, long: usize) -> f64 {
        self.size * long as f64 / self.long_side
    }

    /// `img` with every block of a grid from its top-left corner made the mean of its pixels
    /// (in sRGB, as a filter's shrinking averages them). Blocks of a side that is not a whole
    /// number of pixels have lines at the nearest pixel, so they are one pixel wider or
    /// narrower; the last row and column of blocks are what is left of the image. Unchanged
    /// when the blocks are smaller than two pixels.
    pub fn apply(&self, img: &Rgb) -> Rgb {
        let size = self.size_at(img.width.max(img.height));
        if size < 2.0 {
            return img.clone();
        }
        let lines = |len: usize| -> Vec<usize> {
            let mut v: Vec<usize> = (0..)
                .map(|i| (i as f64 * size).round() as usize)
                .take_while(|&p| p < len)
                .collect();
            v.push(len);
            v
        };
        let (w, h) = (img.width, img.height);
        let n = w * h;
        let (xs, ys) = (lines(w), lines(h));
        let mut out = img.data.clone();
        for yb in ys.windows(2) {
            for xb in xs.windows(2) {
                let count = ((yb[1] - yb[0]) * (xb[1] - xb[0])) as f64;
                for c in 0..3 {
                    let plane = &img.data[c * n..(c + 1) * n];
                    let mut sum = 0.0f64;
                    for y in yb[0]..yb[1] {
                        sum += plane[y * w + xb[0]..y * w + xb[1]]
                            .iter()
                            .map(|&v| v as f64)
                            .sum::<f64>();
                    }
                    let mean = (sum / count) as f32;
                    for y in yb[0]..yb[1] {
                        out[c * n + y * w + xb[0]..c * n + y * w + xb[1]].fill(mean);
                    }
                }
            }
        }
        Rgb::from_planar(w, h, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w`×`h` image of blocks of side `k` from offset `o`, each of a colour from a
    /// deterministic sequence of `levels` levels per channel.
    fn blocky(w: usize, h: usize, k: usize, o: usize, levels: u32) -> Rgb {
        painted(w, h, levels, |x, y| ((x + k - o) / k, (y + k - o) / k))
    }

    /// A `w`×`h` image enlarged without smoothing from `mx`×`my` blocks of colours as in
    /// [`blocky`], pixel x of a side of `n` pixels taking the block `place(x, m, n)`.
    fn enlarged(
        w: usize,
        h: usize,
        mx: usize,
        my: usize,
        place: fn(usize, usize, usize) -> usize,
    ) -> Rgb {
        painted(w, h, 8, |x, y| (place(x, mx, w), place(y, my, h)))
    }

    /// A `w`×`h` image whose pixel (x, y) has the colour of block `block(x, y)`, from a
    /// deterministic sequence of `levels` levels per channel.
    fn painted(
        w: usize,
        h: usize,
        levels: u32,
        block: impl Fn(usize, usize) -> (usize, usize),
    ) -> Rgb {
        let n = w * h;
        let mut data = vec![0.0; 3 * n];
        for y in 0..h {
            for x in 0..w {
                let (bx, by) = block(x, y);
                let seed = (bx * 7919 + by * 104_729) as u32;
                for c in 0..3 {
                    let v =
                        (seed.wrapping_mul(2_654_435_761).rotate_left(8 * c as u32) >> 5) % levels;
                    data[c * n + y * w + x] = v as f32 / (levels - 1) as f32;
                }
            }
        }
        Rgb::from_planar(w, h, data)
    }

    /// `img` with each row `y` taken from its row `row(y)`.
    fn with_rows(img: &Rgb, row: impl Fn(usize) -> usize) -> Rgb {
        let (w, h) = (img.width, img.height);
        let mut data = img.data.clone();
        for c in 0..3 {
            for y in 0..h {
                let (to, from) = (c * w * h + y * w, c * w * h + row(y) * w);
                data[to..to + w].copy_from_slice(&img.data[from..from + w]);
            }
        }
        Rgb::from_planar(w, h, data)
    }

    fn noise(w: usize, h: usize) -> Rgb {
        crate::image_io::noise(w, h, 3)
    }

    #[test]
    fn blocks_are_seen_with_their_size_and_any_offset() {
        for (k, o) in [(4, 0), (6, 3), (2, 1), (11, 5)] {
            let img = blocky(96, 70, k, o, 8);
            assert_eq!(
                Seen::of(&img, None),
                Seen::Blocks(Blocks {
                    size: k as f64,
                    long_side: 96.0
                }),
                "block {k}, offset {o}"
            );
        }
        // few levels: many neighbouring blocks share a colour, and the blocks still show
        let img = blocky(64, 64, 4, 0, 2);
        assert!(matches!(Seen::of(&img, None), Seen::Blocks(b) if b.size == 4.0));
    }

    #[test]
    fn blocks_that_are_not_whole_pixels_are_seen_placed_as_resizers_place_them() {
        // 15 blocks across 96 px (6.4 px) and 11 down 70 px (6.36 px): each side rounded to a
        // whole number of blocks, so the blocks are square within SQUARE_SPREAD
        let floor: fn(usize, usize, usize) -> usize = |x, m, n| x * m / n;
        let centre: fn(usize, usize, usize) -> usize = |x, m, n| (2 * x + 1) * m / (2 * n);
        let corners: fn(usize, usize, usize) -> usize =
            |x, m, n| (x as f64 * (m - 1) as f64 / (n - 1) as f64).round() as usize;
        for (place, size) in [(floor, 6.4), (centre, 6.4), (corners, 95.0 / 14.0)] {
            let seen = Seen::of(&enlarged(96, 70, 15, 11, place), None);
            assert!(
                matches!(seen, Seen::Blocks(b) if (b.size - size).abs() < 1e-9 && b.long_side == 96.0),
                "{seen:?}, expected {size} px"
            );
        }
        // 12 blocks across 78 px and 8 down 52 px (6.5 px): the centres of pixels 6, 19, 32, …
        // fall exactly on lines, and a resizer computing in floating point rounds such ties
        // either way; here every other one down (neither the centre rule nor the floor one)
        let ties: fn(usize, usize, usize) -> usize = |x, m, n| {
            let (v, d) = ((2 * x + 1) * m, 2 * n);
            if v % d == 0 && (v / d) % 4 == 1 {
                v / d - 1
            } else {
                v / d
            }
        };
        let seen = Seen::of(&enlarged(78, 52, 12, 8, ties), None);
        assert!(matches!(seen, Seen::Blocks(b) if b.size == 6.5), "{seen:?}");
        // the long side may be the height
        let tall = Seen::of(&enlarged(70, 96, 11, 15, centre), None);
        assert!(
            matches!(tall, Seen::Blocks(b) if (b.size - 6.4).abs() < 1e-9),
            "{tall:?}"
        );
        // 7 blocks down 70 px (10 px) against 6.4 px across are not square
        assert_eq!(Seen::of(&enlarged(96, 70, 15, 7, floor), None), Seen::No);
    }

    #[test]
    fn the_pairs_beside_the_lines_are_those_position_puts_there() {
        for n in [40, 70, 96, 257] {
            for lines in Lines::candidates(n) {
                let beside: Vec<(usize, bool)> = lines.beside(n - 1).collect();
                let want: Vec<(usize, bool)> = (0..n - 1)
                    .filter_map(|x| match lines.position(x) {
                        Some(r) if r > 0 => None,
                        p => Some((x, p == Some(0))),
                    })
                    .collect();
                assert_eq!(beside, want, "{lines:?} along {n} px");
            }
        }
    }

    #[test]
    fn blocks_are_seen_through_a_jpegs_noise_by_their_contrast() {
        for (k, size, img) in [
            (8, 8.0, blocky(128, 96, 8, 3, 8)),
            (4, 4.0, blocky(128, 96, 4, 2, 8)),
            // 20 blocks across 128 px, 15 down 96 px: 6.4 px
            (0, 6.4, enlarged(128, 96, 20, 15, |x, m, n| x * m / n)),
        ] {
            let jpeg = img.through_jpeg(75);
            // equality does not survive the noise; contrast does
            assert_eq!(Seen::of(&jpeg, None), Seen::No, "block {k}");
            let seen = Seen::of_lossy(&jpeg, None);
            assert!(
                matches!(seen, Seen::Blocks(b) if (b.size - size).abs() < 1e-9),
                "{seen:?}, expected {size} px"
            );
        }
        // a photo in blocks, with the few blocks across that let a wrong grid's few lines stand
        // out by chance: the grid whose lines stand out most is the one taken, not the largest
        let photo = crate::image_io::load(std::path::Path::new("tests/data/reference/content.png"))
            .unwrap();
        for long in [64, 96, 128] {
            for k in [3.0, 4.0, 6.0, 8.0] {
                let blocks = Blocks {
                    size: k,
                    long_side: long as f64,
                };
                let img = blocks.apply(&photo.fit_long_side(long)).through_jpeg(75);
                assert_eq!(
                    Seen::of_lossy(&img, None),
                    Seen::Blocks(blocks),
                    "{long} px, {k} px"
                );
            }
        }
        // the photo itself at a third of its contrast: a JPEG's own 8 px grid stands out in it,
        // but not as blocks do; at a tenth, the photo is too flat to tell
        let faded = |a: f32| {
            let p = photo.fit_long_side(96);
            let data = p.data.iter().map(|v| 0.5 + (v - 0.5) * a).collect();
            Rgb::from_planar(p.width, p.height, data).through_jpeg(75)
        };
        assert_eq!(Seen::of_lossy(&faded(0.3), None), Seen::No);
        assert_eq!(Seen::of_lossy(&faded(0.1), None), Seen::Flat);
        // a photo's noise shows no blocks, nor does a dot screen's period
        assert_eq!(
            Seen::of_lossy(&noise(96, 64).through_jpeg(75), None),
            Seen::No
        );
        let (w, h) = (96, 64);
        let dots: Vec<f32> = (0..3 * w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w % h) as f32);
                let t = std::f32::consts::TAU / 6.0;
                0.5 + 0.3 * (t * x).sin() * (t * y).sin()
            })
            .collect();
        let dots = Rgb::from_planar(w, h, dots).through_jpeg(90);
        assert_eq!(Seen::of_lossy(&dots, None), Seen::No);
        // faint noise and a smooth gradient are too flat to tell
        let faint = noise(96, 64);
        let faint = Rgb::from_planar(96, 64, faint.data.iter().map(|v| 0.5 + v * 0.01).collect());
        assert_eq!(Seen::of_lossy(&faint.through_jpeg(75), None), Seen::Flat);
        let ramp: Vec<f32> = (0..3 * w * h)
            .map(|i| (i % w) as f32 / w as f32 * 0.3)
            .collect();
        let ramp = Rgb::from_planar(w, h, ramp).through_jpeg(75);
        assert_eq!(Seen::of_lossy(&ramp, None), Seen::Flat);
    }

    #[test]
    fn photos_flat_images_and_posterised_regions_are_not_blocks() {
        assert_eq!(Seen::of(&noise(64, 48), None), Seen::No);
        // one colour: consistent with every grid, and shows none
        let flat = Rgb::from_planar(40, 40, vec![0.5; 3 * 1600]);
        assert_eq!(Seen::of(&flat, None), Seen::Flat);
        // flat regions whose edges fall anywhere: a posterised disc
        let (w, h) = (80, 80);
        let mut data = vec![0.2; 3 * w * h];
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f64 - 37.3, y as f64 - 41.7);
                if dx * dx + dy * dy < 900.0 {
                    data[y * w + x] = 0.9;
                }
            }
        }
        assert_eq!(Seen::of(&Rgb::from_planar(w, h, data), None), Seen::No);
        // stripes 4 px wide: consistent with blocks, but they cannot show their height
        let stripes = with_rows(&blocky(64, 64, 4, 0, 8), |_| 0);
        assert_eq!(Seen::of(&stripes, None), Seen::Flat);
        // blocks twice as tall as wide are not square blocks
        let stretched = with_rows(&blocky(96, 96, 4, 0, 8), |y| y / 8 * 4);
        assert_eq!(Seen::of(&stretched, None), Seen::No);
        // one pixel changed inside a block is tolerated; noise in every block is not
        let mut img = blocky(64, 64, 4, 0, 8);
        img.data[5 * 64 + 5] = 0.123;
        assert!(matches!(Seen::of(&img, None), Seen::Blocks(_)));
        let mut img = blocky(64, 64, 4, 0, 8);
        for i in (0..64 * 64).step_by(3) {
            img.data[i] = (img.data[i] + 0.01).min(1.0);
        }
        assert_eq!(Seen::of(&img, None), Seen::No);
    }

    #[test]
    fn a_mask_keeps_the_region_outside_from_counting() {
        // blocks on the left half, noise on the right
        let (w, h) = (96, 64);
        let n = w * h;
        let (b, z) = (blocky(w, h, 4, 0, 8), noise(w, h));
        let mut data = b.data.clone();
        let mut mask = vec![1.0f32; n];
        for y in 0..h {
            for x in 48..w {
                for c in 0..3 {
                    data[c * n + y * w + x] = z.data[c * n + y * w + x];
                }
                mask[y * w + x] = 0.0;
            }
        }
        let img = Rgb::from_planar(w, h, data);
        assert_eq!(Seen::of(&img, None), Seen::No);
        assert!(matches!(Seen::of(&img, Some(&mask)), Seen::Blocks(b) if b.size == 4.0));
    }

    #[test]
    fn a_dataset_is_pixelated_when_its_images_agree() {
        let b = |size: f64, long: f64| {
            Seen::Blocks(Blocks {
                size,
                long_side: long,
            })
        };
        let mixed = Blocks::mix(&[
            (b(4.0, 256.0), 1.0),
            (b(8.0, 512.0), 1.0),
            (Seen::Flat, 1.0),
        ]);
        assert_eq!(
            mixed,
            Some(Blocks {
                size: 6.0,
                long_side: 384.0
            })
        );
        assert_eq!(mixed.unwrap().size_at(192), 3.0);
        // mostly flat images: the one that shows blocks decides
        assert_eq!(
            Blocks::mix(&[(b(4.0, 256.0), 1.0), (Seen::Flat, 3.0)]),
            Some(Blocks {
                size: 4.0,
                long_side: 256.0
            })
        );
        // any image that is not pixelated, blocks of different shares, only flat images, or
        // nothing at all: not pixelated
        assert_eq!(Blocks::mix(&[(b(4.0, 256.0), 1.0), (Seen::No, 0.1)]), None);
        assert!(Blocks::mix(&[(b(4.0, 256.0), 1.0), (Seen::No, 0.0)]).is_some());
        assert_eq!(
            Blocks::mix(&[(b(4.0, 256.0), 1.0), (b(8.0, 256.0), 1.0)]),
            None
        );
        assert_eq!(Blocks::mix(&[(Seen::Flat, 1.0)]), None);
        assert_eq!(Blocks::mix(&[]), None);
    }

    #[test]
    fn apply_averages_each_block_and_is_seen_again() {
        let img = noise(50, 30);
        let blocks = Blocks {
            size: 8.0,
            long_side: 100.0,
        };
        // half the long side: blocks of 4 px, the last column of blocks 2 px wide
        let out = blocks.apply(&img);
        assert_eq!(
            Seen::of(&out.to_8bit(), None),
            Seen::Blocks(Blocks {
                size: 4.0,
                long_side: 50.0
            })
        );
        let n = 50 * 30;
        for (x0, x1, y0, y1) in [(0, 4, 0, 4), (48, 50, 28, 30), (8, 12, 12, 16)] {
            for c in 0..3 {
                let mut sum = 0.0;
                for y in y0..y1 {
                    for x in x0..x1 {
                        sum += img.data[c * n + y * 50 + x] as f64;
                    }
                }
                let mean = sum / ((x1 - x0) * (y1 - y0)) as f64;
                let got = out.data[c * n + y0 * 50 + x0] as f64;
                assert!(
                    (got - mean).abs() < 1e-5,
                    "block at {x0},{y0}: {got} vs {mean}"
                );
            }
        }
        // blocks under two pixels leave the image as it is
        let tiny = Blocks {
            size: 3.0,
            long_side: 100.0,
        };
        assert_eq!(tiny.apply(&img).data, img.data);
        // a fractional block size puts lines at the nearest pixel: 2.5 px gives lines at 0,
        // 3 (2.5 rounded), 5 and 8, blocks of 3, 2, 3, … pixels
        let half = Blocks {
            size: 5.0,
            long_side: 100.0,
        };
        let out = half.apply(&img);
        let row: Vec<f32> = (0..10).map(|x| out.data[x]).collect();
        let same = [true, true, false, true, false, true, true, false, true];
        for (x, s) in same.iter().enumerate() {
            assert_eq!(
                row[x] == row[x + 1],
                *s,
                "pixels {x} and {}: {row:?}",
                x + 1
            );
        }
    }

    #[test]
    fn check_refuses_impossible_blocks() {
        let ok = Blocks {
            size: 4.0,
            long_side: 256.0,
        };
        assert!(ok.check().is_ok());
        for bad in [
            Blocks { size: 0.5, ..ok },
            Blocks {
                size: f64::NAN,
                ..ok
            },
            Blocks { size: 300.0, ..ok },
            Blocks {
                long_side: 0.0,
                ..ok
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
