//! A CPU-only VGG-19 forward and input-gradient on plain f32 slices, faster than the generic
//! burn path for style transfer (issue 10).
//!
//! Style transfer needs only the gradient with respect to the image, never the weights', and
//! every VGG conv is 3×3 / stride 1 / pad 1. So a forward keeps, per layer, only the ReLU mask
//! (one bit per value, [`relu_mask::ReluMask`]) and the pools' argmax, not the activations: the
//! input gradient of a convolution does not need its input. The backward runs, layer by layer,
//! the same convolution with the forward weights read transposed, on the masked incoming
//! gradient rotated by 180° ([`conv::conv_wino2_input_grad_rotated`]), and routes the gradient
//! through the pools. Requested activations are handed to the caller as each layer finishes
//! ([`CpuVgg::forward_each`]), so the loss can use them and let them go.
//!
//! Memory at 512² (the bench step to relu5_1, heaptrack): the transformed weights (207 MB,
//! one set for both directions), about three activation-sized buffers recycled across layers
//! and passes (~150 MB), masks and argmax (18 MB), the kept feature gradients (≤ 136 MB). The
//! activations themselves (320 MB) and a second set of transformed weights (207 MB) are no
//! longer kept; process peak went from 1725 to ~700 MiB.
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
pub mod relu_mask;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod timing;

use conv::{Padded, WinoWeights, conv_wino2, conv_wino2_input_grad_rotated};
use pool::{maxpool2, maxpool2_backward};
use relu_mask::{ReluMask, rotate};

use crate::weights::{InputConvention, VggWeights};

/// Winograd output tile used by [`CpuVgg::new`]: 2 = F(2×2,3×3), 4 = F(4×4,3×3).
pub const DEFAULT_TILE: usize = 4;

/// Indices of the relu layers after which a 2×2 max-pool follows (as in `crate::vgg`).
pub const POOL_AFTER: [usize; 4] = [1, 3, 7, 11];

/// One conv layer. Its Winograd-transformed weights (4× the plain weights for F(4×4,3×3))
/// are made on first use, so a run that stops at relu5_1 never holds the deeper layers', and
/// the plain weights are dropped then. The backward pass reads the same transformed weights
/// ([`conv::conv_wino2_input_grad_rotated`]).
struct Layer {
    c: usize,
    k: usize,
    tile: usize,
    weight: std::sync::Mutex<Option<Vec<f32>>>,
    wino: std::sync::OnceLock<WinoWeights>,
    bias: Vec<f32>,
}

impl Layer {
    fn transformed(&self) -> &WinoWeights {
        self.wino.get_or_init(|| {
            let plain = self
                .weight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .expect("kept until transformed");
            WinoWeights::forward_tile(&plain, self.k, self.c, self.tile)
        })
    }
}

/// VGG-19's 16 conv+ReLU layers (or fewer) with 2×2 max-pools after relu 1, 3, 7, 11.
pub struct CpuVgg {
    layers: Vec<Layer>,
}

/// What a forward pass leaves for the backward pass: each layer's ReLU mask (bits) and its
/// output shape, the pools' argmax, and storage to reuse. Activations themselves are not kept:
/// the input gradient of a convolution does not need its input.
pub struct Tape {
    h: usize,
    w: usize,
    /// (C, H, W) of every relu layer's output up to the deepest requested one
    shapes: Vec<(usize, usize, usize)>,
    masks: Vec<ReluMask>,
    /// argmax of the pool after layer l, if one follows it
    argmax: Vec<Option<Vec<u8>>>,
    layers: Vec<usize>,
    /// copies of the requested activations, kept only by [`CpuVgg::forward_reuse`]
    feats: Vec<Vec<f32>>,
    /// storage of finished buffers (any shape), reused by the next pass
    spare: std::sync::Mutex<Vec<Vec<f32>>>,
}

/// A `(c, h, w)` buffer from the spare storage (the smallest that is large enough, else the
/// largest, grown), or a new one.
fn take(spare: &mut Vec<Vec<f32>>, c: usize, h: usize, w: usize) -> Padded {
    let need = Padded::zeros_len(c, h, w);
    let pick = spare
        .iter()
        .enumerate()
        .filter(|(_, v)| v.capacity() >= need)
        .min_by_key(|(_, v)| v.capacity())
        .or_else(|| spare.iter().enumerate().max_by_key(|(_, v)| v.capacity()))
        .map(|(i, _)| i);
    match pick {
        Some(i) => Padded::recycle(spare.swap_remove(i), c, h, w),
        None => Padded::zeros(c, h, w),
    }
}

impl Tape {
    /// The requested layers, in the order given to `forward`.
    pub fn layers(&self) -> &[usize] {
        &self.layers
    }

    /// The `i`-th requested activation as [C, H, W] and its (C, H, W) (kept by
    /// [`CpuVgg::forward`] and [`CpuVgg::forward_reuse`]).
    pub fn feature(&self, i: usize) -> (&[f32], (usize, usize, usize)) {
        (&self.feats[i], self.shapes[self.layers[i]])
    }

