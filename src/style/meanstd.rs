//! Per-channel mean and standard deviation (Li et al. 2017: batch-normalisation statistics, the
//! linear-kernel case of style matching; the statistics AdaIN transfers).
//!
//! Summary: `[μ, E[x²]]`, each 1 × C. Both are means over positions, so the default
//! [`Statistic::accumulate`] (weighted mean of each tensor) gives the exact moments of the
//! weighted mixture of images, and σ² = E\[x²\] − μ² of the mixture follows from them.
use burn::tensor::Tensor;

use super::{Statistic, Summary};

/// Added to variances before the square root, so σ has a finite gradient at σ = 0.
const VAR_EPS: f32 = 1e-8;

/// Per-channel mean and standard deviation; see the module documentation.
pub struct MeanStd;

/// Per-channel first and second moments (each 1 × C) of `f` ([1, C, H, W]); with a mask
/// ([1, 1, H, W]) the mask-weighted moments, normalised by the mask's area.
pub fn moments(f: Tensor<4>, mask: Option<&Tensor<4>>) -> (Tensor<2>, Tensor<2>) {
    let [n, c, h, w] = f.dims();
    assert_eq!(n, 1, "one image at a time");
    let x = f.reshape([c, h * w]);
    match mask {
        None => (
            x.clone().mean_dim(1).reshape([1, c]),
            x.square().mean_dim(1).reshape([1, c]),
        ),
        Some(m) => {
            assert_eq!(
                m.dims(),
                [1, 1, h, w],
                "mask must be [1, 1, H, W] at the layer's resolution"
            );
            let m = m.clone().reshape([1, h * w]);
            let area: f32 = m.clone().sum().into_scalar::<f32>().max(1e-6);
            let xm = x.clone() * m.clone();
            (
                xm.sum_dim(1).reshape([1, c]).div_scalar(area),
                (x.square() * m).sum_dim(1).reshape([1, c]).div_scalar(area),
            )
        }
    }
}

impl Statistic for MeanStd {
    fn kind(&self) -> super::StatisticKind {
        super::StatisticKind::MeanStd
    }

    fn summarise(&self, f: Tensor<4>, mask: Option<&Tensor<4>>) -> Summary {
        let (mu, sq) = moments(f, mask);
        Summary(vec![mu, sq])
    }

    /// (‖μ − μₜ‖² + ‖σ − σₜ‖²) / (‖μₜ‖² + ‖σₜ‖²), σ = √(var + 1e-8), σₜ = √(max(E\[x²\]ₜ − μₜ², 0) + 1e-8).
    fn distance(&self, f: Tensor<4>, target: &Summary) -> Tensor<1> {
        let [_, c, h, w] = f.dims();
        let x = f.reshape([c, h * w]);
        let mu = x.clone().mean_dim(1); // C × 1
        let sigma = (x - mu.clone())
            .square()
            .mean_dim(1)
            .add_scalar(VAR_EPS)
            .sqrt();
        let mu_t = target.0[0].clone().reshape([c, 1]);
        let sq_t = target.0[1].clone().reshape([c, 1]);
        let sigma_t = (sq_t - mu_t.clone().square())
            .clamp_min(0.0)
            .add_scalar(VAR_EPS)
            .sqrt();
        let norm: f32 =
            (mu_t.clone().square().sum() + sigma_t.clone().square().sum()).into_scalar();
        ((mu - mu_t).square().sum() + (sigma - sigma_t).square().sum()).div_scalar(norm.max(1e-12))
    }
}

#[cfg(test)]
mod tests {
    use super::super::mmd::host;
    use super::super::mmd::tests::{left_mask, randn, scramble_right, t4};
    use super::*;
    use crate::optim::{Adam, AdamConfig, Optimizer};
    use burn::tensor::{Device, TensorData};

    /// Per-channel (mean, population std) of a [C, n] row-major buffer.
    fn channel_stats(v: &[f32], c: usize) -> Vec<(f64, f64)> {
        let n = v.len() / c;
        (0..c)
            .map(|k| {
                let xs = &v[k * n..(k + 1) * n];
                let m = xs.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
                let var = xs.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n as f64;
                (m, var.sqrt())
            })
            .collect()
    }

    /// Channel k of a [1, C, H, W] buffer scaled by `scale[k]` and shifted by `shift[k]`.
    fn affine(v: &[f32], c: usize, scale: &[f32], shift: &[f32]) -> Vec<f32> {
        let n = v.len() / c;
        v.iter()
            .enumerate()
            .map(|(i, &x)| x * scale[i / n] + shift[i / n])
            .collect()
    }

    #[test]
    fn meanstd_self_distance_is_zero() {
        let (c, h, w) = (5, 7, 6);
        let v = affine(
            &randn(1, c, h, w),
            c,
            &[1.0, 2.0, 0.5, 3.0, 1.5],
            &[0.0, 1.0, -2.0, 5.0, 0.3],
        );
        let f = t4(v, c, h, w, &Device::flex());
        let s = MeanStd.summarise(f.clone(), None);
        let d: f32 = MeanStd.distance(f, &s).into_scalar();
        assert!(d.abs() < 1e-6, "self distance {d}");
    }

