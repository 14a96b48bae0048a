//! Sliced Wasserstein distance between feature distributions (Heitz et al. 2021, "A Sliced
//! Wasserstein Loss for Neural Texture Synthesis").
//!
//! The layer's feature vectors (one C-vector per position) are projected on P fixed random unit
//! directions; along each direction the 1-D optimal-transport cost is the squared difference of
//! sorted values. Summary: `[D, T]` with D the directions (P × C; P = max(C, 32) by default,
//! drawn from a seed fixed by (C, P) and stored so a saved profile is self-contained) and T the
//! target's projections' quantiles (P × Q, each row sorted, Q ≤ [`Swd::max_quantiles`]): memory
//! P × Q floats per layer (512 × 1024 × 4 B = 2 MiB at relu5_1).
//!
//! Quantile convention: n sorted values vᵢ are the quantile function through ((i + ½)/n, vᵢ),
//! linear in between and flat beyond the ends. A summary of n > Q positions keeps that function
//! at Q levels (so an image's distance to its own summary is then small but not exactly 0); the
//! candidate's n sorted projections are compared with the target's quantile function at the
//! candidate's own n levels, so every candidate position gets a gradient (no subsampling).
//!
//! The directions are fixed, unlike Heitz et al.'s fresh directions per iteration, so the
//! objective is deterministic (as L-BFGS needs); P ≥ C directions constrain every direction of
//! feature space.
//!
//! [`Statistic::accumulate`] pools images per direction: the accumulated quantile function is the
//! one of the weighted mixture of the summaries' values (each image's values carry its weight),
//! resampled at min(Qa + Qs, max_quantiles) levels; exact for the stored quantiles, whose own
//! resolution is the only approximation.
use burn::tensor::{Tensor, TensorData};
use rand::{Rng, SeedableRng};

use super::mmd::{host, index_tensor, mask_positions};
use super::{Statistic, Summary};

/// Sliced Wasserstein distance; see the module documentation.
#[derive(Clone, Debug)]
pub struct Swd {
    /// Number of projection directions P; 0 means max(C, 32).
    pub directions: usize,
    /// Bound Q on the stored quantiles per direction.
    pub max_quantiles: usize,
}

impl Default for Swd {
    fn default() -> Self {
        Self {
            directions: 0,
            max_quantiles: 1024,
        }
    }
}

/// P random unit vectors in Rᶜ (rows of a P × C buffer), from a seed fixed by (C, P).
pub fn directions(c: usize, p: usize) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5dd1_2ec7 ^ ((c as u64) << 20) ^ p as u64);
    let mut d = Vec::with_capacity(p * c);
    for _ in 0..p {
        let row: Vec<f64> = (0..c)
            .map(|_| {
                let u: f64 = rng.random::<f64>().max(1e-300);
                let v: f64 = rng.random();
                (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
            })
            .collect();
        let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
        d.extend(row.iter().map(|x| (x / norm) as f32));
    }
    d
}

/// Each row of `t` (P × n, sorted) resampled at q levels (k + ½)/q of its quantile function.
/// Differentiable in `t`; the identity when q = n.
fn resample_sorted(t: Tensor<2>, q: usize) -> Tensor<2> {
    let n = t.dims()[1];
    if n == q {
        return t;
    }
    let mut lo = Vec::with_capacity(q);
    let mut hi = Vec::with_capacity(q);
    let mut frac = Vec::with_capacity(q);
    for k in 0..q {
        let pos = ((k as f64 + 0.5) * n as f64 / q as f64 - 0.5).clamp(0.0, (n - 1) as f64);
        let l = pos.floor() as usize;
        lo.push(l);
        hi.push((l + 1).min(n - 1));
        frac.push((pos - l as f64) as f32);
    }
    let dev = t.device();
    let frac = Tensor::<2>::from_data(TensorData::new(frac, [1, q]), &dev);
    let a = t.clone().select(1, index_tensor(&lo, &dev));
    let b = t.select(1, index_tensor(&hi, &dev));
    a.clone() + (b - a) * frac
}

