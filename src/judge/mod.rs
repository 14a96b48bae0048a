//! Judges of how close an image looks to a reference, that are not VGG-19.
//!
//! stylelearn optimises VGG-19 statistics, so judging its results with VGG-19 would be grading
//! its own homework. These judges are classic, hand-made image statistics instead, in pure Rust
//! on [`Rgb`]:
//!
//! - [`colour`]: the sliced Wasserstein distance between the two images' pixel colour
//!   distributions in CIE Lab, in ΔE (CIE76) units: how far the palettes are apart.
//! - [`texture`]: statistics of a Gabor filter bank (4 scales × 4 orientations) on the CIE
//!   lightness, plus grain, flat-area and edge fractions, compared as the root mean square of
//!   per-feature log ratios: 0.1 means the band energies differ by about 10 %.
//!
//! Both compare statistics, not pixels: where things are in the picture does not matter, so an
//! image can be compared with a reference of different content and size (the closed loop
//! compares a stylised photo with the filter's output of the same photo, but nothing needs the
//! two aligned). Both are symmetric, non-negative and exactly 0 for identical images.
//! To compare many candidates with one reference, compute its [`colour::ColourStats`] and
//! [`texture::TextureStats`] once.
pub mod colour;
pub mod texture;

use crate::image_io::Rgb;

/// How far a candidate is from a reference, by each judge (0 = indistinguishable).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Judgement {
    /// Sliced Wasserstein-2 distance of the Lab colour distributions, in ΔE units.
    pub colour: f64,
    /// RMS log ratio of the filter-bank statistics of lightness (dimensionless).
    pub texture: f64,
}

/// Judges `candidate` against `reference` (any sizes).
pub fn judge(candidate: &Rgb, reference: &Rgb) -> Judgement {
    Judgement {
        colour: colour::distance(candidate, reference),
        texture: texture::distance(candidate, reference),
    }
}

/// A small deterministic generator (SplitMix64), so the judges' fixed random choices do not
/// depend on the version of any crate.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

#[cfg(test)]
pub(crate) mod test_images {
    //! Synthetic images for the judges' tests.
    use super::SplitMix;
    use crate::image_io::Rgb;

    /// A "photo": a smooth colour gradient, randomly placed discs with sharp edges (a
    /// stationary process: the density per pixel does not depend on the size) and a stripe
    /// texture inside some of them. Colours stay in [0.1, 0.9] so shifts do not clip.
    pub fn scene(w: usize, h: usize, seed: u64) -> Rgb {
        let mut rng = SplitMix(seed);
        let n = w * h;
        let mut data = vec![0f32; 3 * n];
        for y in 0..h {
            for x in 0..w {
                let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
                data[y * w + x] = 0.3 + 0.3 * u;
                data[n + y * w + x] = 0.35 + 0.2 * v;
                data[2 * n + y * w + x] = 0.5 - 0.2 * u * v;
            }
        }
        let discs = (n as f64 / 400.0).ceil() as usize;
        for _ in 0..discs {
            let cx = rng.uniform() * w as f64;
            let cy = rng.uniform() * h as f64;
            let r = 3.0 + rng.uniform() * 12.0;
            let col = [
                0.1 + 0.8 * rng.uniform(),
                0.1 + 0.8 * rng.uniform(),
                0.1 + 0.8 * rng.uniform(),
            ];
            let stripes = rng.uniform() < 0.4;
            let freq = 0.5 + rng.uniform();
            for y in 0..h {
                for x in 0..w {
                    let (dx, dy) = (x as f64 - cx, y as f64 - cy);
                    if dx * dx + dy * dy <= r * r {
                        let m = if stripes {
                            1.0 + 0.15 * (freq * (dx + 0.5 * dy)).sin()
                        } else {
                            1.0
                        };
                        for c in 0..3 {
                            data[c * n + y * w + x] = (col[c] * m).clamp(0.1, 0.9) as f32;
                        }
                    }
                }
            }
        }
        Rgb::from_planar(w, h, data)
    }

