//! fastvgg against burn (flex backend, autodiff) on small random problems.
use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};

use super::conv::{
    Padded, WinoWeights, conv_implicit, conv_wino2, conv_wino2_blocked,
    conv_wino2_input_grad_rotated, taps,
};
use super::pool::{maxpool2, maxpool2_backward};
use super::relu_mask::{ReluMask, rotate};
use super::*;

fn rnd(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| r.random_range(lo..hi)).collect()
}

fn t4(v: &[f32], s: [usize; 4], d: &Device) -> Tensor<4> {
    Tensor::<4>::from_data(TensorData::new(v.to_vec(), s), d)
}

fn vec4(t: Tensor<4>) -> Vec<f32> {
    t.try_to_vec_as::<f32>().unwrap()
}

/// max |a − b| / max |b|
fn rel(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let d = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    let m = b.iter().map(|y| y.abs()).fold(0.0, f32::max);
    d / m.max(1e-30)
}

fn burn_conv(x: Tensor<4>, w: &[f32], b: &[f32], k: usize, c: usize) -> Tensor<4> {
    let d = x.device();
    let wt = t4(w, [k, c, 3, 3], &d);
    let bt = Tensor::<1>::from_data(TensorData::new(b.to_vec(), [k]), &d);
    relu(conv2d(
        x,
        wt,
        Some(bt),
        ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
    ))
}

const SHAPES: [(usize, usize, usize, usize); 4] = [
    (3, 8, 16, 16),
    (5, 7, 9, 13),
    (16, 24, 12, 7),
    (64, 32, 6, 10),
];

#[test]
fn conv_forward_matches_burn() {
    let d = Device::flex();
    for (i, &(c, k, h, w)) in SHAPES.iter().enumerate() {
        let x = rnd(c * h * w, i as u64, -1.0, 1.0);
        let wt = rnd(k * c * 9, 100 + i as u64, -0.5, 0.5);
        let b = rnd(k, 200 + i as u64, -0.2, 0.2);
        let want = vec4(burn_conv(t4(&x, [1, c, h, w], &d), &wt, &b, k, c));
        let xp = Padded::from_chw(&x, c, h, w);
        let mut out = Padded::zeros(k, h, w);
        conv_wino2(
            &xp,
            &WinoWeights::forward(&wt, k, c),
            Some(&b),
            true,
            &mut out,
        );
        let e = rel(&out.to_chw(), &want);
        assert!(e <= 1e-4, "winograd F(2,3) {c}->{k} {h}x{w}: rel err {e}");
        // F(4×4,3×3)
        let mut out4 = Padded::zeros(k, h, w);
        conv_wino2(
            &xp,
            &WinoWeights::forward_tile(&wt, k, c, 4),
            Some(&b),
            true,
            &mut out4,
        );
        let e4 = rel(&out4.to_chw(), &want);
        assert!(e4 <= 1e-3, "winograd F(4,3) {c}->{k} {h}x{w}: rel err {e4}");
        assert_eq!(
            out4.data.iter().map(|v| v.abs()).sum::<f32>(),
            out4.to_chw().iter().map(|v| v.abs()).sum::<f32>()
        );
        // tiny blocks: one tile row per block
        let mut out2 = Padded::zeros(k, h, w);
        let ww = WinoWeights::forward(&wt, k, c);
        conv_wino2_blocked(&xp, &ww, Some(&b), true, &mut out2, 1);
        assert_eq!(out2.to_chw(), out.to_chw());
        let mut out3 = Padded::zeros(k, h, w);
        conv_implicit(&xp, &taps(&wt, k, c), k, Some(&b), true, &mut out3, 3);
        let e = rel(&out3.to_chw(), &want);
        assert!(e <= 1e-5, "implicit gemm {c}->{k} {h}x{w}: rel err {e}");
        // borders stay zero
        assert_eq!(
            out.data.iter().map(|v| v.abs()).sum::<f32>(),
            out.to_chw().iter().map(|v| v.abs()).sum::<f32>()
        );
        assert_eq!(
            out3.data.iter().map(|v| v.abs()).sum::<f32>(),
            out3.to_chw().iter().map(|v| v.abs()).sum::<f32>()
        );
    }
}

