//! The texture judge: Gabor filter-bank statistics of lightness.
//!
//! The image's CIE lightness L*/100 is taken down a Gaussian pyramid of [`LEVELS`] octaves
//! (9-tap binomial blur, then every second pixel). On every level a complex Gabor filter of
//! wavelength [`WAVELENGTH`] px (one-octave bandwidth, DC removed) is applied in 4 orientations
//! (0°, 45°, 90°, 135°), so the bands have wavelengths 4, 8, 16 and 32 px of the full image.
//! Each band gives the mean and the standard deviation of its magnitude; the two diagonal
//! bands are averaged, so a mirrored image has the same statistics. Three full-resolution
//! features are added: the mean absolute Laplacian (grain), the fraction of flat pixels
//! (gradient below [`FLAT_GRADIENT`]: posterised regions) and the fraction of strong-edge
//! pixels (gradient above [`EDGE_GRADIENT`]: outlines).
//!
//! The distance is the root mean square over features of ln((a + ε)/(b + ε)). Everything is a
//! spatial average, so positions do not matter and images of any size compare. All
//! convolutions mirror the image at its borders. About 20 ms for 256×256 on one core (release).
use super::colour::srgb_to_lab;
use crate::image_io::Rgb;

/// Pyramid levels (octaves) with a Gabor bank each.
pub const LEVELS: usize = 4;
/// Gabor wavelength on every level, in pixels of that level.
pub const WAVELENGTH: f64 = 4.0;
/// Gabor orientations (degrees).
pub const ORIENTATIONS: [f64; 4] = [0.0, 45.0, 90.0, 135.0];
/// A pixel is flat when its central-difference gradient of L*/100 is below this (0.4 L*).
pub const FLAT_GRADIENT: f32 = 0.004;
/// A pixel is on a strong edge when its gradient of L*/100 is above this (8 L* per pixel).
pub const EDGE_GRADIENT: f32 = 0.08;
/// ε added to band statistics and the Laplacian before the log ratio (0.1 L*).
const EPS_BAND: f64 = 1e-3;
/// ε added to the fractions before the log ratio.
const EPS_FRACTION: f64 = 0.01;

/// An image's texture features; see the module documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct TextureStats {
    /// Per level: mean |response| for horizontal-wave (0°), vertical-wave (90°) and diagonal
    /// bands, then their standard deviations.
    pub bands: Vec<[f64; 6]>,
    /// Mean absolute 4-neighbour Laplacian of L*/100.
    pub laplacian: f64,
    /// Fraction of pixels whose gradient is below [`FLAT_GRADIENT`].
    pub flat: f64,
    /// Fraction of pixels whose gradient is above [`EDGE_GRADIENT`].
    pub edges: f64,
}

impl TextureStats {
    pub fn of(img: &Rgb) -> Self {
        let (w, h) = (img.width, img.height);
        let mut level = Plane {
            w,
            h,
            v: lightness(img),
        };
        let (laplacian, flat, edges) = pixel_features(&level);
        let kernels: Vec<_> = ORIENTATIONS.iter().map(|&o| gabor_kernels(o)).collect();
        let mut bands = Vec::with_capacity(LEVELS);
        for l in 0..LEVELS {
            if l > 0 {
                level = downsample(&level);
            }
            let stats: Vec<(f64, f64)> =
                kernels.iter().map(|k| magnitude_stats(&level, k)).collect();
            let diag_mean = 0.5 * (stats[1].0 + stats[3].0);
            let diag_std = 0.5 * (stats[1].1 + stats[3].1);
            bands.push([
                stats[0].0, stats[2].0, diag_mean, stats[0].1, stats[2].1, diag_std,
            ]);
        }
        Self {
            bands,
            laplacian,
            flat,
            edges,
        }
    }

    /// The features with the ε each is compared with.
    fn features(&self) -> Vec<(f64, f64)> {
        let mut f: Vec<(f64, f64)> = self
            .bands
            .iter()
            .flat_map(|b| b.iter().map(|&v| (v, EPS_BAND)))
            .collect();
        f.push((self.laplacian, EPS_BAND));
        f.push((self.flat, EPS_FRACTION));
        f.push((self.edges, EPS_FRACTION));
        f
    }

