//! The Gram matrix G = F Fᵀ / (C·H·W) and the Gram style loss.
use burn::tensor::Tensor;

use super::{Statistic, Summary};

/// Gram matrix of activations `f` of shape [1, C, H, W]: G = F Fᵀ / (C·H·W), F = C × (H·W).
pub fn gram(f: Tensor<4>) -> Tensor<2> {
    let [n, c, h, w] = f.dims();
    assert_eq!(n, 1, "gram expects a single image");
    self_outer(f.reshape([c, h * w])).div_scalar((c * h * w) as f32)
}

/// M Mᵀ for M = [C, N], built so that autodiff's backward does one matmul instead of two.
///
/// With A = M·detach(M)ᵀ, the value A + Aᵀ − detach(A) equals Aᵀ = M Mᵀ, and its gradient is
/// (dG + dGᵀ)·M, the exact gradient of M Mᵀ, through the left operand only: the backward pass
/// never forms Mᵀ·dG ([N, C]) and its transpose. At 512² this halves the time and the memory
/// of the relu1_1 Gram's backward (two 64 MiB buffers fewer).
pub fn self_outer(m: Tensor<2>) -> Tensor<2> {
    let a = m.clone().matmul(m.detach().transpose());
    a.clone() + a.clone().transpose() - a.detach()
}

/// Masked Gram matrix: features multiplied by `mask` ([1, 1, H, W], already at the layer's
/// resolution), normalised by the mask's area instead of H·W. A region's Gram does not depend on
/// where in the image the region lies, so masked Grams of different images average like any others.
pub fn gram_masked(f: Tensor<4>, mask: &Tensor<4>) -> Tensor<2> {
    let [_, c, h, w] = f.dims();
    let area: f32 = mask.clone().sum().into_scalar();
    self_outer((f * mask.clone()).reshape([c, h * w])).div_scalar(c as f32 * area.max(1e-6))
}

/// Gatys et al.'s statistic. The distance is ‖G − T‖²_F / ‖T‖²_F: raw Gram magnitudes of Caffe
/// VGG-19 differ by up to 10⁵ between layers, so each layer's error is relative to its target.
pub struct Gram;

impl Statistic for Gram {
    fn kind(&self) -> super::StatisticKind {
        super::StatisticKind::Gram
    }

    fn summarise(&self, f: Tensor<4>, mask: Option<&Tensor<4>>) -> Summary {
        Summary(vec![match mask {
            Some(m) => gram_masked(f, m),
            None => gram(f),
        }])
    }

    fn distance(&self, f: Tensor<4>, target: &Summary) -> Tensor<1> {
        let t = &target.0[0];
        let norm: f32 = t.clone().square().sum().into_scalar();
        (gram(f) - t.clone())
            .square()
            .sum()
            .div_scalar(norm.max(1e-12))
    }
}