/// Quantile function of the mixture of weighted samples `parts` (values, weight of the whole
/// part), evaluated at q levels (k + ½)/q. Each value is a point of mass weight/len at the centre
/// of its cumulative interval; linear in between, flat beyond the ends.
fn mixture_quantiles(parts: &[(&[f32], f64)], q: usize) -> Vec<f32> {
    let total: f64 = parts.iter().map(|(_, w)| w).sum();
    let mut pts: Vec<(f32, f64)> = parts
        .iter()
        .flat_map(|(v, w)| {
            let m = w / total / v.len() as f64;
            v.iter().map(move |&x| (x, m))
        })
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut centres = Vec::with_capacity(pts.len());
    let mut cum = 0.0;
    for &(_, m) in &pts {
        centres.push(cum + m / 2.0);
        cum += m;
    }
    let mut out = Vec::with_capacity(q);
    let mut j = 0;
    for k in 0..q {
        let u = (k as f64 + 0.5) / q as f64;
        while j + 1 < pts.len() && centres[j + 1] <= u {
            j += 1;
        }
        let v = if u <= centres[0] {
            pts[0].0
        } else if j + 1 >= pts.len() {
            pts[j].0
        } else {
            let t = (u - centres[j]) / (centres[j + 1] - centres[j]).max(1e-300);
            (pts[j].0 as f64 + t.clamp(0.0, 1.0) * (pts[j + 1].0 as f64 - pts[j].0 as f64)) as f32
        };
        out.push(v);
    }
    out
}

impl Swd {
    fn count(&self, c: usize) -> usize {
        if self.directions == 0 {
            c.max(32)
        } else {
            self.directions
        }
    }
}

impl Statistic for Swd {
    fn kind(&self) -> super::StatisticKind {
        super::StatisticKind::Swd
    }

    fn variable_dims(&self) -> &'static [(usize, usize)] {
        &[(1, 1)]
    }

    fn summarise(&self, f: Tensor<4>, mask: Option<&Tensor<4>>) -> Summary {
        let [n, c, h, w] = f.dims();
        assert_eq!(n, 1, "one image at a time");
        let dev = f.device();
        let p = self.count(c);
        let d = Tensor::<2>::from_data(TensorData::new(directions(c, p), [p, c]), &dev);
        let pos = mask_positions(mask, h, w);
        let mut x = f.reshape([c, h * w]);
        if pos.len() < h * w {
            x = x.select(1, index_tensor(&pos, &dev));
        }
        let sorted = d.clone().matmul(x).sort(1);
        let q = pos.len().min(self.max_quantiles);
        Summary(vec![d, resample_sorted(sorted, q)])
    }

    /// Weighted mixture per direction; see the module documentation.
    fn accumulate(&self, acc: Option<Summary>, s: Summary, w: f64, total: f64) -> Summary {
        let Some(acc) = acc else { return s };
        if w.is_nan() || w <= 0.0 {
            return acc;
        }
        if total.is_nan() || total <= 0.0 {
            return s;
        }
        assert_eq!(
            acc.0[0].dims(),
            s.0[0].dims(),
            "summaries with different directions"
        );
        let (ta, ts) = (host(&acc.0[1]), host(&s.0[1]));
        let [p, qa] = acc.0[1].dims();
        let qs = s.0[1].dims()[1];
        let q = (qa + qs).min(self.max_quantiles);
        let mut out = Vec::with_capacity(p * q);
        for k in 0..p {
            out.extend(mixture_quantiles(
                &[
                    (&ta[k * qa..(k + 1) * qa], total),
                    (&ts[k * qs..(k + 1) * qs], w),
                ],
                q,
            ));
        }
        let dev = acc.0[1].device();
        Summary(vec![
            acc.0[0].clone(),
            Tensor::from_data(TensorData::new(out, [p, q]), &dev),
        ])
    }

    /// Mean over directions and positions of (sorted candidate projection − target quantile)²,
    /// divided by the mean square of the target's projections.
    fn distance(&self, f: Tensor<4>, target: &Summary) -> Tensor<1> {
        let [_, c, h, w] = f.dims();
        let d = target.0[0].clone();
        let t = target.0[1].clone();
        let norm: f32 = t.clone().square().mean().into_scalar();
        let sorted = d.matmul(f.reshape([c, h * w])).sort(1);
        let tt = resample_sorted(t, h * w);
        (sorted - tt).square().mean().div_scalar(norm.max(1e-12))
    }
}

#[cfg(test)]
mod tests {
    use super::super::mmd::tests::{correlated, left_mask, randn, scramble_right, t4};
    use super::*;
    use burn::tensor::Device;

    fn dist(stat: &Swd, f: &[f32], t: &Summary, c: usize, h: usize, w: usize) -> f32 {
        stat.distance(t4(f.to_vec(), c, h, w, &Device::flex()), t)
            .into_scalar()
    }