    /// Root mean square log ratio of the features (0 = same statistics).
    pub fn distance(&self, other: &Self) -> f64 {
        let (a, b) = (self.features(), other.features());
        let sq: f64 = a
            .iter()
            .zip(&b)
            .map(|(&(x, e), &(y, _))| ((x + e) / (y + e)).ln().powi(2))
            .sum();
        (sq / a.len() as f64).sqrt()
    }
}

/// Texture distance of `a` and `b` (root mean square log ratio of the features).
pub fn distance(a: &Rgb, b: &Rgb) -> f64 {
    TextureStats::of(a).distance(&TextureStats::of(b))
}

/// A single-channel image.
struct Plane {
    w: usize,
    h: usize,
    v: Vec<f32>,
}

/// CIE L*/100 of every pixel.
fn lightness(img: &Rgb) -> Vec<f32> {
    let n = img.width * img.height;
    (0..n)
        .map(|i| {
            (srgb_to_lab([img.data[i], img.data[n + i], img.data[2 * n + i]])[0] / 100.0) as f32
        })
        .collect()
}

/// Index `i` reflected into 0..n (edge pixel repeated: … b a | a b c … c | c b …).
fn mirror(i: isize, n: usize) -> usize {
    let p = 2 * n as isize;
    let m = i.rem_euclid(p);
    if m >= n as isize {
        (p - 1 - m) as usize
    } else {
        m as usize
    }
}

/// Correlates every row with `k` (odd length, centred).
fn conv_rows(src: &Plane, k: &[f32]) -> Vec<f32> {
    let r = k.len() / 2;
    let mut out = vec![0f32; src.w * src.h];
    let mut padded = vec![0f32; src.w + 2 * r];
    for y in 0..src.h {
        let row = &src.v[y * src.w..(y + 1) * src.w];
        for (j, p) in padded.iter_mut().enumerate() {
            *p = row[mirror(j as isize - r as isize, src.w)];
        }
        let o = &mut out[y * src.w..(y + 1) * src.w];
        for (ki, &kv) in k.iter().enumerate() {
            for (ov, pv) in o.iter_mut().zip(&padded[ki..ki + src.w]) {
                *ov += kv * pv;
            }
        }
    }
    out
}

/// Correlates every column of `src` (w×h) with `k`, adding into `out`.
fn conv_cols_add(src: &[f32], w: usize, h: usize, k: &[f32], out: &mut [f32]) {
    let r = k.len() as isize / 2;
    for y in 0..h {
        let o = &mut out[y * w..(y + 1) * w];
        for (ki, &kv) in k.iter().enumerate() {
            let yy = mirror(y as isize + ki as isize - r, h);
            for (ov, sv) in o.iter_mut().zip(&src[yy * w..(yy + 1) * w]) {
                *ov += kv * sv;
            }
        }
    }
}

/// Blur with the 9-tap binomial kernel (σ = √2) both ways, then keep every second pixel.
/// The strong blur keeps aliasing low (< 0.1 % at the next level's band), so the statistics
/// hardly depend on which pixels are kept: shifting or mirroring the image leaves them be.
fn downsample(p: &Plane) -> Plane {
    let k = [1.0, 8.0, 28.0, 56.0, 70.0, 56.0, 28.0, 8.0, 1.0].map(|v: f32| v / 256.0);
    let rows = conv_rows(p, &k);
    let mut blurred = vec![0f32; p.w * p.h];
    conv_cols_add(&rows, p.w, p.h, &k, &mut blurred);
    let (w2, h2) = (p.w.div_ceil(2), p.h.div_ceil(2));
    let mut v = Vec::with_capacity(w2 * h2);
    for y in 0..h2 {
        for x in 0..w2 {
            v.push(blurred[2 * y * p.w + 2 * x]);
        }
    }
    Plane { w: w2, h: h2, v }
}

/// The separable complex Gabor filter of one orientation: (re, im) of the horizontal and of the
/// vertical kernel. The more modulated of the two has its DC removed, so the 2-D kernel sums
/// to 0 and flat areas give no response.
struct Gabor {
    hx: (Vec<f32>, Vec<f32>),
    hy: (Vec<f32>, Vec<f32>),
}

