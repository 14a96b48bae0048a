//! The colour judge: sliced Wasserstein distance of the pixel colours in CIE Lab.
//!
//! Every pixel becomes a point in CIE Lab (sRGB → linear → XYZ under D65 → Lab). The points
//! are projected on [`DIRECTIONS`] fixed unit directions (drawn once from a seeded Gaussian);
//! along each the 1-D distribution is summarised by [`QUANTILES`] evenly spaced quantiles
//! (read from a fine histogram, so the cost is linear in the pixels and images of different
//! sizes compare). The distance is the root mean square difference of matching quantiles over
//! all directions: the sliced Wasserstein-2 distance, in ΔE (CIE76) units.
use super::SplitMix;
use crate::image_io::Rgb;

/// Number of projection directions.
pub const DIRECTIONS: usize = 64;
/// Quantiles kept per direction.
pub const QUANTILES: usize = 128;
const SEED: u64 = 0x00C0_104B_5EED;
/// Projections of Lab points lie within ±RANGE (|Lab| ≤ √(100² + 2·128²) < 210).
const RANGE: f64 = 210.0;
/// Histogram bins over [−RANGE, RANGE] (0.1 ΔE wide; values are interpolated within a bin).
const BINS: usize = 4200;

pub use crate::color::srgb_to_lab;

/// The Lab points of an image, one per pixel.
pub fn lab_pixels(img: &Rgb) -> Vec<[f64; 3]> {
    let n = img.width * img.height;
    (0..n)
        .map(|i| srgb_to_lab([img.data[i], img.data[n + i], img.data[2 * n + i]]))
        .collect()
}

/// The fixed projection directions (unit vectors in Lab).
pub fn directions() -> Vec<[f64; 3]> {
    let mut rng = SplitMix(SEED);
    (0..DIRECTIONS)
        .map(|_| {
            let v = [rng.normal(), rng.normal(), rng.normal()];
            let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
            v.map(|c| c / norm)
        })
        .collect()
}

/// An image's colour summary: [`QUANTILES`] quantiles along each of the [`DIRECTIONS`].
#[derive(Clone, Debug, PartialEq)]
pub struct ColourStats {
    quantiles: Vec<f64>,
}

impl ColourStats {
    pub fn of(img: &Rgb) -> Self {
        let lab = lab_pixels(img);
        let width = 2.0 * RANGE / BINS as f64;
        let mut quantiles = Vec::with_capacity(DIRECTIONS * QUANTILES);
        let mut hist = vec![0u32; BINS];
        for d in directions() {
            hist.iter_mut().for_each(|h| *h = 0);
            for p in &lab {
                let t = (d[0] * p[0] + d[1] * p[1] + d[2] * p[2] + RANGE) / width;
                hist[(t.max(0.0) as usize).min(BINS - 1)] += 1;
            }
            quantiles.extend(histogram_quantiles(&hist, lab.len(), width));
        }
        Self { quantiles }
    }

    /// Sliced Wasserstein-2 distance to `other`, in ΔE units.
    pub fn distance(&self, other: &Self) -> f64 {
        let sq: f64 = self
            .quantiles
            .iter()
            .zip(&other.quantiles)
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        (sq / self.quantiles.len() as f64).sqrt()
    }
}

/// The values at ranks (k + ½)/Q·n, k < Q, of the `n` values counted in `hist`, spreading each
/// bin's values evenly over its width.
fn histogram_quantiles(hist: &[u32], n: usize, width: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(QUANTILES);
    let (mut bin, mut below) = (0usize, 0u64);
    for k in 0..QUANTILES {
        let rank = (k as f64 + 0.5) / QUANTILES as f64 * n as f64;
        while bin + 1 < hist.len() && (below + hist[bin] as u64) as f64 <= rank {
            below += hist[bin] as u64;
            bin += 1;
        }
        let inside = if hist[bin] > 0 {
            ((rank - below as f64) / hist[bin] as f64).clamp(0.0, 1.0)
        } else {
            0.5
        };
        out.push(-RANGE + (bin as f64 + inside) * width);
    }
    out
}

/// Sliced Wasserstein-2 distance of the Lab colour distributions of `a` and `b`, in ΔE units.
pub fn distance(a: &Rgb, b: &Rgb) -> f64 {
    ColourStats::of(a).distance(&ColourStats::of(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::test_images::*;

    #[test]
    fn lab_of_reference_colours() {
        let white = srgb_to_lab([1.0, 1.0, 1.0]);
        assert!((white[0] - 100.0).abs() < 0.01 && white[1].abs() < 0.01 && white[2].abs() < 0.01);
        let black = srgb_to_lab([0.0, 0.0, 0.0]);
        assert!(black.iter().all(|v| v.abs() < 1e-9));
        // sRGB red is Lab (53.24, 80.09, 67.20)
        let red = srgb_to_lab([1.0, 0.0, 0.0]);
        for (got, want) in red.iter().zip([53.24, 80.09, 67.20]) {
            assert!((got - want).abs() < 0.05, "{red:?}");
        }
    }

    #[test]
    fn directions_are_fixed_unit_vectors() {
        let d = directions();
        assert_eq!(d.len(), DIRECTIONS);
        assert_eq!(d, directions());
        for v in &d {
            assert!(((v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn images_of_different_sizes_compare() {
        let a = scene(121, 91, 7);
        let small = half(&a);
        let same = distance(&a, &small);
        let tinted = distance(&a, &tint(&small, [0.06, 0.0, -0.06]));
        println!("half size {same:.3} half size tinted {tinted:.3}");
        assert!(same < 2.5 && tinted > 3.0 * same, "{same} {tinted}");
    }

    #[test]
    fn a_uniform_shift_in_lightness_is_measured_in_delta_e() {
        // Two flat grey images: every projection of the L difference is d·ΔL, and the mean of
        // d₀² over random unit directions is about ⅓, so the distance is about ΔL/√3.
        let a = Rgb::from_planar(8, 8, vec![0.5; 192]);
        let b = Rgb::from_planar(8, 8, vec![0.6; 192]);
        let dl = srgb_to_lab([0.6; 3])[0] - srgb_to_lab([0.5; 3])[0];
        let d = distance(&a, &b);
        assert!((d - dl / 3f64.sqrt()).abs() < 0.15 * dl, "{d} vs ΔL {dl}");
    }

    #[test]
    fn identical_is_zero_and_distance_is_symmetric() {
        let a = scene(64, 48, 1);
        let b = tint(&a, [0.05, 0.0, -0.05]);
        assert_eq!(distance(&a, &a), 0.0);
        let (ab, ba) = (distance(&a, &b), distance(&b, &a));
        assert!(ab > 0.0 && (ab - ba).abs() < 1e-12, "{ab} {ba}");
    }

    #[test]
    fn positions_do_not_matter_but_colours_do() {
        let big = scene(167, 125, 2);
        let a = crop(&big, 0, 0, 160, 120);
        assert_eq!(distance(&a, &roll(&a, 17, 9)), 0.0);
        assert_eq!(distance(&a, &flip(&a)), 0.0);
        let translated = distance(&a, &crop(&big, 7, 5, 160, 120));
        let shifted = distance(&a, &tint(&a, [0.08, 0.0, -0.08]));
        let blurred = distance(&a, &blur(&a, 1));
        println!("translated {translated:.3} shifted {shifted:.3} blurred {blurred:.3}");
        assert!(
            shifted > 4.0 && translated < 0.25 * shifted,
            "{translated} {shifted}"
        );
        assert!(blurred < 0.5 * shifted, "{blurred} {shifted}");
    }
}