#[test]
fn conv_input_gradient_matches_burn_autodiff() {
    let d = Device::flex().autodiff();
    for (i, &(c, k, h, w)) in SHAPES.iter().enumerate() {
        let x = rnd(c * h * w, 10 + i as u64, -1.0, 1.0);
        let wt = rnd(k * c * 9, 110 + i as u64, -0.5, 0.5);
        let b = rnd(k, 210 + i as u64, -0.2, 0.2);
        let r = rnd(k * h * w, 310 + i as u64, -1.0, 1.0);
        let xt = t4(&x, [1, c, h, w], &d).require_grad();
        let y = burn_conv(xt.clone(), &wt, &b, k, c);
        let grads = (y * t4(&r, [1, k, h, w], &d)).sum().backward();
        let want = vec4(xt.grad(&grads).unwrap());

        let xp = Padded::from_chw(&x, c, h, w);
        let mut y = Padded::zeros(k, h, w);
        conv_wino2(
            &xp,
            &WinoWeights::forward(&wt, k, c),
            Some(&b),
            true,
            &mut y,
        );
        // the network's route: the masked gradient, rotated, through the forward weights
        for tile in [2, 4] {
            let mut mask = ReluMask::default();
            mask.record(&y);
            let mut gr = Padded::from_chw(&r, k, h, w);
            rotate(&mut gr, Some(&mask));
            let mut dxr = Padded::zeros(c, h, w);
            let fwd = WinoWeights::forward_tile(&wt, k, c, tile);
            conv_wino2_input_grad_rotated(&gr, &fwd, &mut dxr);
            rotate(&mut dxr, None);
            let er = rel(&dxr.to_chw(), &want);
            let tol = if tile == 2 { 1e-4 } else { 1e-3 };
            assert!(
                er <= tol,
                "rotated F({tile},3) {c}->{k} {h}x{w}: rel err {er}"
            );
        }
    }
}

#[test]
fn maxpool_and_its_backward_match_burn() {
    let d = Device::flex().autodiff();
    for (c, h, w) in [(3, 8, 8), (4, 9, 11), (2, 17, 6)] {
        let x = rnd(c * h * w, (c * h * w) as u64, -1.0, 1.0);
        let (oh, ow) = (h / 2, w / 2);
        let r = rnd(c * oh * ow, 7, -1.0, 1.0);
        let xt = t4(&x, [1, c, h, w], &d).require_grad();
        let p = max_pool2d(xt.clone(), MaxPoolOptions::new([2, 2]));
        assert_eq!(p.dims(), [1, c, oh, ow]);
        let want_p = vec4(p.clone());
        let grads = (p * t4(&r, [1, c, oh, ow], &d)).sum().backward();
        let want_g = vec4(xt.grad(&grads).unwrap());

        let xp = Padded::from_chw(&x, c, h, w);
        let mut out = Padded::zeros(c, oh, ow);
        let mut arg = Vec::new();
        maxpool2(&xp, &mut out, &mut arg);
        assert_eq!(out.to_chw(), want_p);
        let mut gin = Padded::zeros(c, h, w);
        gin.data.iter_mut().for_each(|v| *v = 0.0);
        maxpool2_backward(&Padded::from_chw(&r, c, oh, ow), &arg, &mut gin);
        assert_eq!(gin.to_chw(), want_g);
        assert_eq!(
            gin.data.iter().map(|v| v.abs()).sum::<f32>(),
            want_g.iter().map(|v| v.abs()).sum::<f32>()
        );
    }
}

#[test]
fn whole_network_forward_and_backward_match_burn_autodiff() {
    whole_network(2, 1e-4, 1e-3);
}