fn gabor_kernels(orientation_deg: f64) -> Gabor {
    // one-octave bandwidth: σ = λ/π·√(ln2/2)·3
    let sigma = WAVELENGTH / std::f64::consts::PI * (std::f64::consts::LN_2 / 2.0).sqrt() * 3.0;
    let r = (3.0 * sigma).ceil() as isize;
    let k = 2.0 * std::f64::consts::PI / WAVELENGTH;
    let (kx, ky) = (
        k * orientation_deg.to_radians().cos(),
        k * orientation_deg.to_radians().sin(),
    );
    let g: Vec<f64> = (-r..=r)
        .map(|t| (-(t * t) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let gsum: f64 = g.iter().sum();
    let g: Vec<f64> = g.iter().map(|v| v / gsum).collect();
    let one_d = |freq: f64, remove_dc: bool| {
        let re: Vec<f64> = (-r..=r)
            .zip(&g)
            .map(|(t, gv)| gv * (freq * t as f64).cos())
            .collect();
        let im: Vec<f64> = (-r..=r)
            .zip(&g)
            .map(|(t, gv)| gv * (freq * t as f64).sin())
            .collect();
        let (dc_re, dc_im): (f64, f64) = (re.iter().sum(), im.iter().sum());
        let fix = |v: Vec<f64>, dc: f64| -> Vec<f32> {
            v.iter()
                .zip(&g)
                .map(|(x, gv)| (if remove_dc { x - dc * gv } else { *x }) as f32)
                .collect()
        };
        (fix(re, dc_re), fix(im, dc_im))
    };
    // remove the DC from the modulated 1-D kernel (a plain Gaussian's DC is all it has)
    let x_modulated = kx.abs() >= ky.abs();
    Gabor {
        hx: one_d(kx, x_modulated),
        hy: one_d(ky, !x_modulated),
    }
}

/// Mean and standard deviation of the Gabor response magnitude over the plane.
fn magnitude_stats(p: &Plane, g: &Gabor) -> (f64, f64) {
    let (w, h) = (p.w, p.h);
    let a_re = conv_rows(p, &g.hx.0);
    let a_im = conv_rows(p, &g.hx.1);
    // (a_re + i a_im)(hy_re + i hy_im) along the columns
    let neg_im: Vec<f32> = g.hy.1.iter().map(|v| -v).collect();
    let mut re = vec![0f32; w * h];
    conv_cols_add(&a_re, w, h, &g.hy.0, &mut re);
    conv_cols_add(&a_im, w, h, &neg_im, &mut re);
    let mut im = vec![0f32; w * h];
    conv_cols_add(&a_re, w, h, &g.hy.1, &mut im);
    conv_cols_add(&a_im, w, h, &g.hy.0, &mut im);
    let (mut s, mut s2) = (0f64, 0f64);
    for (a, b) in re.iter().zip(&im) {
        let m = ((a * a + b * b) as f64).sqrt();
        s += m;
        s2 += m * m;
    }
    let n = (w * h) as f64;
    let mean = s / n;
    (mean, (s2 / n - mean * mean).max(0.0).sqrt())
}

/// Mean |Laplacian|, flat fraction and strong-edge fraction at full resolution.
fn pixel_features(p: &Plane) -> (f64, f64, f64) {
    let (w, h) = (p.w, p.h);
    let at = |x: isize, y: isize| p.v[mirror(y, h) * w + mirror(x, w)];
    let (mut lap, mut flat, mut edges) = (0f64, 0usize, 0usize);
    for y in 0..h as isize {
        for x in 0..w as isize {
            let c = at(x, y);
            let (l, r, u, d) = (at(x - 1, y), at(x + 1, y), at(x, y - 1), at(x, y + 1));
            lap += (l + r + u + d - 4.0 * c).abs() as f64;
            let (gx, gy) = (0.5 * (r - l), 0.5 * (d - u));
            let g = (gx * gx + gy * gy).sqrt();
            flat += (g < FLAT_GRADIENT) as usize;
            edges += (g > EDGE_GRADIENT) as usize;
        }
    }
    let n = (w * h) as f64;
    (lap / n, flat as f64 / n, edges as f64 / n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::test_images::*;

    #[test]
    fn gabor_kernels_have_no_dc_and_pick_their_orientation() {
        for o in ORIENTATIONS {
            let g = gabor_kernels(o);
            let sum = |v: &Vec<f32>| v.iter().sum::<f32>();
            let (xr, xi, yr, yi) = (sum(&g.hx.0), sum(&g.hx.1), sum(&g.hy.0), sum(&g.hy.1));
            let (re, im) = (xr * yr - xi * yi, xr * yi + xi * yr);
            assert!(re.abs() < 1e-6 && im.abs() < 1e-6, "{o}: {re} {im}");
        }
        // vertical stripes (a wave along x) of the filters' wavelength excite 0° most
        let (w, h) = (64, 64);
        let v: Vec<f32> = (0..w * h)
            .map(|i| 0.5 + 0.2 * (2.0 * std::f32::consts::PI * (i % w) as f32 / 4.0).sin())
            .collect();
        let p = Plane { w, h, v };
        let m: Vec<f64> = ORIENTATIONS
            .iter()
            .map(|&o| magnitude_stats(&p, &gabor_kernels(o)).0)
            .collect();
        assert!(m[0] > 10.0 * m[2] && m[0] > 2.0 * m[1], "{m:?}");
    }

    #[test]
    fn identical_is_zero_and_distance_is_symmetric() {
        let a = scene(72, 56, 3);
        let b = blur(&a, 1);
        assert_eq!(distance(&a, &a), 0.0);
        let (ab, ba) = (distance(&a, &b), distance(&b, &a));
        assert!(ab > 0.0 && (ab - ba).abs() < 1e-12, "{ab} {ba}");
    }

    #[test]
    fn positions_do_not_matter() {
        // Level 0 is exactly mirror-symmetric; the coarser levels keep every second pixel, so
        // a mirrored image samples them at other pixels: a small difference. A translated
        // window also shows a little other content at its borders.
        let big = scene(167, 125, 4);
        let a = crop(&big, 0, 0, 160, 120);
        let moved = crop(&big, 7, 5, 160, 120);
        let flipped = distance(&a, &flip(&a));
        let translated = distance(&a, &moved);
        let blurred = distance(&a, &blur(&a, 1));
        println!("flipped {flipped:.4} translated {translated:.4} blurred {blurred:.4}");
        assert!(
            flipped < 0.03 && translated < 0.05,
            "{flipped} {translated}"
        );
        assert!(blurred > 5.0 * flipped.max(translated), "{blurred}");
    }

    #[test]
    fn blur_and_grain_change_texture_and_a_colour_shift_barely_does() {
        let a = scene(128, 96, 5);
        let shifted = distance(&a, &tint(&a, [0.08, 0.0, -0.08]));
        let blurred = distance(&a, &blur(&a, 2));
        let grainy = distance(&a, &grain(&a, 0.03, 9));
        println!("shifted {shifted:.4} blurred {blurred:.4} grainy {grainy:.4}");
        assert!(blurred > 0.3 && grainy > 0.3, "{blurred} {grainy}");
        assert!(
            shifted < 0.1 && shifted < 0.2 * blurred.min(grainy),
            "{shifted}"
        );
    }

    #[test]
    fn about_fifty_milliseconds_or_less_for_256_squared() {
        let a = scene(256, 256, 6);
        let t = std::time::Instant::now();
        let s = TextureStats::of(&a);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        println!("{ms:.1} ms");
        assert!(s.laplacian > 0.0);
        // generous: unoptimised test builds and busy machines are slower than release
        assert!(ms < 2000.0, "{ms} ms");
    }

    #[test]
    fn tiny_and_odd_sized_images_work() {
        for (w, h) in [(1, 1), (3, 2), (9, 17)] {
            let a = crate::image_io::noise(w, h, 1);
            let s = TextureStats::of(&a);
            assert_eq!(s.bands.len(), LEVELS);
            assert!(s.distance(&s) == 0.0);
            assert!(s.distance(&TextureStats::of(&scene(40, 30, 1))).is_finite());
        }
    }
}