    /// Moves the `i`-th requested activation out of the tape (its slice is empty afterwards),
    /// with its (C, H, W); the backward pass does not need it.
    pub fn take_feature(&mut self, i: usize) -> (Vec<f32>, (usize, usize, usize)) {
        (
            std::mem::take(&mut self.feats[i]),
            self.shapes[self.layers[i]],
        )
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
                    wino: std::sync::OnceLock::new(),
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

    /// Conv layer `l`'s OIHW weights `[k][c][3][3]` and bias: the plain weights while the layer
    /// has not run, else recovered from its transformed weights ([`WinoWeights::to_oihw`]).
    pub fn plain_weights(&self, l: usize) -> (Vec<f32>, Vec<f32>) {
        let layer = &self.layers[l];
        let plain = layer
            .weight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let w = match plain {
            Some(w) => w,
            None => layer.transformed().to_oihw(),
        };
        (w, layer.bias.clone())
    }

    /// Runs the network on a preprocessed image `x` ([3, h, w]) up to the deepest of `layers`,
    /// keeping a copy of each requested activation in the tape.
    pub fn forward(&self, x: &[f32], h: usize, w: usize, layers: &[usize]) -> Tape {
        self.forward_reuse(None, x, h, w, layers)
    }

    /// [`forward`](Self::forward), reusing the storage of an earlier tape.
    pub fn forward_reuse(
        &self,
        old: Option<Tape>,
        x: &[f32],
        h: usize,
        w: usize,
        layers: &[usize],
    ) -> Tape {
        let mut feats = vec![Vec::new(); layers.len()];
        let mut t = self.forward_each(old, x, h, w, layers, |i, f, _| feats[i] = f);
        t.feats = feats;
        t
    }

    /// Runs the network on `x` ([3, h, w]) up to the deepest of `layers`, handing each
    /// requested activation to `visit(i, values [C, H, W], (C, H, W))` as soon as it is
    /// computed (`i` indexes `layers`), so the caller can use it and let it go before the next
    /// layer runs. Reuses the storage of `old`, a tape of any size.
    pub fn forward_each(
        &self,
        old: Option<Tape>,
        x: &[f32],
        h: usize,
        w: usize,
        layers: &[usize],
        mut visit: impl FnMut(usize, Vec<f32>, (usize, usize, usize)),
    ) -> Tape {
        let deepest = *layers.iter().max().expect("at least one layer");
        assert!(deepest < self.layers.len(), "layer index");
        assert_eq!(x.len(), 3 * h * w, "input must be [3, h, w]");
        let (mut masks, mut argmax, mut spare) = match old {
            Some(t) => (
                t.masks,
                t.argmax,
                t.spare.into_inner().unwrap_or_else(|e| e.into_inner()),
            ),
            None => Default::default(),
        };
        masks.resize_with(deepest + 1, ReluMask::default);
        argmax.resize_with(deepest + 1, || None);
        let mut shapes = Vec::with_capacity(deepest + 1);
        let mut src = take(&mut spare, 3, h, w);
        src.set_chw(x);
        let (mut ch, mut cw) = (h, w);
        for l in 0..=deepest {
            let layer = &self.layers[l];
            let mut out = take(&mut spare, layer.k, ch, cw);
            conv_wino2(&src, layer.transformed(), Some(&layer.bias), true, &mut out);
            spare.push(std::mem::take(&mut src.data));
            masks[l].record(&out);
            shapes.push((layer.k, ch, cw));
            for (i, _) in layers.iter().enumerate().filter(|(_, r)| **r == l) {
                visit(i, out.to_chw(), (layer.k, ch, cw));
            }
            src = if POOL_AFTER.contains(&l) && l < deepest {
                let mut p = take(&mut spare, layer.k, ch / 2, cw / 2);
                let arg = argmax[l].get_or_insert_with(Vec::new);
                maxpool2(&out, &mut p, arg);
                spare.push(out.data);
                (ch, cw) = (ch / 2, cw / 2);
                p
            } else {
                argmax[l] = None;
                out
            };
        }
        spare.push(src.data);
        masks.truncate(deepest + 1);
        argmax.truncate(deepest + 1);
        Tape {
            h,
            w,
            shapes,
            masks,
            argmax,
            layers: layers.to_vec(),
            feats: Vec::new(),
            spare: std::sync::Mutex::new(spare),
        }
    }

    /// d(loss)/d(preprocessed input), [3, h, w], given d(loss)/d(activation) at some relu layers
    /// (each [C, H, W] of that layer; a layer may appear more than once: the gradients add).
    /// Every layer must be at most the deepest layer of `tape`.
    ///
    /// The gradient travels rotated by 180° through each convolution, so that the convolution
    /// can use the forward weights ([`conv::conv_wino2_input_grad_rotated`]); the ReLU mask is
    /// applied by the same pass that rotates it.
    pub fn backward(&self, tape: &Tape, grads: &[(usize, Vec<f32>)]) -> Vec<f32> {
        let deepest = tape.shapes.len() - 1;
        assert!(
            grads.iter().all(|(l, _)| *l <= deepest),
            "gradient given for a layer deeper than the forward pass"
        );
        let mut spare = std::mem::take(&mut *tape.spare.lock().unwrap_or_else(|e| e.into_inner()));
        let (k, h, w) = tape.shapes[deepest];
        let mut g = take(&mut spare, k, h, w);
        g.data.fill(0.0);
        for l in (0..=deepest).rev() {
            for (_, gr) in grads.iter().filter(|(gl, _)| *gl == l) {
                g.add_chw(gr);
            }
            let layer = &self.layers[l];
            let (_, h, w) = tape.shapes[l];
            rotate(&mut g, Some(&tape.masks[l]));
            let mut dx = take(&mut spare, layer.c, h, w);
            conv_wino2_input_grad_rotated(&g, layer.transformed(), &mut dx);
            rotate(&mut dx, None);
            spare.push(g.data);
            if l == 0 {
                let out = dx.to_chw();
                spare.push(dx.data);
                *tape.spare.lock().unwrap_or_else(|e| e.into_inner()) = spare;
                return out;
            }
            g = match &tape.argmax[l - 1] {
                Some(arg) => {
                    let (pc, ph, pw) = tape.shapes[l - 1];
                    let mut gin = take(&mut spare, pc, ph, pw);
                    maxpool2_backward(&dx, arg, &mut gin);
                    spare.push(dx.data);
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
