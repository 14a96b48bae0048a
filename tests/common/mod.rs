//! Shared helpers for the integration tests that use the real VGG-19 weights.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use burn::tensor::Device;
use stylelearn::image_io::Rgb;
use stylelearn::vgg::Vgg19;
use stylelearn::weights::VggWeights;

/// The real weights (cached by `stylelearn setup`; fetched on first use otherwise).
pub fn weights() -> &'static VggWeights {
    static W: OnceLock<VggWeights> = OnceLock::new();
    W.get_or_init(|| {
        stylelearn::setup::resolve_weights(None, &|_| {}).expect("weights: run `stylelearn setup`")
    })
}

pub fn net() -> Vgg19 {
    Vgg19::new(weights(), &Device::flex())
}

pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// Runs the shipped binary.
pub fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stylelearn"))
        .args(args)
        .output()
        .expect("binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A two-colour image: left part `a`, right part `b` (RGB in [0,1]).
pub fn two_colour(w: usize, h: usize, split: usize, a: [f32; 3], b: [f32; 3]) -> Rgb {
    let mut data = vec![0.0; 3 * w * h];
    for c in 0..3 {
        for y in 0..h {
            for x in 0..w {
                data[c * w * h + y * w + x] = if x < split { a[c] } else { b[c] };
            }
        }
    }
    Rgb::from_planar(w, h, data)
}

/// A flat style, 96×96: large blocks of four colours with hard edges (a cartoon's flat
/// regions), written to `dir`.
pub fn flat_style(dir: &Path) -> (Rgb, PathBuf) {
    let (w, h) = (96, 96);
    let n = w * h;
    let colours = [
        [0.9, 0.6, 0.2],
        [0.2, 0.3, 0.7],
        [0.8, 0.8, 0.7],
        [0.3, 0.15, 0.1],
    ];
    let mut data = vec![0.0f32; 3 * n];
    for y in 0..h {
        for x in 0..w {
            let c = colours[(x / 24 + 2 * (y / 32)) % 4];
            for ch in 0..3 {
                data[ch * n + y * w + x] = c[ch];
            }
        }
    }
    let style = Rgb::from_planar(w, h, data);
    let path = dir.join("flat.png");
    style.save(&path).unwrap();
    (style, path)
}

pub fn channel_means(img: &Rgb) -> [f32; 3] {
    let n = img.width * img.height;
    [0, 1, 2].map(|c| img.data[c * n..(c + 1) * n].iter().sum::<f32>() / n as f32)
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// `img` with one-pixel grain: `(1 − amount)·img + amount·noise` (white noise of `seed`).
pub fn with_grain(img: &Rgb, amount: f32, seed: u64) -> Rgb {
    let grain = stylelearn::image_io::noise(img.width, img.height, seed);
    let data = img
        .data
        .iter()
        .zip(&grain.data)
        .map(|(p, g)| (1.0 - amount) * p + amount * g)
        .collect();
    Rgb::from_planar(img.width, img.height, data)
}
