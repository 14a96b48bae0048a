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
