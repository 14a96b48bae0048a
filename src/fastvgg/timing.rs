//! Timings behind the choices in the module docs (ignored: run by hand, in release):
//! `cargo test --release --lib fastvgg::timing -- --ignored --nocapture --test-threads 1`
use std::time::Instant;

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};

use super::conv::{Padded, WinoWeights, conv_implicit, conv_wino2_blocked, taps};
use super::*;

fn rnd(n: usize, seed: u64) -> Vec<f32> {
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| r.random_range(-1.0f32..1.0)).collect()
}

fn median_secs(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// One VGG conv shape at a time: burn's conv2d, implicit gemm, Winograd at several block sizes.
#[test]
#[ignore]
fn conv_candidates() {
    let d = Device::flex();
    for (c, k, s) in [
        (64, 64, 256),
        (128, 128, 128),
        (256, 256, 64),
        (512, 512, 32),
        (512, 512, 16),
        (64, 64, 512),
        (512, 512, 64),
    ] {
        let x = rnd(c * s * s, 1);
        let w = rnd(k * c * 9, 2);
        let b = rnd(k, 3);
        let gflop = 2.0 * (c * k * 9 * s * s) as f64 / 1e9;
        let xt = Tensor::<4>::from_data(TensorData::new(x.clone(), [1, c, s, s]), &d);
        let wt = Tensor::<4>::from_data(TensorData::new(w.clone(), [k, c, 3, 3]), &d);
        let bt = Tensor::<1>::from_data(TensorData::new(b.clone(), [k]), &d);
        let t_burn = median_secs(3, || {
            let y = conv2d(
                xt.clone(),
                wt.clone(),
                Some(bt.clone()),
                ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
            );
            let _ = y.into_data();
        });
        let xp = Padded::from_chw(&x, c, s, s);
        let mut out = Padded::zeros(k, s, s);
        let w9 = taps(&w, k, c);
        let mut line = format!(
            "{c:>3}->{k:<3} {s:>3}²  {gflop:5.2} GFLOP  burn {:6.1} ms",
            t_burn * 1e3
        );
        for strip in [4, 16] {
            let t = median_secs(3, || conv_implicit(&xp, &w9, k, Some(&b), true, &mut out, strip));
            line += &format!("  implicit/{strip} {:6.1} ms", t * 1e3);
        }
        let ww = WinoWeights::forward(&w, k, c);
        for mb in [1usize, 3, 6, 12, 24] {
            let t = median_secs(3, || {
                conv_wino2_blocked(&xp, None, &ww, Some(&b), true, &mut out, mb << 20)
            });
            line += &format!("  wino2/{mb}MB {:6.1} ms", t * 1e3);
        }
        println!("{line}");
    }
}

/// The whole VGG-19 forward to relu5_1 and input-gradient: CpuVgg vs burn autodiff.
#[test]
#[ignore]
fn network_fastvgg_vs_burn() {
    let weights = match crate::setup::resolve_weights(None, true) {
        Ok(w) => w,
        Err(_) => crate::weights::tests::synthetic(1, InputConvention::CaffeBgr),
    };
    println!("weights: {}", weights.source);
    let fast = CpuVgg::from_weights(&weights);
    let d = Device::flex().autodiff();
    let net = crate::vgg::Vgg19::new(&weights, &d);
    let layers = [0usize, 2, 4, 8, 9, 12];
    for s in [256usize, 512] {
        let rgb = rnd(3 * s * s, 9).iter().map(|v| v * 0.5 + 0.5).collect::<Vec<_>>();
        let shapes: Vec<(usize, usize, usize)> = layers
            .iter()
            .map(|&l| {
                let p = crate::vgg::pools_before(l);
                (fast.channels(l), s >> p, s >> p)
            })
            .collect();
        let grads: Vec<(usize, Vec<f32>)> = layers
            .iter()
            .zip(&shapes)
            .map(|(&l, &(c, h, w))| (l, rnd(c * h * w, l as u64)))
            .collect();
        let mut tape = None;
        let (mut t_f, mut t_b) = (Vec::new(), Vec::new());
        for _ in 0..4 {
            let st = Instant::now();
            let x = preprocess(&rgb, weights.convention);
            let tp = fast.forward_reuse(tape.take(), &x, s, s, &layers);
            t_f.push(st.elapsed().as_secs_f64());
            let st = Instant::now();
            let g = preprocess_backward(&fast.backward(&tp, &grads), weights.convention);
            t_b.push(st.elapsed().as_secs_f64());
            assert!(g.iter().all(|v| v.is_finite()));
            tape = Some(tp);
        }
        let med = |mut v: Vec<f64>| {
            v.remove(0);
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (tf, tb) = (med(t_f), med(t_b));
        let rts: Vec<Tensor<4>> = grads
            .iter()
            .zip(&shapes)
            .map(|((_, r), &(c, h, w))| {
                Tensor::<4>::from_data(TensorData::new(r.clone(), [1, c, h, w]), &d)
            })
            .collect();
        let t_burn = median_secs(2, || {
            let xt = Tensor::<4>::from_data(TensorData::new(rgb.clone(), [1, 3, s, s]), &d)
                .require_grad();
            let feats = net.features(xt.clone(), &layers);
            let mut loss = Tensor::<1>::zeros([1], &d);
            for (f, r) in feats.into_iter().zip(&rts) {
                loss = loss + (f * r.clone()).sum();
            }
            let g = xt.grad(&loss.backward()).unwrap();
            let _ = g.into_data();
        });
        println!(
            "{s}²: fastvgg forward {:.3} s + backward {:.3} s = {:.3} s;  burn forward+backward {:.3} s;  speed-up {:.2}×;  peak RSS {:.0} MiB",
            tf,
            tb,
            tf + tb,
            t_burn,
            t_burn / (tf + tb),
            crate::bench::peak_rss_mib().unwrap_or(f64::NAN)
        );
    }
}

#[test]
#[ignore]
fn profile_wino() {
    let (c, k, s) = (64, 64, 256);
    let x = rnd(c * s * s, 1);
    let w = rnd(k * c * 9, 2);
    let b = rnd(k, 3);
    let xp = Padded::from_chw(&x, c, s, s);
    let mut out = Padded::zeros(k, s, s);
    let ww = WinoWeights::forward(&w, k, c);
    let t = median_secs(30, || conv_wino2_blocked(&xp, None, &ww, Some(&b), true, &mut out, 6 << 20));
    println!("wino {:.1} ms", t * 1e3);
}
