//! The proof that layout, preprocessing, pooling and gradients are right: the real VGG-19
//! weights on `content.png` against values PyTorch computed in float64 from the same file
//! (`tests/data/reference/vgg19_reference.json`, a copy of `shared/reference`).
use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use serde_json::Value;
use stylelearn::style::gram::gram;
use stylelearn::vgg::{RELU_LAYERS, Vgg19};
use stylelearn::{image_io, setup};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/reference")
        .join(name)
}

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data("vgg19_reference.json")).unwrap()).unwrap()
}

fn vgg(device: &Device) -> Vgg19 {
    let w = setup::resolve_weights(None, &|_| {}).expect("weights: run `stylelearn setup` first");
    Vgg19::new(&w, device)
}

fn close(what: &str, got: f64, want: f64, rel: f64) {
    let err = (got - want).abs() / want.abs().max(1e-9);
    assert!(
        err <= rel,
        "{what}: got {got}, want {want} (relative error {err:.2e} > {rel:.0e})"
    );
}

fn to_f64(t: Tensor<1>) -> f64 {
    t.into_scalar::<f32>() as f64
}

#[test]
fn every_layer_matches_the_pytorch_reference() {
    let device = Device::flex();
    let net = vgg(&device);
    let r = reference();
    let x = image_io::load(&data("content.png"))
        .unwrap()
        .to_tensor(&device);
    let all: Vec<usize> = (0..16).collect();
    let feats = net.features(x, &all);
    for (i, f) in feats.into_iter().enumerate() {
        let name = RELU_LAYERS[i];
        let want = &r["layers"][name];
        let dims = f.dims();
        let shape: Vec<usize> = want["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(&dims[1..], &shape[..], "{name} shape");
        let [_, c, h, w] = dims;
        close(
            &format!("{name} mean"),
            to_f64(f.clone().mean()),
            want["mean"].as_f64().unwrap(),
            1e-3,
        );
        close(
            &format!("{name} max"),
            to_f64(f.clone().max()),
            want["max"].as_f64().unwrap(),
            1e-3,
        );
        let ch: Vec<f32> = f
            .clone()
            .reshape([c, h * w])
            .mean_dim(1)
            .try_to_vec_as::<f32>()
            .unwrap();
        for (k, v) in want["channel_mean_first8"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let v = v.as_f64().unwrap();
            // Exact zeros (dead channels) are compared absolutely.
            if v == 0.0 {
                assert!(
                    ch[k].abs() < 1e-3,
                    "{name} channel {k} mean {} should be 0",
                    ch[k]
                );
            } else {
                close(&format!("{name} channel {k} mean"), ch[k] as f64, v, 1e-3);
            }
        }
        let g = gram(f);
        let gv: Vec<f32> = g.clone().try_to_vec_as::<f32>().unwrap();
        let trace: f64 = (0..c).map(|k| gv[k * c + k] as f64).sum();
        let fro: f64 = gv.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
        close(
            &format!("{name} gram trace"),
            trace,
            want["gram_trace"].as_f64().unwrap(),
            1e-3,
        );
        close(
            &format!("{name} gram fro"),
            fro,
            want["gram_fro"].as_f64().unwrap(),
            1e-3,
        );
        for (key, idx) in [("gram_00", 0), ("gram_01", 1)] {
            let v = want[key].as_f64().unwrap();
            if v == 0.0 {
                assert!(gv[idx].abs() < 1e-3, "{name} {key} {} should be 0", gv[idx]);
            } else {
                close(&format!("{name} {key}"), gv[idx] as f64, v, 1e-3);
            }
        }
    }
}

#[test]
fn style_loss_and_its_input_gradient_match_the_reference() {
    let device = Device::flex().autodiff();
    let net = vgg(&device);
    let r = reference();
    let check = &r["style_loss_check"];
    let layers: Vec<usize> = check["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| stylelearn::vgg::layer_index(v.as_str().unwrap()).unwrap())
        .collect();
    let style = image_io::load(&data("style.png"))
        .unwrap()
        .to_tensor(&device);
    let targets: Vec<Tensor<2>> = net
        .features(style, &layers)
        .into_iter()
        .map(|f| gram(f).detach())
        .collect();
    let content = image_io::load(&data("content.png")).unwrap();
    let x = content.to_tensor(&device).require_grad();
    let mut loss = Tensor::<1>::zeros([1], &device);
    for (f, t) in net.features(x.clone(), &layers).into_iter().zip(targets) {
        loss = loss + (gram(f) - t).square().sum();
    }
    close(
        "style loss",
        loss.clone().into_scalar::<f32>() as f64,
        check["value"].as_f64().unwrap(),
        1e-2,
    );
    let grads = loss.backward();
    let g: Vec<f32> = x.grad(&grads).unwrap().try_to_vec_as::<f32>().unwrap();
    let l2 = g.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
    close("gradient L2", l2, check["grad_l2"].as_f64().unwrap(), 1e-2);
    let (w, h) = (content.width, content.height);
    for (key, v) in check["grad_at"].as_object().unwrap() {
        let idx: Vec<usize> = key.split(',').map(|s| s.parse().unwrap()).collect();
        let (y, xx, c) = (idx[0], idx[1], idx[2]);
        close(
            &format!("gradient at {key}"),
            g[c * w * h + y * w + xx] as f64,
            v.as_f64().unwrap(),
            1e-2,
        );
    }
}

#[test]
fn content_loss_matches_the_reference() {
    let device = Device::flex();
    let net = vgg(&device);
    let r = reference();
    let l =
        stylelearn::vgg::layer_index(r["content_loss_check"]["layer"].as_str().unwrap()).unwrap();
    let a = net.features(
        image_io::load(&data("style.png"))
            .unwrap()
            .to_tensor(&device),
        &[l],
    );
    let b = net.features(
        image_io::load(&data("content.png"))
            .unwrap()
            .to_tensor(&device),
        &[l],
    );
    let v = (a[0].clone() - b[0].clone())
        .square()
        .sum()
        .into_scalar::<f32>() as f64;
    close(
        "content loss",
        v,
        r["content_loss_check"]["value"].as_f64().unwrap(),
        1e-3,
    );
}
