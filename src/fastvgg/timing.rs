//! Timings behind the choices in the module docs (ignored: run by hand, in release):
//! `cargo test --release --lib fastvgg::timing -- --ignored --test-threads 1`. Each test
//! writes its table to `target/timing/TEST.txt`; nothing is printed.
use std::time::Instant;

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};

use super::conv::{Padded, WINO_BLOCK_BYTES, WinoWeights, conv_implicit, conv_wino2_blocked, taps};
use super::*;

fn rnd(n: usize, seed: u64) -> Vec<f32> {
    let mut r = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| r.random_range(-1.0f32..1.0)).collect()
}

/// Writes a timing table to `target/timing/NAME.txt` (the engine prints nothing, tests
/// included): one line per entry.
fn write_table(name: &str, lines: &[String]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/timing");
    std::fs::create_dir_all(&dir).expect("target/timing is writable");
    std::fs::write(dir.join(format!("{name}.txt")), lines.join("\n") + "\n")
        .expect("the timing table is written");
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
    let mut table: Vec<String> = Vec::new();
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
        for strip in [16] {
            let t = median_secs(3, || {
                conv_implicit(&xp, &w9, k, Some(&b), true, &mut out, strip)
            });
            line += &format!("  implicit/{strip} {:6.1} ms", t * 1e3);
        }
        let ww = WinoWeights::forward(&w, k, c);
        for mb in [3usize, 6, 12, 24] {
            let t = median_secs(3, || {
                conv_wino2_blocked(&xp, &ww, Some(&b), true, &mut out, mb << 20)
            });
            line += &format!("  wino2/{mb}MB {:6.1} ms", t * 1e3);
        }
        let ww4 = WinoWeights::forward_tile(&w, k, c, 4);
        for mb in [3usize, 6, 12, 24] {
            let t = median_secs(3, || {
                conv_wino2_blocked(&xp, &ww4, Some(&b), true, &mut out, mb << 20)
            });
            line += &format!("  wino4/{mb}MB {:6.1} ms", t * 1e3);
        }
        table.push(line);
    }
    write_table("conv_candidates", &table);
}

