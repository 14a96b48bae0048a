//! A CPU-only VGG-19 forward and input-gradient on plain f32 slices, faster than the generic
//! burn path for style transfer (issue 10).
//!
//! Style transfer needs only the gradient with respect to the image, never the weights', and
//! every VGG conv is 3×3 / stride 1 / pad 1. So a forward keeps, per layer, the ReLU output
//! (its mask) and the pools' argmax, and the backward runs, layer by layer, the same
//! convolution with the kernel flipped and in/out channels swapped ([`conv::WinoWeights::backward`])
//! on the masked incoming gradient, and routes the gradient through the pools.
//!
//! Convolution: Winograd on top of the `gemm` crate ([`conv::conv_wino2`]), F(4×4,3×3) by
//! default ([`DEFAULT_TILE`]), F(2×2,3×3) selectable; the input/output transforms are
//! vectorised across tiles, compiled for AVX-512 and AVX2 and picked at run time. Per block of
//! tile rows (≈ [`conv::WINO_BLOCK_BYTES`] of scratch, to stay in L3): input transform (parallel
//! over channels), α² gemms (parallel over ξ), output transform + bias + ReLU (parallel over
//! output channels). An implicit-gemm variant ([`conv::conv_implicit`]: 9 gemms over shifted
//! views of the padded input, no im2col buffer) is kept for comparison.
//!
//! Measured here (AMD EPYC Zen 5, 2 threads, x86-v4 on; the machine was shared with other jobs,
//! load average 2–3 for the first set and 8–12 for the rest, so absolute times are inflated and
//! only numbers from one run compare). One conv, ms, `fastvgg::timing::conv_candidates`:
//!
//! | layer | burn conv2d | implicit gemm | Winograd F(2,3) |
//! |---|---:|---:|---:|
//! | 64→64 at 256² | 79.9 | 26.1 | 19.6 |
//! | 128→128 at 128² | 40.6 | 24.2 | 16.6 |
//! | 256→256 at 64² | 34.5 | 23.6 | 14.0 |
//! | 512→512 at 32² | 33.9 | 24.0 | 13.5 |
//! | 512→512 at 16² | 11.7 | 7.5 | 3.6 |
//! | 64→64 at 512² | 286.9 | 107.5 | 127.7 |
//! | 512→512 at 64² | 149.3 | 98.5 | 49.8 |
//!
//! Scratch per block, F(2,3): 6 and 12 MB were equal or best on every shape, 24 MB best only
//! for 512→512 at 64² (49.8 vs 56.0 ms) and worse on the 64–128-channel layers, 1–3 MB slower
//! on the deep layers; 12 MB is used. F(4,3) against F(2,3) under the heavier load: 512→512 at 32² 39.6 vs 60.7 ms, 64→64 at 256²
//! 62.9 vs 65.5 ms. The whole network (forward to relu5_1 + input gradient from relu
//! {1_1,2_1,3_1,4_1,4_2,5_1}, real weights, `fastvgg::timing::network_fastvgg_vs_burn`, the three
//! alternating): 128² F(4,3) 0.250 s, F(2,3) 0.363 s, burn autodiff 1.052 s; 256² 0.711, 1.037,
//! 2.357 s; 512² 7.56, 11.35, 22.7 s. At load 2–3, F(2,3): 256² 0.362 s vs burn 1.054 s; 512²
//! 1.94 s vs 4.31 s.
//!
//! Accuracy against burn (real weights, relative L2): activations 1e-7..8e-7 with F(2,3),
//! 7e-7..3e-6 with F(4,3). Image gradients differ by up to ~1e-3 at 256²/512² for either tile
//! (and between the two tiles): ReLU masks and max-pool argmax of near-zero / near-equal values
//! flip under rounding; with synthetic weights at small sizes they agree to 3e-7 (tests).
//!
//! AVX-512: the `gemm` crate (0.19, used here and by burn-flex) compiles its AVX-512 kernels only
//! with its `x86-v4` feature (enabled through burn's `x86-v4` in Cargo.toml), and picks them at run
//! time: `gemm_common::gemm_def!` (gemm-common-0.19.0/src/gemm.rs, `init_gemm_fn`) returns the
//! `avx512f` kernel only if `feature_detected!("avx512f")` (= `std::arch::is_x86_feature_detected!`,
//! gemm-common/src/lib.rs) holds, else the `fma` (AVX2) kernel, else the scalar one. Checked: the
//! release binary built with x86-v4 runs `stylelearn bench --sizes 32 --steps 1` correctly under
//! `qemu-x86_64 -cpu Haswell` (a CPU without AVX-512).
//!
//! No burn types are used in the kernels; [`CpuVgg`] is built from the 16 conv layers' OIHW
//! weights and biases.
pub mod conv;
pub mod loss_bridge;
pub mod pool;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod timing;

