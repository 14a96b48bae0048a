//! Gaussian-kernel maximum mean discrepancy (Li et al. 2017, "Demystifying Neural Style
//! Transfer"): the style of a layer is the *distribution* of its feature vectors (one C-vector per
//! spatial position), compared through a sum of Gaussian kernels.
//!
//! Summary: `[Y, params]` with `Y` a bounded sample of the target's feature vectors (rows,
//! N × C, N ≤ [`MmdGauss::max_rows`]) and `params` = `[h, k̄yy]` (1 × 2): the bandwidth h (the
//! mean squared distance between two target rows) and the mean target–target kernel value.
//!
//! Sampling and memory: each layer keeps at most `max_rows` rows, i.e. `max_rows × C` floats
//! (1024 × 512 × 4 B = 2 MiB at relu5_1). One image's rows are a seeded random subset of its
//! positions (of the masked ones with a mask). Several images are pooled by
//! [`Statistic::accumulate`] into one equally-weighted sample in which each image holds a share of
//! rows proportional to its weight (rows are repeated when an image has fewer rows than its
//! share, subsampled with a stride when it has more). While the pool stays under the bound
//! (`max(nᵢ·W/wᵢ) ≤ max_rows`) this is the exact weighted mixture of the images' samples; beyond,
//! it is a subsample of it, and an image whose share rounds to zero rows drops out.
//!
//! The candidate is subsampled to at most [`MmdGauss::max_candidate_rows`] positions with the same
//! deterministic seeded subset (so the objective is deterministic, as L-BFGS needs, and an image's
//! distance to its own summary is exactly 0); positions outside the subset get no gradient from
//! this layer.
use burn::tensor::{Int, Tensor, TensorData};
use rand::SeedableRng;

use super::{Statistic, Summary};

/// Gaussian-kernel MMD² between feature distributions; see the module documentation.
#[derive(Clone, Debug)]
pub struct MmdGauss {
    /// Bound on the target sample's rows per layer (memory: `max_rows × C` floats).
    pub max_rows: usize,
    /// Bound on the candidate's rows per evaluation (cost: O(rows² · C)).
    pub max_candidate_rows: usize,
    /// Kernel k(x, y) = mean over s of exp(−‖x − y‖² / (s·h)), h the target's mean squared
    /// pairwise distance.
    pub scales: &'static [f32],
}

impl Default for MmdGauss {
    fn default() -> Self {
        Self {
            max_rows: 1024,
            max_candidate_rows: 1024,
            scales: &[0.25, 1.0, 4.0],
        }
    }
}

/// Flattened positions (y·W + x) that count: all of them, or those where `mask` > 0.5. Where no
/// position reaches 0.5 (a small region after pooling to a deep layer) the positions with at least
/// half the mask's maximum count instead; an all-zero mask counts everywhere.
pub(super) fn mask_positions(mask: Option<&Tensor<4>>, h: usize, w: usize) -> Vec<usize> {
    let Some(m) = mask else {
        return (0..h * w).collect();
    };
    assert_eq!(
        m.dims(),
        [1, 1, h, w],
        "mask must be [1, 1, H, W] at the layer's resolution"
    );
    let v: Vec<f32> = m
        .clone()
        .reshape([h * w])
        .try_to_vec_as::<f32>()
        .expect("mask values");
    let max = v.iter().cloned().fold(0.0f32, f32::max);
    if max <= 0.0 {
        return (0..h * w).collect();
    }
    if max > 0.5 {
        (0..h * w).filter(|&i| v[i] > 0.5).collect()
    } else {
        (0..h * w).filter(|&i| v[i] >= 0.5 * max).collect()
    }
}

/// At most `max` of `pos`: a random subset seeded by (`pos.len()`, `max`), in increasing order,
/// so the same sizes always give the same subset.
pub(super) fn subsample(pos: Vec<usize>, max: usize) -> Vec<usize> {
    if pos.len() <= max {
        return pos;
    }
    let seed = 0x5eed_3d0c ^ ((pos.len() as u64) << 24) ^ max as u64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut pick = rand::seq::index::sample(&mut rng, pos.len(), max).into_vec();
    pick.sort_unstable();
    pick.into_iter().map(|i| pos[i]).collect()
}