    #[test]
    fn meanstd_optimisation_matches_target_moments() {
        let (c, h, w) = (4, 8, 8);
        let scale = [0.5, 1.0, 2.0, 1.5];
        let shift = [-1.0, 0.5, 2.0, 3.0];
        let tv = affine(&randn(11, c, h, w), c, &scale, &shift);
        let target = MeanStd.summarise(t4(tv.clone(), c, h, w, &Device::flex()), None);
        let want = channel_stats(&tv, c);
        let ad = Device::flex().autodiff();
        let mut obj = |x: &[f32]| -> anyhow::Result<(f64, Vec<f32>)> {
            let t = Tensor::<4>::from_data(TensorData::new(x.to_vec(), [1, c, h, w]), &ad)
                .require_grad();
            let d = MeanStd.distance(t.clone(), &target);
            let loss = d.clone().into_scalar::<f32>() as f64;
            let g = host(&t.grad(&d.backward()).expect("gradient"));
            Ok((loss, g))
        };
        let mut x = randn(12, c, h, w);
        let first = obj(&x).unwrap().0;
        let mut opt = Adam::new(AdamConfig {
            lr: 0.02,
            ..Default::default()
        });
        for _ in 0..1500 {
            opt.step(&mut x, &mut obj).unwrap();
        }
        let last = obj(&x).unwrap().0;
        assert!(last < 1e-4 * first, "loss {first} -> {last}");
        // Tolerance: 0.02 absolute on every channel's mean and std (targets span 0.5…3).
        for (k, ((m, s), (mt, st))) in channel_stats(&x, c).into_iter().zip(want).enumerate() {
            assert!(
                (m - mt).abs() < 0.02 && (s - st).abs() < 0.02,
                "channel {k}: mean {m} vs {mt}, std {s} vs {st}"
            );
        }
    }

    #[test]
    fn meanstd_mask_ignores_outside() {
        let (c, h, w) = (3, 6, 8);
        let v = randn(3, c, h, w);
        let v2 = scramble_right(&v, c, h, w, 5);
        let m = left_mask(h, w, 5);
        let s1 = MeanStd.summarise(t4(v.clone(), c, h, w, &Device::flex()), Some(&m));
        let s2 = MeanStd.summarise(t4(v2, c, h, w, &Device::flex()), Some(&m));
        for (a, b) in s1.0.iter().zip(&s2.0) {
            for (x, y) in host(a).iter().zip(host(b)) {
                assert!((x - y).abs() < 1e-6, "{x} vs {y}");
            }
        }
        // And it is the region's own statistic: the moments of the left 5 columns.
        let region: Vec<f32> = v
            .iter()
            .enumerate()
            .filter(|(i, _)| i % w < 5)
            .map(|(_, &x)| x)
            .collect();
        let mu = host(&s1.0[0]);
        for (k, (m, _)) in channel_stats(&region, c).into_iter().enumerate() {
            assert!(
                (mu[k] as f64 - m).abs() < 1e-5,
                "channel {k}: {} vs {m}",
                mu[k]
            );
        }
    }

    #[test]
    fn meanstd_weighted_accumulate_gives_mixture_moments() {
        let (c, h, w) = (3, 5, 5);
        let a = affine(&randn(21, c, h, w), c, &[1.0, 2.0, 0.5], &[0.0, 1.0, -1.0]);
        let b = affine(&randn(22, c, h, w), c, &[0.5, 1.0, 3.0], &[2.0, -1.0, 4.0]);
        let dev = Device::flex();
        let sa = MeanStd.summarise(t4(a.clone(), c, h, w, &dev), None);
        let sb = MeanStd.summarise(t4(b.clone(), c, h, w, &dev), None);
        let acc = MeanStd.accumulate(None, sa, 1.0, 0.0);
        let acc = MeanStd.accumulate(Some(acc), sb, 3.0, 1.0);
        // Weights (1, 3) on equal-sized images = pooling A once and B three times.
        let n = h * w;
        let mut pooled = Vec::new();
        for k in 0..c {
            pooled.extend_from_slice(&a[k * n..(k + 1) * n]);
            for _ in 0..3 {
                pooled.extend_from_slice(&b[k * n..(k + 1) * n]);
            }
        }
        let want = channel_stats(&pooled, c);
        let (mu, sq) = (host(&acc.0[0]), host(&acc.0[1]));
        for (k, (m, s)) in want.into_iter().enumerate() {
            let std = ((sq[k] - mu[k] * mu[k]) as f64).max(0.0).sqrt();
            assert!(
                (mu[k] as f64 - m).abs() < 1e-4,
                "channel {k}: mean {} vs {m}",
                mu[k]
            );
            assert!((std - s).abs() < 1e-3, "channel {k}: std {std} vs {s}");
        }
        // And the distance of the pooled data to the accumulated target is ≈ 0.
        let d: f32 = MeanStd
            .distance(t4(pooled, c, 4 * h, w, &dev), &acc)
            .into_scalar();
        assert!(d < 1e-6, "pooled distance {d}");
    }
}
