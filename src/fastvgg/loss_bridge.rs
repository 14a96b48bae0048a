//! One loss-and-gradient evaluation with the VGG part on [`CpuVgg`] and the loss terms on burn.
//!
//! The loss terms (style statistics, content, TV, range) stay burn code; only the network
//! moves. Each requested activation becomes a burn leaf tensor that requires grad as soon as
//! the forward pass reaches its layer; that layer's terms are built from it and differentiated
//! at once, and only d(term)/d(activation) is kept. The direct terms on the image are
//! differentiated on their own, and [`CpuVgg::backward`] chains the feature gradients back:
//!
//! ```text
//! rgb ─preprocess→ x ─CpuVgg::forward_each→ F_l ─(burn leaf)→ term_l(F_l) → d term_l / d F_l
//! loss = Σ_l term_l + image_loss(rgb)
//! d/d rgb = preprocess_backward(CpuVgg::backward(d term_l / d F_l)) + d image_loss / d rgb
//! ```
//!
//! One layer at a time keeps burn's memory to one layer's graph: at 512² the five Gram layers'
//! activations and their matmul gradients held together were ~400 MB.
use anyhow::{Result, bail};
use burn::tensor::{Device, Tensor, TensorData};

use super::{CpuVgg, Tape, preprocess, preprocess_backward};
use crate::weights::InputConvention;

/// Evaluates `Σ_l layer_loss(l, F_l) + image_loss(rgb)` and its gradient with respect to `rgb`.
///
/// - `rgb`: the image in [0, 1], [3, h, w]; `convention`: how the network's weights expect it.
/// - `layers`: relu layers whose activations `layer_loss` receives, one at a time, each as a
///   [1, C, H, W] tensor on `device` (an autodiff device); `None` means no term on that layer.
///   Each layer's term may depend on that layer's activation only.
/// - `image_loss` receives `rgb` as a [1, 3, h, w] tensor (TV, range penalty, …).
/// - `tape`: storage of the previous evaluation (or `None`); left holding this evaluation's.
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
    mut layer_loss: impl FnMut(usize, Tensor<4>) -> Option<Tensor<1>>,
    image_loss: impl FnOnce(Tensor<4>) -> Tensor<1>,
) -> Result<(f64, Vec<f32>)> {
    let x = preprocess(rgb, convention);
    let mut value = 0.0f64;
    let mut fgrads: Vec<(usize, Vec<f32>)> = Vec::with_capacity(layers.len());
    let mut failed = None;
    let t = net.forward_each(tape.take(), &x, h, w, layers, |i, f, (c, fh, fw)| {
        if failed.is_some() {
            return;
        }
        let feat =
            Tensor::<4>::from_data(TensorData::new(f, [1, c, fh, fw]), device).require_grad();
        let Some(term) = layer_loss(layers[i], feat.clone()) else {
            return;
        };
        value += term.clone().into_scalar::<f32>() as f64;
        // removed, not borrowed: the gradient is then uniquely owned and becomes a Vec
        // without a copy
        if let Some(g) = feat.grad_remove(&mut term.backward()) {
            match g.try_into_vec_as::<f32>() {
                Ok(g) => fgrads.push((layers[i], g)),
                Err(e) => failed = Some(anyhow::anyhow!("reading a feature gradient: {e:?}")),
            }
        }
    });
    *tape = Some(t);
    if let Some(e) = failed {
        return Err(e);
    }
    let img =
        Tensor::<4>::from_data(TensorData::new(rgb.to_vec(), [1, 3, h, w]), device).require_grad();
    let direct = image_loss(img.clone());
    value += direct.clone().into_scalar::<f32>() as f64;
    if !value.is_finite() {
        bail!("the loss became {value}");
    }
    let t = tape.as_ref().expect("just stored");
    let mut g = if fgrads.is_empty() {
        vec![0.0; rgb.len()]
    } else {
        preprocess_backward(&net.backward(t, &fgrads), convention)
    };
    drop(fgrads);
    if let Some(d) = img.grad_remove(&mut direct.backward()) {
        let d = d
            .try_into_vec_as::<f32>()
            .map_err(|e| anyhow::anyhow!("reading the image gradient: {e:?}"))?;
        for (a, b) in g.iter_mut().zip(d) {
            *a += b;
        }
    }
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
        let term = |l: usize, a: Tensor<4>| {
            let t = &targets[layers.iter().position(|&k| k == l).unwrap()];
            let g = crate::style::gram::gram(a.clone());
            let gt = crate::style::gram::gram(t.clone());
            (g - gt).square().sum() + (a - t.clone()).square().sum().mul_scalar(1e-3)
        };
        let feature_loss = |f: &[Tensor<4>]| {
            let mut l = Tensor::<1>::zeros([1], &d);
            for (a, &k) in f.iter().zip(&layers) {
                l = l + term(k, a.clone());
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
            |l, a| Some(term(l, a)),
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