    #[test]
    fn swd_self_distance_is_zero() {
        let (c, h, w) = (6, 10, 10);
        let v = randn(1, c, h, w);
        // 100 positions: all kept (exact), and reduced to 64 and 32 quantiles (approximate: the
        // tails beyond the outermost stored levels are flat, so the error shrinks as Q grows).
        let mut last = f32::INFINITY;
        for (q, tol) in [(32, 2e-2), (64, 1e-2), (1024, 1e-6)] {
            let stat = Swd {
                max_quantiles: q,
                ..Default::default()
            };
            let s = stat.summarise(t4(v.clone(), c, h, w, &Device::flex()), None);
            assert_eq!(s.0[0].dims(), [32, c]);
            assert_eq!(s.0[1].dims(), [32, 100.min(q)]);
            let d = dist(&stat, &v, &s, c, h, w);
            assert!(d.abs() < tol, "self distance {d} with {q} quantiles");
            assert!(
                d < last,
                "self distance {d} with {q} quantiles, {last} with fewer"
            );
            last = d;
        }
    }

    #[test]
    fn swd_different_texture_is_farther_than_same_texture() {
        let stat = Swd::default();
        let (c, h, w) = (8, 16, 16);
        let a = randn(1, c, h, w);
        let a2 = randn(2, c, h, w);
        let b = correlated(3, c, h, w);
        let s = stat.summarise(t4(a, c, h, w, &Device::flex()), None);
        let same = dist(&stat, &a2, &s, c, h, w);
        let diff = dist(&stat, &b, &s, c, h, w);
        assert!(diff > 3.0 * same, "different {diff} vs same {same}");
    }

    #[test]
    fn swd_gradient_descent_reduces_distance() {
        let stat = Swd::default();
        let (c, h, w) = (4, 6, 6);
        let tv: Vec<f32> = randn(5, c, h, w)
            .iter()
            .map(|x| x.abs() * 2.0 - 0.5)
            .collect();
        let target = stat.summarise(t4(tv, c, h, w, &Device::flex()), None);
        let ad = Device::flex().autodiff();
        let mut x = randn(6, c, h, w);
        let first = dist(&stat, &x, &target, c, h, w);
        for _ in 0..200 {
            let t = t4(x.clone(), c, h, w, &ad).require_grad();
            let d = stat.distance(t.clone(), &target);
            let g = host(&t.grad(&d.backward()).expect("gradient"));
            for (xi, gi) in x.iter_mut().zip(g) {
                *xi -= 20.0 * gi;
            }
        }
        let last = dist(&stat, &x, &target, c, h, w);
        assert!(last < 0.05 * first, "distance {first} -> {last}");
    }

    #[test]
    fn swd_mask_ignores_outside() {
        let stat = Swd::default();
        let (c, h, w) = (4, 8, 10);
        let v = randn(5, c, h, w);
        let v2 = scramble_right(&v, c, h, w, 6);
        let m = left_mask(h, w, 6);
        let s1 = stat.summarise(t4(v, c, h, w, &Device::flex()), Some(&m));
        let s2 = stat.summarise(t4(v2.clone(), c, h, w, &Device::flex()), Some(&m));
        assert_eq!(s1.0[1].dims(), [32, 48]);
        for (a, b) in s1.0.iter().zip(&s2.0) {
            assert_eq!(host(a), host(b));
        }
        let unmasked = stat.summarise(t4(v2, c, h, w, &Device::flex()), None);
        assert_ne!(host(&unmasked.0[1]), host(&s2.0[1]));
    }

    #[test]
    fn swd_weighted_accumulate_keeps_proportions() {
        // Image A: every position is (1, 1, 1); image B: (−1, −1, −1). Weights 1 and 3.
        let (c, h, w) = (3, 8, 8);
        let dev = Device::flex();
        for max_quantiles in [100, 1024] {
            let stat = Swd {
                max_quantiles,
                ..Default::default()
            };
            let a = stat.summarise(t4(vec![1.0; c * h * w], c, h, w, &dev), None);
            let b = stat.summarise(t4(vec![-1.0; c * h * w], c, h, w, &dev), None);
            let acc = stat.accumulate(None, a, 1.0, 0.0);
            let acc = stat.accumulate(Some(acc), b, 3.0, 1.0);
            let [p, q] = acc.0[1].dims();
            assert_eq!(q, 128.min(max_quantiles), "quantile count");
            let d = directions(c, p);
            let t = host(&acc.0[1]);
            for k in 0..p {
                let pa: f32 = d[k * c..(k + 1) * c].iter().sum();
                let row = &t[k * q..(k + 1) * q];
                assert!(
                    row.windows(2).all(|x| x[0] <= x[1]),
                    "direction {k} not sorted"
                );
                let from_a = row.iter().filter(|&&x| (x - pa).abs() < 1e-5).count();
                let expected = q as f64 / 4.0;
                assert!(
                    (from_a as f64 - expected).abs() <= 1.5,
                    "direction {k}: {from_a} of {q} quantiles from A, expected {expected}"
                );
            }
        }
    }
}