    /// `img` with independent Gaussian grain of standard deviation `std` (same on R, G, B).
    pub fn grain(img: &Rgb, std: f32, seed: u64) -> Rgb {
        let mut rng = SplitMix(seed);
        let n = img.width * img.height;
        let mut out = img.clone();
        for i in 0..n {
            let g = std * rng.normal() as f32;
            for c in 0..3 {
                out.data[c * n + i] = (out.data[c * n + i] + g).clamp(0.0, 1.0);
            }
        }
        out
    }

    /// `img` blurred by a 5×5 binomial kernel, `passes` times.
    pub fn blur(img: &Rgb, passes: usize) -> Rgb {
        let (w, h) = (img.width, img.height);
        let k = [1.0, 4.0, 6.0, 4.0, 1.0].map(|v| v / 16.0);
        let mut out = img.clone();
        for _ in 0..passes {
            for c in 0..3 {
                let p = &mut out.data[c * w * h..(c + 1) * w * h];
                let src = p.to_vec();
                for y in 0..h {
                    for x in 0..w {
                        let mut s = 0.0;
                        for (j, kv) in k.iter().enumerate() {
                            let xx = (x as isize + j as isize - 2).clamp(0, w as isize - 1);
                            s += kv * src[y * w + xx as usize];
                        }
                        p[y * w + x] = s;
                    }
                }
                let src = p.to_vec();
                for y in 0..h {
                    for x in 0..w {
                        let mut s = 0.0;
                        for (j, kv) in k.iter().enumerate() {
                            let yy = (y as isize + j as isize - 2).clamp(0, h as isize - 1);
                            s += kv * src[yy as usize * w + x];
                        }
                        p[y * w + x] = s;
                    }
                }
            }
        }
        out
    }

    /// `img` with `add` added to each channel.
    pub fn tint(img: &Rgb, add: [f32; 3]) -> Rgb {
        let n = img.width * img.height;
        let mut out = img.clone();
        for c in 0..3 {
            for v in &mut out.data[c * n..(c + 1) * n] {
                *v = (*v + add[c]).clamp(0.0, 1.0);
            }
        }
        out
    }

    /// `img` shifted cyclically by (dx, dy) pixels.
    pub fn roll(img: &Rgb, dx: usize, dy: usize) -> Rgb {
        let (w, h) = (img.width, img.height);
        let mut out = img.clone();
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    out.data[c * w * h + ((y + dy) % h) * w + (x + dx) % w] =
                        img.data[c * w * h + y * w + x];
                }
            }
        }
        out
    }

    /// The `w`×`h` window of `img` whose top-left corner is (x0, y0).
    pub fn crop(img: &Rgb, x0: usize, y0: usize, w: usize, h: usize) -> Rgb {
        let n = img.width * img.height;
        let mut data = Vec::with_capacity(3 * w * h);
        for c in 0..3 {
            for y in y0..y0 + h {
                let row = c * n + y * img.width;
                data.extend_from_slice(&img.data[row + x0..row + x0 + w]);
            }
        }
        Rgb::from_planar(w, h, data)
    }

    /// `img` at half the size (each output pixel the mean of a 2×2 block).
    pub fn half(img: &Rgb) -> Rgb {
        let (w, h) = (img.width / 2, img.height / 2);
        let n = img.width * img.height;
        let mut data = Vec::with_capacity(3 * w * h);
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    let at = |dx: usize, dy: usize| {
                        img.data[c * n + (2 * y + dy) * img.width + 2 * x + dx]
                    };
                    data.push(0.25 * (at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1)));
                }
            }
        }
        Rgb::from_planar(w, h, data)
    }

    /// `img` mirrored left to right.
    pub fn flip(img: &Rgb) -> Rgb {
        let (w, h) = (img.width, img.height);
        let mut out = img.clone();
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    out.data[c * w * h + y * w + (w - 1 - x)] = img.data[c * w * h + y * w + x];
                }
            }
        }
        out
    }
}