/// `q` indices into `0..n`, evenly spread: ⌊(k + ½)·n/q⌋. A stride when q ≤ n, each index
/// repeated ≈ q/n times when q > n.
pub(super) fn spread(n: usize, q: usize) -> Vec<usize> {
    (0..q)
        .map(|k| (((k as f64 + 0.5) * n as f64 / q as f64) as usize).min(n - 1))
        .collect()
}

/// An index tensor on `device`.
pub(super) fn index_tensor(idx: &[usize], device: &burn::tensor::Device) -> Tensor<1, Int> {
    Tensor::<1, Int>::from_data(
        TensorData::new(
            idx.iter().map(|&i| i as i64).collect::<Vec<_>>(),
            [idx.len()],
        ),
        device,
    )
}

/// Feature vectors of `f` ([1, C, H, W]) at `positions`, as rows (len × C).
pub(super) fn rows_at(f: Tensor<4>, positions: &[usize]) -> Tensor<2> {
    let [n, c, h, w] = f.dims();
    assert_eq!(n, 1, "one image at a time");
    let x = f.reshape([c, h * w]).transpose();
    if positions.len() == h * w {
        x
    } else {
        let idx = index_tensor(positions, &x.device());
        x.select(0, idx)
    }
}

/// Host copy of a tensor's values.
pub(super) fn host<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.clone().try_to_vec_as::<f32>().expect("tensor values")
}

/// Mean kernel value between the rows of `a` (M × C) and `b` (N × C).
fn kernel_mean(a: Tensor<2>, b: Tensor<2>, h: f32, scales: &[f32]) -> Tensor<1> {
    let na = a.clone().square().sum_dim(1); // M × 1
    let nb = b.clone().square().sum_dim(1).transpose(); // 1 × N
    let d = (na + nb - a.matmul(b.transpose()).mul_scalar(2.0)).clamp_min(0.0);
    let mut k: Option<Tensor<2>> = None;
    for &s in scales {
        let e = d.clone().mul_scalar(-1.0 / (s * h)).exp();
        k = Some(match k {
            None => e,
            Some(k) => k + e,
        });
    }
    k.expect("at least one scale")
        .mean()
        .div_scalar(scales.len() as f32)
}

impl MmdGauss {
    /// `[h, k̄yy]` of a target sample: h = mean over pairs of ‖yᵢ − yⱼ‖² (= 2·mean‖y − ȳ‖²).
    fn params(&self, y: &Tensor<2>) -> Tensor<2> {
        let yc = y.clone() - y.clone().mean_dim(0);
        let h: f32 = yc.clone().square().sum_dim(1).mean().into_scalar::<f32>() * 2.0;
        let h = if h.is_finite() && h > 1e-12 { h } else { 1.0 };
        let kyy: f32 = kernel_mean(yc.clone(), yc, h, self.scales).into_scalar();
        Tensor::from_data(TensorData::new(vec![h, kyy], [1, 2]), &y.device())
    }
}

impl Statistic for MmdGauss {
    fn kind(&self) -> super::StatisticKind {
        super::StatisticKind::MmdGauss
    }