/// The whole VGG-19 forward to relu5_1 and input-gradient: CpuVgg with F(2,3) and F(4,3)
/// tiles vs burn autodiff, the three alternating (the machine may be shared), at $NET_SIZES
/// (default 256,512), $NET_ROUNDS rounds (default 4). Also the relative error of the features
/// and of the image gradient against burn, with the real weights when they are set up.
#[test]
#[ignore]
fn network_fastvgg_vs_burn() {
    let mut table: Vec<String> = Vec::new();
    let weights = match crate::setup::resolve_weights(None, &|_| {}) {
        Ok(w) => w,
        Err(_) => crate::weights::tests::synthetic(1, InputConvention::CaffeBgr),
    };
    table.push(format!("weights: {}", weights.source));
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let sizes: Vec<usize> = env("NET_SIZES", "256,512")
        .split(',')
        .map(|v| v.trim().parse().unwrap())
        .collect();
    let rounds: usize = env("NET_ROUNDS", "4").parse().unwrap();
    let fast = [2usize, 4].map(|t| CpuVgg::from_weights_tile(&weights, t));
    let d = Device::flex().autodiff();
    let net = crate::vgg::Vgg19::new(&weights, &d);
    let layers = [0usize, 2, 4, 8, 9, 12];
    let rel = |a: &[f32], b: &[f32]| {
        let n: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
        let m: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
        (n / m.max(1e-300)).sqrt()
    };
    for s in sizes {
        let rgb = rnd(3 * s * s, 9)
            .iter()
            .map(|v| v * 0.5 + 0.5)
            .collect::<Vec<_>>();
        let shapes: Vec<(usize, usize, usize)> = layers
            .iter()
            .map(|&l| {
                let p = crate::vgg::pools_before(l);
                (fast[0].channels(l), s >> p, s >> p)
            })
            .collect();
        let grads: Vec<(usize, Vec<f32>)> = layers
            .iter()
            .zip(&shapes)
            .map(|(&l, &(c, h, w))| (l, rnd(c * h * w, l as u64)))
            .collect();
        let rts: Vec<Tensor<4>> = grads
            .iter()
            .zip(&shapes)
            .map(|((_, r), &(c, h, w))| {
                Tensor::<4>::from_data(TensorData::new(r.clone(), [1, c, h, w]), &d)
            })
            .collect();
        let burn_run = || {
            let xt = Tensor::<4>::from_data(TensorData::new(rgb.clone(), [1, 3, s, s]), &d)
                .require_grad();
            let feats = net.features(xt.clone(), &layers);
            let mut loss = Tensor::<1>::zeros([1], &d);
            for (f, r) in feats.iter().zip(&rts) {
                loss = loss + (f.clone() * r.clone()).sum();
            }
            let g = xt.grad(&loss.backward()).unwrap();
            (feats, g.try_to_vec_as::<f32>().unwrap())
        };
        let mut tapes: [Option<Tape>; 2] = [None, None];
        let mut times = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
        let mut t_burn = Vec::new();
        for round in 0..rounds.max(2) {
            let mut outs = Vec::new();
            for (i, f) in fast.iter().enumerate() {
                let st = Instant::now();
                let x = preprocess(&rgb, weights.convention);
                let tp = f.forward_reuse(tapes[i].take(), &x, s, s, &layers);
                times[i][0].push(st.elapsed().as_secs_f64());
                let st = Instant::now();
                let g = preprocess_backward(&f.backward(&tp, &grads), weights.convention);
                times[i][1].push(st.elapsed().as_secs_f64());
                outs.push(g);
                tapes[i] = Some(tp);
            }
            let st = Instant::now();
            let (feats, g) = burn_run();
            t_burn.push(st.elapsed().as_secs_f64());
            if round == 0 {
                table.push(format!(
                    "{s}² image gradient, F(2,3) vs F(4,3): relative L2 difference {:.1e}",
                    rel(&outs[0], &outs[1])
                ));
                for (i, tp) in tapes.iter().enumerate() {
                    let tp = tp.as_ref().unwrap();
                    let fe: Vec<String> = feats
                        .iter()
                        .enumerate()
                        .map(|(k, f)| {
                            let want = f.clone().try_to_vec_as::<f32>().unwrap();
                            format!("{:.1e}", rel(tp.feature(k).0, &want))
                        })
                        .collect();
                    table.push(format!(
                        "{s}² F({},3): relative L2 error vs burn, features at relu {:?}: [{}], image gradient {:.1e}",
                        [2, 4][i],
                        layers,
                        fe.join(", "),
                        rel(&outs[i], &g)
                    ));
                }
            }
        }
        let med = |v: &Vec<f64>| {
            let mut v = v[1..].to_vec();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let tb = med(&t_burn);
        for (i, t) in times.iter().enumerate() {
            let (tf, tbw) = (med(&t[0]), med(&t[1]));
            table.push(format!(
                "{s}² F({},3): fastvgg forward {tf:.3} s + backward {tbw:.3} s = {:.3} s;  burn forward+backward {tb:.3} s;  speed-up {:.2}×",
                [2, 4][i],
                tf + tbw,
                tb / (tf + tbw)
            ));
        }
        table.push(format!("peak RSS {:.0} MiB", peak_rss_mib()));
    }
    write_table("network_fastvgg_vs_burn", &table);
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
    let mut table: Vec<String> = Vec::new();
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
    let weights = crate::setup::resolve_weights(None, &|_| {})
        .unwrap_or_else(|_| crate::weights::tests::synthetic(1, InputConvention::CaffeBgr));
    let tile: usize = std::env::var("TILE").map_or(DEFAULT_TILE, |v| v.parse().unwrap());
    let fast = CpuVgg::from_weights_tile(&weights, tile);
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
        let tnorms: Vec<f32> = targets
            .iter()
            .map(|t| t.clone().square().sum().into_scalar::<f32>())
            .collect();
        let fc = net
            .features(t4(&content).detach(), &[content_layer])
            .remove(0)
            .detach();
        let cnorm: f32 = fc.clone().square().sum().into_scalar();
        // one layer's terms
        let layer_loss = |l: usize, f: Tensor<4>| -> Option<Tensor<1>> {
            let mut t: Option<Tensor<1>> = None;
            if let Some(j) = style_layers.iter().position(|&k| k == l) {
                let dd = (gram(f.clone()) - targets[j].clone())
                    .square()
                    .sum()
                    .div_scalar(tnorms[j].max(1e-12));
                t = Some(dd.mul_scalar(3.0 / style_layers.len() as f32));
            }
            if l == content_layer {
                let c = (f - fc.clone()).square().sum().div_scalar(cnorm.max(1e-12));
                t = Some(match t {
                    Some(t) => t + c,
                    None => c,
                });
            }
            t
        };
        // features in `layers` order
        let feature_loss = |f: &[Tensor<4>]| {
            let mut total = Tensor::<1>::zeros([1], &d);
            for (fi, &l) in f.iter().zip(&layers) {
                if let Some(t) = layer_loss(l, fi.clone()) {
                    total = total + t;
                }
            }
            total
        };
        let image_loss = |x: Tensor<4>| {
            let n = (3 * s * s) as f32;
            let range = (x.clone().neg().clamp_min(0.0).square()
                + (x.clone() - 1.0).clamp_min(0.0).square())
            .sum()
            .div_scalar(n);
            let dx = x.clone().slice([0..1, 0..3, 0..s, 1..s])
                - x.clone().slice([0..1, 0..3, 0..s, 0..s - 1]);
            let dy =
                x.clone().slice([0..1, 0..3, 1..s, 0..s]) - x.slice([0..1, 0..3, 0..s - 1, 0..s]);
            range.mul_scalar(10.0) + (dx.square().sum() + dy.square().sum()).div_scalar(n)
        };
        let mut tape = None;
        let mut fast_obj = |x: &[f32]| {
            super::loss_bridge::eval_with_fastvgg(
                &fast,
                &mut tape,
                weights.convention,
                x,
                s,
                s,
                &layers,
                &d,
                layer_loss,
                image_loss,
            )
        };
        let mut burn_obj = |x: &[f32]| -> anyhow::Result<(f64, Vec<f32>)> {
            let xt = t4(x).require_grad();
            let loss = feature_loss(&net.features(xt.clone(), &layers)) + image_loss(xt.clone());
            let v = loss.clone().into_scalar::<f32>() as f64;
            let g = xt
                .grad(&loss.backward())
                .unwrap()
                .try_to_vec_as::<f32>()
                .unwrap();
            Ok((v, g))
        };
        let (mut xf, mut xb) = (content.clone(), content.clone());
        let (mut of, mut ob) = (
            Adam::new(AdamConfig::default()),
            Adam::new(AdamConfig::default()),
        );
        // both paths agree on the first loss value
        let lf = fast_obj(&xf).unwrap().0;
        if !only_fast {
            let lb = burn_obj(&xb).unwrap().0;
            assert!((lf - lb).abs() <= 1e-3 * lb.abs(), "loss {lf} vs {lb}");
        }
        of.step(&mut xf, &mut fast_obj).unwrap();
        if !only_fast {
            ob.step(&mut xb, &mut burn_obj).unwrap();
        }
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
        table.push(format!(
            "step {s} fastvgg {:.4} burn {:.4} peak_rss_mib {:.0}",
            med(tf),
            med(tb),
            peak_rss_mib()
        ));
    }
    write_table("bridge_step_vs_burn_step", &table);
}

/// One conv shape (64→64 at 256²) 30 times, for `perf record`; $TILE picks the Winograd tile.
#[test]
#[ignore]
fn profile_wino() {
    let mut table: Vec<String> = Vec::new();
    let (c, k, s) = (64, 64, 256);
    let x = rnd(c * s * s, 1);
    let w = rnd(k * c * 9, 2);
    let b = rnd(k, 3);
    let xp = Padded::from_chw(&x, c, s, s);
    let mut out = Padded::zeros(k, s, s);
    let tile: usize = std::env::var("TILE").map_or(2, |v| v.parse().unwrap());
    let ww = WinoWeights::forward_tile(&w, k, c, tile);
    let t = median_secs(30, || {
        conv_wino2_blocked(&xp, &ww, Some(&b), true, &mut out, WINO_BLOCK_BYTES)
    });
    table.push(format!("wino F({tile},3) {:.1} ms", t * 1e3));
    write_table("profile_wino", &table);
}