use conv::{Padded, WinoWeights, conv_wino2};
use pool::{maxpool2, maxpool2_backward};

use crate::weights::{InputConvention, VggWeights};

/// Winograd output tile used by [`CpuVgg::new`]: 2 = F(2×2,3×3), 4 = F(4×4,3×3).
pub const DEFAULT_TILE: usize = 4;

/// Indices of the relu layers after which a 2×2 max-pool follows (as in `crate::vgg`).
pub const POOL_AFTER: [usize; 4] = [1, 3, 7, 11];

/// One conv layer. Its Winograd-transformed weights (4× the plain weights for F(4×4,3×3),
/// per direction) are made on first use, so a run that stops at relu5_1 never holds the
/// deeper layers', and the plain weights are dropped once both directions exist.
struct Layer {
    c: usize,
    k: usize,
    tile: usize,
    weight: std::sync::Mutex<Option<Vec<f32>>>,
    fwd: std::sync::OnceLock<WinoWeights>,
    bwd: std::sync::OnceLock<WinoWeights>,
    bias: Vec<f32>,
}

impl Layer {
    fn transformed(&self, backward: bool) -> &WinoWeights {
        let (cell, other) = if backward {
            (&self.bwd, &self.fwd)
        } else {
            (&self.fwd, &self.bwd)
        };
        cell.get_or_init(|| {
            let mut plain = self.weight.lock().expect("not poisoned");
            let w = plain
                .as_deref()
                .expect("kept until both directions are made");
            let t = if backward {
                WinoWeights::backward_tile(w, self.k, self.c, self.tile)
            } else {
                WinoWeights::forward_tile(w, self.k, self.c, self.tile)
            };
            if other.get().is_some() {
                *plain = None;
            }
            t
        })
    }
}

/// VGG-19's 16 conv+ReLU layers (or fewer) with 2×2 max-pools after relu 1, 3, 7, 11.
pub struct CpuVgg {
    layers: Vec<Layer>,
}

/// What a forward pass keeps: every layer's ReLU output up to the deepest requested one, the
/// pools' outputs and argmax, and a contiguous copy of each requested activation.
pub struct Tape {
    h: usize,
    w: usize,
    input: Padded,
    acts: Vec<Padded>,
    pooled: Vec<Option<(Padded, Vec<u8>)>>,
    layers: Vec<usize>,
    feats: Vec<Vec<f32>>,
    /// Gradient buffers of earlier backward passes (zero borders), reused by the next one.
    spare: std::sync::Mutex<Vec<Padded>>,
}

fn take(pool: &mut Vec<Padded>, c: usize, h: usize, w: usize) -> Padded {
    match pool.iter().position(|p| p.same_shape(c, h, w)) {
        Some(i) => pool.swap_remove(i),
        None => Padded::zeros(c, h, w),
    }
}

impl Tape {
    /// The requested layers, in the order given to `forward`.
    pub fn layers(&self) -> &[usize] {
        &self.layers
    }

    /// The `i`-th requested activation as [C, H, W] and its (C, H, W).
    pub fn feature(&self, i: usize) -> (&[f32], (usize, usize, usize)) {
        let a = &self.acts[self.layers[i]];
        (&self.feats[i], (a.c, a.h, a.w))
    }

    /// Moves the `i`-th requested activation out of the tape (its slice is empty afterwards),
    /// with its (C, H, W); the backward pass does not need it.
    pub fn take_feature(&mut self, i: usize) -> (Vec<f32>, (usize, usize, usize)) {
        let a = &self.acts[self.layers[i]];
        (std::mem::take(&mut self.feats[i]), (a.c, a.h, a.w))
    }

    /// The activation of relu layer `layer`, if it was requested.
    pub fn feature_of(&self, layer: usize) -> Option<(&[f32], (usize, usize, usize))> {
        let i = self.layers.iter().position(|&l| l == layer)?;
        Some(self.feature(i))
    }

    /// Input image size (H, W).
    pub fn size(&self) -> (usize, usize) {
        (self.h, self.w)
    }
}