    fn variable_dims(&self) -> &'static [(usize, usize)] {
        &[(0, 0), (1, 0)]
    }

    fn summarise(&self, f: Tensor<4>, mask: Option<&Tensor<4>>) -> Summary {
        let [_, _, h, w] = f.dims();
        let pos = subsample(mask_positions(mask, h, w), self.max_rows);
        let y = rows_at(f, &pos);
        let p = self.params(&y);
        Summary(vec![y, p])
    }

    /// Weighted pooled sample; see the module documentation for the bound and the approximation.
    fn accumulate(&self, acc: Option<Summary>, s: Summary, w: f64, total: f64) -> Summary {
        let Some(acc) = acc else { return s };
        if w.is_nan() || w <= 0.0 {
            return acc;
        }
        if total.is_nan() || total <= 0.0 {
            return s;
        }
        let (ya, ys) = (acc.0[0].clone(), s.0[0].clone());
        let (na, ns) = (ya.dims()[0], ys.dims()[0]);
        let pa = total / (total + w);
        let ps = w / (total + w);
        let m = (na as f64 / pa)
            .max(ns as f64 / ps)
            .min(self.max_rows as f64)
            .ceil()
            .max(1.0) as usize;
        let qa = ((m as f64 * pa).round() as usize).min(m);
        let qs = m - qa;
        let mut parts = Vec::new();
        if qa > 0 {
            parts.push(
                ya.clone()
                    .select(0, index_tensor(&spread(na, qa), &ya.device())),
            );
        }
        if qs > 0 {
            parts.push(
                ys.clone()
                    .select(0, index_tensor(&spread(ns, qs), &ys.device())),
            );
        }
        let y = Tensor::cat(parts, 0);
        let p = self.params(&y);
        Summary(vec![y, p])
    }

    /// MMD² = k̄xx − 2k̄xy + k̄yy (biased estimate: ≥ 0, and 0 for identical samples), divided by
    /// k̄yy ∈ (0, 1]. Both samples are centred on the target's mean first (distances do not change;
    /// f32 round-off does).
    fn distance(&self, f: Tensor<4>, target: &Summary) -> Tensor<1> {
        let y = target.0[0].clone();
        let p = host(&target.0[1]);
        let (h, kyy) = (p[0], p[1].max(1e-12));
        let [_, _, fh, fw] = f.dims();
        let pos = subsample((0..fh * fw).collect(), self.max_candidate_rows);
        let x = rows_at(f, &pos);
        let mu = y.clone().mean_dim(0);
        let x = x - mu.clone();
        let y = y - mu;
        let kxx = kernel_mean(x.clone(), x.clone(), h, self.scales);
        let kxy = kernel_mean(x, y, h, self.scales);
        (kxx - kxy.mul_scalar(2.0)).add_scalar(kyy).div_scalar(kyy)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use burn::tensor::Device;
    use rand::Rng;

    /// [1, C, H, W] tensor of N(0, 1) values (Box–Muller) from `seed`, on the flex device.
    pub fn randn(seed: u64, c: usize, h: usize, w: usize) -> Vec<f32> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..c * h * w)
            .map(|_| {
                let u: f64 = rng.random::<f64>().max(1e-12);
                let v: f64 = rng.random();
                ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
            })
            .collect()
    }

    /// Another "texture": per channel ≈ N(0, 1) like [`randn`] (0.95² + 0.3122² ≈ 1), but all
    /// channels share one latent, so only the joint distribution differs.
    pub fn correlated(seed: u64, c: usize, h: usize, w: usize) -> Vec<f32> {
        let z = randn(seed, 1, h, w);
        let e = randn(seed + 1, c, h, w);
        (0..c * h * w)
            .map(|i| 0.95 * z[i % (h * w)] + 0.3122 * e[i])
            .collect()
    }

    pub fn t4(v: Vec<f32>, c: usize, h: usize, w: usize, dev: &Device) -> Tensor<4> {
        Tensor::from_data(TensorData::new(v, [1, c, h, w]), dev)
    }

    /// Mask [1, 1, H, W]: 1 on the left `cols` columns, 0 elsewhere.
    pub fn left_mask(h: usize, w: usize, cols: usize) -> Tensor<4> {
        let v = (0..h * w)
            .map(|i| if i % w < cols { 1.0 } else { 0.0 })
            .collect();
        t4(v, 1, h, w, &Device::flex())
    }

    /// Replaces every value right of column `cols` with a different random value.
    pub fn scramble_right(v: &[f32], c: usize, h: usize, w: usize, cols: usize) -> Vec<f32> {
        let noise = randn(999, c, h, w);
        v.iter()
            .enumerate()
            .map(|(i, &x)| {
                if i % w >= cols {
                    10.0 * noise[i] + 3.0
                } else {
                    x
                }
            })
            .collect()
    }

    fn small() -> MmdGauss {
        MmdGauss {
            max_rows: 40,
            max_candidate_rows: 40,
            ..Default::default()
        }
    }

    fn dist(stat: &MmdGauss, f: &[f32], t: &Summary, c: usize, h: usize, w: usize) -> f32 {
        stat.distance(t4(f.to_vec(), c, h, w, &Device::flex()), t)
            .into_scalar()
    }

    #[test]
    fn mmd_self_distance_is_zero() {
        let dev = Device::flex();
        // 8×8 = 64 positions: subsampled to 40 rows (`small`) and not subsampled (default).
        for stat in [small(), MmdGauss::default()] {
            let v = randn(1, 5, 8, 8);
            let s = stat.summarise(t4(v.clone(), 5, 8, 8, &dev), None);
            assert_eq!(s.0[0].dims(), [64.min(stat.max_rows), 5]);
            let d = dist(&stat, &v, &s, 5, 8, 8);
            assert!(d.abs() < 1e-5, "self distance {d}");
        }
    }

    #[test]
    fn mmd_separates_distributions() {
        let stat = MmdGauss::default();
        let (c, h, w) = (6, 12, 12);
        let a = randn(1, c, h, w);
        let a2 = randn(2, c, h, w);
        let b = correlated(3, c, h, w);
        let s = stat.summarise(t4(a, c, h, w, &Device::flex()), None);
        let same = dist(&stat, &a2, &s, c, h, w);
        let diff = dist(&stat, &b, &s, c, h, w);
        assert!(same >= -1e-6, "MMD² {same} < 0");
        assert!(diff > 3.0 * same, "different {diff} vs same {same}");
    }

    #[test]
    fn mmd_gradient_matches_finite_differences() {
        let stat = MmdGauss::default();
        let (c, h, w) = (3, 2, 4);
        let target = stat.summarise(t4(randn(7, c, h, w), c, h, w, &Device::flex()), None);
        let v: Vec<f32> = randn(8, c, h, w).iter().map(|x| 0.8 * x + 0.3).collect();
        let ad = Device::flex().autodiff();
        let x = t4(v.clone(), c, h, w, &ad).require_grad();
        let d = stat.distance(x.clone(), &target);
        let g = host(&x.grad(&d.backward()).expect("gradient"));
        let eps = 1e-2f32;
        let fd: Vec<f32> = (0..v.len())
            .map(|i| {
                let mut p = v.clone();
                p[i] += eps;
                let mut m = v.clone();
                m[i] -= eps;
                (dist(&stat, &p, &target, c, h, w) - dist(&stat, &m, &target, c, h, w))
                    / (2.0 * eps)
            })
            .collect();
        let norm = g.iter().map(|x| x * x).sum::<f32>().sqrt();
        let err = g
            .iter()
            .zip(&fd)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            .sqrt();
        assert!(norm > 1e-3, "gradient vanished: {g:?}");
        assert!(
            err < 1e-2 * norm,
            "relative error {} (autodiff {g:?}, fd {fd:?})",
            err / norm
        );
    }

    #[test]
    fn mmd_mask_ignores_outside() {
        let stat = small();
        let (c, h, w) = (4, 8, 10);
        let v = randn(5, c, h, w);
        let v2 = scramble_right(&v, c, h, w, 6);
        let m = left_mask(h, w, 6);
        let s1 = stat.summarise(t4(v, c, h, w, &Device::flex()), Some(&m));
        let s2 = stat.summarise(t4(v2.clone(), c, h, w, &Device::flex()), Some(&m));
        assert_eq!(s1.0[0].dims(), [40, c]);
        for (a, b) in s1.0.iter().zip(&s2.0) {
            assert_eq!(host(a), host(b));
        }
        let unmasked = stat.summarise(t4(v2, c, h, w, &Device::flex()), None);
        assert_ne!(host(&unmasked.0[0]), host(&s2.0[0]));
    }

    #[test]
    fn mmd_weighted_accumulate_keeps_proportions() {
        // Image A: every position is the vector (1, …); image B: (−1, …). Weights 1 and 3.
        let (c, h, w) = (3, 8, 8);
        let dev = Device::flex();
        for stat in [small(), MmdGauss::default()] {
            let a = stat.summarise(t4(vec![1.0; c * h * w], c, h, w, &dev), None);
            let b = stat.summarise(t4(vec![-1.0; c * h * w], c, h, w, &dev), None);
            let acc = stat.accumulate(None, a, 1.0, 0.0);
            let acc = stat.accumulate(Some(acc), b, 3.0, 1.0);
            let rows = acc.0[0].dims()[0];
            assert!(
                rows <= stat.max_rows,
                "{rows} rows > bound {}",
                stat.max_rows
            );
            let v = host(&acc.0[0]);
            let from_a = v.chunks(c).filter(|r| r[0] > 0.0).count();
            let expected = rows as f64 / 4.0;
            assert!(
                (from_a as f64 - expected).abs() <= 1.0,
                "{from_a} of {rows} rows from A, expected {expected}"
            );
            // Pool of a 64-row image of weight 1 and one of weight 3: 256 rows unless bounded.
            assert_eq!(rows, 256.min(stat.max_rows));
        }
    }
}
