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
            peak_rss_mib()
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

/// Peak resident memory of this process so far (Linux VmHWM), MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            l.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The `stylelearn bench` step (Gram at relu{1..5}_1 ×3, content at relu4_2, TV, range ×10,
/// one Adam step) through burn's `Vgg19::features` and through [`super::loss_bridge`], at the
/// sizes in $STEP_SIZES (default 256,512), median of $STEP_STEPS (default 5) after a warm-up,
/// the two paths alternating. Prints `step SIZE fastvgg SECONDS burn SECONDS`.
#[test]
#[ignore]
fn bridge_step_vs_burn_step() {
    use crate::optim::{Adam, AdamConfig, Optimizer};
    use crate::style::gram::gram;
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let sizes: Vec<usize> = env("STEP_SIZES", "256,512")
        .split(',')
        .map(|v| v.trim().parse().unwrap())
        .collect();
    let steps: usize = env("STEP_STEPS", "5").parse().unwrap();
    // STEP_ONLY=fastvgg times only the fastvgg path (for profiling)
    let only_fast = env("STEP_ONLY", "") == "fastvgg";
    let weights = crate::setup::resolve_weights(None, true)
        .unwrap_or_else(|_| crate::weights::tests::synthetic(1, InputConvention::CaffeBgr));
    let fast = CpuVgg::from_weights(&weights);
    let d = Device::flex().autodiff();
    let net = crate::vgg::Vgg19::new(&weights, &d);
    let style_layers = [0usize, 2, 4, 8, 12];
    let content_layer = 9usize;
    let layers = [0usize, 2, 4, 8, 9, 12];
    for s in sizes {
        let content = crate::image_io::noise(s, s, 1).data;
        let style = crate::image_io::noise(s, s, 2).data;
        let t4 = |v: &[f32]| Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, 3, s, s]), &d);
        let targets: Vec<Tensor<2>> = net
            .features(t4(&style).detach(), &style_layers)
            .into_iter()
            .map(|f| gram(f).detach())
            .collect();
        let tnorms: Vec<f32> = targets.iter().map(|t| t.clone().square().sum().into_scalar::<f32>()).collect();
        let fc = net.features(t4(&content).detach(), &[content_layer]).remove(0).detach();
        let cnorm: f32 = fc.clone().square().sum().into_scalar();
        // features in `layers` order
        let feature_loss = |f: &[Tensor<4>]| {
            let mut style = Tensor::<1>::zeros([1], &d);
            for (j, &l) in style_layers.iter().enumerate() {
                let i = layers.iter().position(|&k| k == l).unwrap();
                let dd = (gram(f[i].clone()) - targets[j].clone()).square().sum().div_scalar(tnorms[j].max(1e-12));
                style = style + dd.mul_scalar(1.0 / style_layers.len() as f32);
            }
            let i = layers.iter().position(|&k| k == content_layer).unwrap();
            let content = (f[i].clone() - fc.clone()).square().sum().div_scalar(cnorm.max(1e-12));
            style.mul_scalar(3.0) + content
        };
        let image_loss = |x: Tensor<4>| {
            let n = (3 * s * s) as f32;
            let range = (x.clone().neg().clamp_min(0.0).square() + (x.clone() - 1.0).clamp_min(0.0).square())
                .sum()
                .div_scalar(n);
            let dx = x.clone().slice([0..1, 0..3, 0..s, 1..s]) - x.clone().slice([0..1, 0..3, 0..s, 0..s - 1]);
            let dy = x.clone().slice([0..1, 0..3, 1..s, 0..s]) - x.slice([0..1, 0..3, 0..s - 1, 0..s]);
            range.mul_scalar(10.0) + (dx.square().sum() + dy.square().sum()).div_scalar(n)
        };
        let mut tape = None;
        let mut fast_obj = |x: &[f32]| {
            super::loss_bridge::eval_with_fastvgg(
                &fast, &mut tape, weights.convention, x, s, s, &layers, &d, feature_loss, image_loss,
            )
        };
        let mut burn_obj = |x: &[f32]| -> anyhow::Result<(f64, Vec<f32>)> {
            let xt = t4(x).require_grad();
            let loss = feature_loss(&net.features(xt.clone(), &layers)) + image_loss(xt.clone());
            let v = loss.clone().into_scalar::<f32>() as f64;
            let g = xt.grad(&loss.backward()).unwrap().try_to_vec_as::<f32>().unwrap();
            Ok((v, g))
        };
        let (mut xf, mut xb) = (content.clone(), content.clone());
        let (mut of, mut ob) = (Adam::new(AdamConfig::default()), Adam::new(AdamConfig::default()));
        // both paths agree on the first loss value
        let lf = fast_obj(&xf).unwrap().0;
        let lb = burn_obj(&xb).unwrap().0;
        assert!((lf - lb).abs() <= 1e-3 * lb.abs(), "loss {lf} vs {lb}");
        of.step(&mut xf, &mut fast_obj).unwrap();
        ob.step(&mut xb, &mut burn_obj).unwrap();
        let (mut tf, mut tb) = (Vec::new(), Vec::new());
        for _ in 0..steps.max(1) {
            let st = Instant::now();
            of.step(&mut xf, &mut fast_obj).unwrap();
            tf.push(st.elapsed().as_secs_f64());
            if only_fast {
                continue;
            }
            let st = Instant::now();
            ob.step(&mut xb, &mut burn_obj).unwrap();
            tb.push(st.elapsed().as_secs_f64());
        }
        let med = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        };
        println!("step {s} fastvgg {:.4} burn {:.4} peak_rss_mib {:.0}", med(tf), med(tb), peak_rss_mib());
    }
}