impl CpuVgg {
    /// From `(weight OIHW [k][c][3][3], bias [k])` per conv layer, in network order, with the
    /// default Winograd tile ([`DEFAULT_TILE`]).
    pub fn new(convs: &[(&[f32], &[f32])]) -> Self {
        Self::with_tile(convs, DEFAULT_TILE)
    }

    /// [`new`](Self::new) with Winograd output tile `tile`: 2 for F(2×2,3×3), 4 for F(4×4,3×3).
    pub fn with_tile(convs: &[(&[f32], &[f32])], tile: usize) -> Self {
        let mut prev = 3;
        let layers = convs
            .iter()
            .map(|&(w, b)| {
                let k = b.len();
                assert!(k > 0 && w.len() % (9 * k) == 0, "weight/bias shapes");
                let c = w.len() / (9 * k);
                assert_eq!(c, prev, "input channels must match the previous layer");
                prev = k;
                Layer {
                    c,
                    k,
                    tile,
                    weight: std::sync::Mutex::new(Some(w.to_vec())),
                    fwd: std::sync::OnceLock::new(),
                    bwd: std::sync::OnceLock::new(),
                    bias: b.to_vec(),
                }
            })
            .collect();
        Self { layers }
    }

    /// From checked VGG-19 weights, with the default Winograd tile.
    pub fn from_weights(w: &VggWeights) -> Self {
        Self::from_weights_tile(w, DEFAULT_TILE)
    }

    /// From checked VGG-19 weights with Winograd output tile `tile` (2 or 4).
    pub fn from_weights_tile(w: &VggWeights, tile: usize) -> Self {
        let convs: Vec<(&[f32], &[f32])> = w
            .convs
            .iter()
            .map(|c| (c.weight.as_slice(), c.bias.as_slice()))
            .collect();
        Self::with_tile(&convs, tile)
    }

    /// Number of conv layers.
    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// Output channels of relu layer `l`.
    pub fn channels(&self, l: usize) -> usize {
        self.layers[l].k
    }

    /// Runs the network on a preprocessed image `x` ([3, h, w]) up to the deepest of `layers`.
    pub fn forward(&self, x: &[f32], h: usize, w: usize, layers: &[usize]) -> Tape {
        self.forward_reuse(None, x, h, w, layers)
    }

    /// [`forward`](Self::forward), reusing the buffers of an earlier tape of the same size.
    pub fn forward_reuse(
        &self,
        old: Option<Tape>,
        x: &[f32],
        h: usize,
        w: usize,
        layers: &[usize],
    ) -> Tape {
        let deepest = *layers.iter().max().expect("at least one layer");
        assert!(deepest < self.layers.len(), "layer index");
        assert_eq!(x.len(), 3 * h * w, "input must be [3, h, w]");
        let (mut old_acts, mut old_pooled, old_input, spare) = match old {
            Some(t) if t.h == h && t.w == w => (t.acts, t.pooled, Some(t.input), t.spare),
            _ => (Vec::new(), Vec::new(), None, Default::default()),
        };
        let mut input = match old_input {
            Some(p) => p,
            None => Padded::zeros(3, h, w),
        };
        input.set_chw(x);
        old_acts.truncate(deepest + 1);
        old_pooled.truncate(deepest + 1);
        let mut old_acts = old_acts.into_iter();
        let mut old_pooled = old_pooled.into_iter();
        let mut acts: Vec<Padded> = Vec::with_capacity(deepest + 1);
        let mut pooled: Vec<Option<(Padded, Vec<u8>)>> = Vec::with_capacity(deepest + 1);
        let (mut ch, mut cw) = (h, w);
        for l in 0..=deepest {
            let layer = &self.layers[l];
            let mut out = match old_acts.next() {
                Some(p) if p.same_shape(layer.k, ch, cw) => p,
                _ => Padded::zeros(layer.k, ch, cw),
            };
            let src = if l == 0 {
                &input
            } else if let Some((p, _)) = &pooled[l - 1] {
                p
            } else {
                &acts[l - 1]
            };
            conv_wino2(
                src,
                None,
                layer.transformed(false),
                Some(&layer.bias),
                true,
                &mut out,
            );
            let old_p = old_pooled.next().flatten();
            let pool = if POOL_AFTER.contains(&l) && l < deepest {
                let (mut p, mut arg) = match old_p {
                    Some((p, a)) if p.same_shape(layer.k, ch / 2, cw / 2) => (p, a),
                    _ => (Padded::zeros(layer.k, ch / 2, cw / 2), Vec::new()),
                };
                maxpool2(&out, &mut p, &mut arg);
                (ch, cw) = (ch / 2, cw / 2);
                Some((p, arg))
            } else {
                None
            };
            acts.push(out);
            pooled.push(pool);
        }
        let feats = layers.iter().map(|&l| acts[l].to_chw()).collect();
        Tape {
            h,
            w,
            input,
            acts,
            pooled,
            layers: layers.to_vec(),
            feats,
            spare,
        }
    }

