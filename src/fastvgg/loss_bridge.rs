//! One loss-and-gradient evaluation with the VGG part on [`CpuVgg`] and the loss terms on burn.
//!
//! The loss terms (style statistics, content, TV, range) stay burn code; only the network
//! moves. The requested activations become burn leaf tensors that require grad, the loss is
//! built from them and from the image, burn's backward gives d(loss)/d(feature) and the direct
//! d(loss)/d(image), and [`CpuVgg::backward`] chains the feature gradients back to the image:
//!
//! ```text
//! rgb ─preprocess→ x ─CpuVgg::forward→ F_l ─(burn leaves)→ loss = feature_loss(F) + image_loss(rgb)
//! d/d rgb = preprocess_backward(CpuVgg::backward(dloss/dF_l)) + dloss/d rgb (direct terms)
//! ```
//!
//! `crate::loss::ImageLoss::eval` can use this by splitting its `loss(x)` into the part that
//! uses features (passed as `feature_loss`) and the part that uses only `x` (`image_loss`).
use anyhow::{Result, bail};
use burn::tensor::{Device, Tensor, TensorData};

use super::{CpuVgg, Tape, preprocess, preprocess_backward};
use crate::weights::InputConvention;

/// Evaluates `feature_loss(features) + image_loss(rgb)` and its gradient with respect to `rgb`.
///
/// - `rgb`: the image in [0, 1], [3, h, w]; `convention`: how the network's weights expect it.
/// - `layers`: relu layers whose activations `feature_loss` receives, in that order, each as
///   a [1, C, H, W] tensor on `device` (an autodiff device).
/// - `image_loss` receives `rgb` as a [1, 3, h, w] tensor (TV, range penalty, …).
/// - `tape`: buffers of the previous evaluation at the same size (or `None`); left holding
///   this evaluation's tape.
///
/// Returns the loss value and d(loss)/d(rgb). A non-finite loss is an error.
#[allow(clippy::too_many_arguments)]
pub fn eval_with_fastvgg(
    net: &CpuVgg,
    tape: &mut Option<Tape>,
    convention: InputConvention,
    rgb: &[f32],
    h: usize,
    w: usize,
    layers: &[usize],
    device: &Device,
    feature_loss: impl FnOnce(&[Tensor<4>]) -> Tensor<1>,
    image_loss: impl FnOnce(Tensor<4>) -> Tensor<1>,
) -> Result<(f64, Vec<f32>)> {
    let x = preprocess(rgb, convention);
    let mut t = net.forward_reuse(tape.take(), &x, h, w, layers);
    let feats: Vec<Tensor<4>> = (0..layers.len())
        .map(|i| {
            let (f, (c, fh, fw)) = t.take_feature(i);
            Tensor::<4>::from_data(TensorData::new(f, [1, c, fh, fw]), device).require_grad()
        })
        .collect();
    let img =
        Tensor::<4>::from_data(TensorData::new(rgb.to_vec(), [1, 3, h, w]), device).require_grad();
    let loss = feature_loss(&feats) + image_loss(img.clone());
    let value = loss.clone().into_scalar::<f32>() as f64;
    if !value.is_finite() {
        bail!("the loss became {value}");
    }
    let grads = loss.backward();
    let mut fgrads = Vec::with_capacity(layers.len());
    for (f, &l) in feats.iter().zip(layers) {
        if let Some(g) = f.grad(&grads) {
            let g = g
                .try_to_vec_as::<f32>()
                .map_err(|e| anyhow::anyhow!("reading a feature gradient: {e:?}"))?;
            fgrads.push((l, g));
        }
    }
    let mut g = if fgrads.is_empty() {
        vec![0.0; rgb.len()]
    } else {
        preprocess_backward(&net.backward(&t, &fgrads), convention)
    };
    if let Some(d) = img.grad(&grads) {
        let d = d
            .try_to_vec_as::<f32>()
            .map_err(|e| anyhow::anyhow!("reading the image gradient: {e:?}"))?;
        for (a, b) in g.iter_mut().zip(d) {
            *a += b;
        }
    }
    *tape = Some(t);
    Ok((value, g))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vgg::Vgg19;

    /// The bridge gives burn's own loss and gradient through `Vgg19::features`.
    #[test]
    fn bridge_matches_burn_end_to_end() {
        let weights = crate::weights::tests::synthetic(4, InputConvention::CaffeBgr);
        let d = Device::flex().autodiff();
        let net = Vgg19::new(&weights, &d);
        let fast = CpuVgg::from_weights(&weights);
        let (h, w) = (18, 21);
        let layers = [0usize, 4, 9];
        let rgb: Vec<f32> = crate::image_io::noise(w, h, 3).data;
        let targets: Vec<Tensor<4>> = net
            .features(
                Tensor::<4>::from_data(
                    TensorData::new(crate::image_io::noise(w, h, 4).data, [1, 3, h, w]),
                    &d,
                ),
                &layers,
            )
            .into_iter()
            .map(|t| t.detach())
            .collect();
        let feature_loss = |f: &[Tensor<4>]| {
            let mut l = Tensor::<1>::zeros([1], &d);
            for (a, t) in f.iter().zip(&targets) {
                let g = crate::style::gram::gram(a.clone());
                let gt = crate::style::gram::gram(t.clone());
                l = l
                    + (g - gt).square().sum()
                    + (a.clone() - t.clone()).square().sum().mul_scalar(1e-3);
            }
            l
        };
        let image_loss = |x: Tensor<4>| {
            let dx = x.clone().slice([0..1, 0..3, 0..h, 1..w])
                - x.clone().slice([0..1, 0..3, 0..h, 0..w - 1]);
            let dy = x.clone().slice([0..1, 0..3, 1..h, 0..w])
                - x.clone().slice([0..1, 0..3, 0..h - 1, 0..w]);
            dx.square().sum() + dy.square().sum() + (x - 0.9).clamp_min(0.0).square().sum()
        };

        let xt =
            Tensor::<4>::from_data(TensorData::new(rgb.clone(), [1, 3, h, w]), &d).require_grad();
        let want_loss = feature_loss(&net.features(xt.clone(), &layers)) + image_loss(xt.clone());
        let want_v = want_loss.clone().into_scalar::<f32>() as f64;
        let want_g = xt
            .grad(&want_loss.backward())
            .unwrap()
            .try_to_vec_as::<f32>()
            .unwrap();

        let mut tape = None;
        let (v, g) = eval_with_fastvgg(
            &fast,
            &mut tape,
            weights.convention,
            &rgb,
            h,
            w,
            &layers,
            &d,
            feature_loss,
            image_loss,
        )
        .unwrap();
        assert!((v - want_v).abs() <= 1e-4 * want_v.abs(), "{v} vs {want_v}");
        let err = g
            .iter()
            .zip(&want_g)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        let scale = want_g.iter().map(|b| b.abs()).fold(0.0, f32::max);
        assert!(err <= 1e-3 * scale, "gradient: max err {err} of {scale}");
        assert!(tape.is_some());
    }
}