#[test]
fn whole_network_with_f4_tiles_matches_burn_autodiff() {
    whole_network(4, 1e-3, 1e-3);
}

fn whole_network(tile: usize, feat_tol: f32, grad_tol: f32) {
    use crate::vgg::Vgg19;
    let weights = crate::weights::tests::synthetic(3, InputConvention::CaffeBgr);
    let d = Device::flex().autodiff();
    let net = Vgg19::new(&weights, &d);
    let fast = CpuVgg::from_weights_tile(&weights, tile);
    let (h, w) = (19, 24);
    let layers = [0usize, 2, 4, 9, 8, 12];
    let rgb = rnd(3 * h * w, 5, 0.0, 1.0);
    let xt = t4(&rgb, [1, 3, h, w], &d).require_grad();
    let feats = net.features(xt.clone(), &layers);
    let tape = fast.forward(&preprocess(&rgb, weights.convention), h, w, &layers);
    let mut loss = Tensor::<1>::zeros([1], &d);
    let mut grads = Vec::new();
    for (i, (f, &l)) in feats.iter().zip(&layers).enumerate() {
        let [_, c, fh, fw] = f.dims();
        let (mine, shape) = tape.feature(i);
        assert_eq!(shape, (c, fh, fw), "layer {l}");
        let e = rel(mine, &vec4(f.clone()));
        assert!(e <= feat_tol, "relu layer {l}: rel err {e}");
        // scale each layer's random gradient to its activations' size so all layers count
        let scale = 1.0 / mine.iter().map(|v| v.abs()).fold(1e-6, f32::max);
        let r = rnd(c * fh * fw, 50 + l as u64, 0.0, scale);
        loss = loss + (f.clone() * t4(&r, [1, c, fh, fw], &d)).sum();
        grads.push((l, r));
    }
    let want = vec4(xt.grad(&loss.backward()).unwrap());
    let mine = preprocess_backward(&fast.backward(&tape, &grads), weights.convention);
    let e = rel(&mine, &want);
    assert!(e <= grad_tol, "image gradient: rel err {e}");
    // reusing the tape's buffers gives the same result
    let tape2 = fast.forward_reuse(
        Some(tape),
        &preprocess(&rgb, weights.convention),
        h,
        w,
        &layers,
    );
    let again = preprocess_backward(&fast.backward(&tape2, &grads), weights.convention);
    assert_eq!(again, mine);
    // storage reused across sizes (smaller, then larger again) gives what fresh storage gives
    let (h2, w2) = (17, 16);
    let rgb2 = rnd(3 * h2 * w2, 6, 0.0, 1.0);
    let x2 = preprocess(&rgb2, weights.convention);
    let fresh = fast.forward(&x2, h2, w2, &layers);
    let reused = fast.forward_reuse(Some(tape2), &x2, h2, w2, &layers);
    let grads2: Vec<(usize, Vec<f32>)> = (0..layers.len())
        .map(|i| {
            let (f, _) = fresh.feature(i);
            assert_eq!(f, reused.feature(i).0, "relu layer {}", layers[i]);
            (layers[i], rnd(f.len(), 70 + i as u64, -1.0, 1.0))
        })
        .collect();
    assert_eq!(
        fast.backward(&reused, &grads2),
        fast.backward(&fresh, &grads2)
    );
    let tape3 = fast.forward_reuse(
        Some(reused),
        &preprocess(&rgb, weights.convention),
        h,
        w,
        &layers,
    );
    let third = preprocess_backward(&fast.backward(&tape3, &grads), weights.convention);
    assert_eq!(third, mine);
}

#[test]
fn plain_weights_are_recovered_from_the_transformed_ones() {
    for tile in [2, 4] {
        let (k, c) = (5, 3);
        let w = rnd(k * c * 9, 91, -0.5, 0.5);
        let back = WinoWeights::forward_tile(&w, k, c, tile).to_oihw();
        let e = rel(&back, &w);
        assert!(e <= 1e-6, "F({tile},3): rel err {e}");
    }
}