    /// d(loss)/d(preprocessed input), [3, h, w], given d(loss)/d(activation) at some relu layers
    /// (each [C, H, W] of that layer; a layer may appear more than once: the gradients add).
    /// Every layer must be at most the deepest layer of `tape`.
    pub fn backward(&self, tape: &Tape, grads: &[(usize, Vec<f32>)]) -> Vec<f32> {
        let deepest = tape.acts.len() - 1;
        assert!(
            grads.iter().all(|(l, _)| *l <= deepest),
            "gradient given for a layer deeper than the forward pass"
        );
        let mut pool = std::mem::take(&mut *tape.spare.lock().unwrap_or_else(|e| e.into_inner()));
        let a = &tape.acts[deepest];
        let mut g = take(&mut pool, a.c, a.h, a.w);
        g.data.fill(0.0);
        for l in (0..=deepest).rev() {
            for (_, gr) in grads.iter().filter(|(gl, _)| *gl == l) {
                g.add_chw(gr);
            }
            let layer = &self.layers[l];
            let (h, w) = (tape.acts[l].h, tape.acts[l].w);
            let mut dx = take(&mut pool, layer.c, h, w);
            conv_wino2(
                &g,
                Some(&tape.acts[l]),
                layer.transformed(true),
                None,
                false,
                &mut dx,
            );
            pool.push(g);
            if l == 0 {
                let out = dx.to_chw();
                pool.push(dx);
                *tape.spare.lock().unwrap_or_else(|e| e.into_inner()) = pool;
                return out;
            }
            g = match &tape.pooled[l - 1] {
                Some((_, arg)) => {
                    let prev = &tape.acts[l - 1];
                    let mut gin = take(&mut pool, prev.c, prev.h, prev.w);
                    maxpool2_backward(&dx, arg, &mut gin);
                    pool.push(dx);
                    gin
                }
                None => dx,
            };
        }
        unreachable!("the loop returns at layer 0")
    }
}

/// The network input from an RGB image in [0, 1] ([3, h, w]), as `crate::vgg::Vgg19::preprocess`
/// computes it: Caffe BGR·255 − mean, or torchvision (x − mean)/std.
pub fn preprocess(rgb: &[f32], convention: InputConvention) -> Vec<f32> {
    let n = rgb.len() / 3;
    let (scale, shift, flip) = coefficients(convention);
    let mut out = vec![0.0; rgb.len()];
    for c in 0..3 {
        let src = if flip { 2 - c } else { c };
        for (o, &v) in out[c * n..(c + 1) * n]
            .iter_mut()
            .zip(&rgb[src * n..(src + 1) * n])
        {
            *o = v * scale[c] + shift[c];
        }
    }
    out
}

/// Chains d(loss)/d(preprocessed input) back to d(loss)/d(rgb) through [`preprocess`].
pub fn preprocess_backward(g: &[f32], convention: InputConvention) -> Vec<f32> {
    let n = g.len() / 3;
    let (scale, _, flip) = coefficients(convention);
    let mut out = vec![0.0; g.len()];
    for c in 0..3 {
        let dst = if flip { 2 - c } else { c };
        for (o, &v) in out[dst * n..(dst + 1) * n]
            .iter_mut()
            .zip(&g[c * n..(c + 1) * n])
        {
            *o = v * scale[c];
        }
    }
    out
}

fn coefficients(convention: InputConvention) -> ([f32; 3], [f32; 3], bool) {
    match convention {
        InputConvention::CaffeBgr => ([255.0f32; 3], [-103.939f32, -116.779, -123.68], true),
        InputConvention::TorchRgb => (
            [1.0 / 0.229, 1.0 / 0.224, 1.0 / 0.225],
            [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225],
            false,
        ),
    }
}
