//! The VGG-19 feature extractor: 16 conv layers with ReLU, 2×2 max-pool (floor) between blocks.
//!
//! Owns the layer names (`relu1_1` … `relu5_4`), the single preprocessing function that turns an
//! RGB image in [0, 1] into the network's input, and the forward pass that returns the requested
//! relu activations, stopping at the deepest one requested. Weights come from [`crate::weights`].
use anyhow::{Result, bail};
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, TensorData, activation::relu};

use crate::weights::{InputConvention, VggWeights};

/// The 16 relu layer names in network order.
pub const RELU_LAYERS: [&str; 16] = [
    "relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_3", "relu3_4",
    "relu4_1", "relu4_2", "relu4_3", "relu4_4", "relu5_1", "relu5_2", "relu5_3", "relu5_4",
];

/// Indices (into [`RELU_LAYERS`]) of the layers after which a 2×2 max-pool follows.
const POOL_AFTER: [usize; 4] = [1, 3, 7, 11];

/// Smallest image side the network accepts: relu5_x needs at least one pixel after 4 pools.
pub const MIN_SIDE: usize = 16;

/// Parses a relu layer name into its index in [`RELU_LAYERS`].
pub fn layer_index(name: &str) -> Result<usize> {
    let name = name.trim();
    RELU_LAYERS.iter().position(|l| *l == name).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown layer '{name}': expected one of {}",
            RELU_LAYERS.join(", ")
        )
    })
}

/// Parses a comma-separated list of layer names.
pub fn parse_layers(list: &str) -> Result<Vec<usize>> {
    let layers: Vec<usize> = list
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(layer_index)
        .collect::<Result<_>>()?;
    if layers.is_empty() {
        bail!("empty layer list '{list}'");
    }
    Ok(layers)
}

/// Number of 2×2 pools applied before layer `index`.
pub fn pools_before(index: usize) -> usize {
    POOL_AFTER.iter().filter(|&&p| p < index).count()
}

/// The loaded network: conv weights (OIHW) and biases on one device.
pub struct Vgg19 {
    /// burn's copy of the conv weights. Made at once where there is no fast path; with one,
    /// only if a pass needs burn's network (a gradient through it, or [`Vgg19::burn_only`]):
    /// on the CPU the fast path's weights are then the only copy (80 MB less).
    convs: std::sync::OnceLock<Vec<(Tensor<4>, Tensor<1>)>>,
    convention: InputConvention,
    device: Device,
    /// On the flex CPU backend: the same network as [`crate::fastvgg::CpuVgg`] (Winograd
    /// convolutions with a hand-written input gradient), which the loss uses instead of burn's
    /// conv2d and autodiff through the network, and which computes every activation that needs
    /// no gradient. `None` on GPUs, or when turned off.
    fast: Option<std::sync::Arc<crate::fastvgg::CpuVgg>>,
}

fn conv_tensors(w: Vec<f32>, b: Vec<f32>, device: &Device) -> (Tensor<4>, Tensor<1>) {
    let (k, c) = (b.len(), w.len() / (9 * b.len()));
    (
        Tensor::<4>::from_data(TensorData::new(w, [k, c, 3, 3]), device),
        Tensor::<1>::from_data(TensorData::new(b, [k]), device),
    )
}

impl Vgg19 {
    /// Puts the weights on `device`. The weights are constants: no gradient is kept for them.
    pub fn new(weights: &VggWeights, device: &Device) -> Self {
        let fast = (*device == Device::flex())
            .then(|| std::sync::Arc::new(crate::fastvgg::CpuVgg::from_weights(weights)));
        let convs = std::sync::OnceLock::new();
        if fast.is_none() {
            let _ = convs.set(
                weights
                    .convs
                    .iter()
                    .map(|c| conv_tensors(c.weight.clone(), c.bias.clone(), device))
                    .collect(),
            );
        }
        Self {
            convs,
            convention: weights.convention,
            device: device.clone(),
            fast,
        }
    }

    /// burn's conv weights, made from the fast path's on first use.
    fn burn_convs(&self) -> &[(Tensor<4>, Tensor<1>)] {
        self.convs.get_or_init(|| {
            let fast = self
                .fast
                .as_ref()
                .expect("a network without burn weights has a fast path");
            (0..fast.depth())
                .map(|l| {
                    let (w, b) = fast.plain_weights(l);
                    conv_tensors(w, b, &self.device)
                })
                .collect()
        })
    }

    /// The same network without the CPU fast path: every pass goes through burn (for
    /// comparisons, and where burn's lower memory matters more than speed).
    pub fn burn_only(mut self) -> Self {
        let _ = self.burn_convs();
        self.fast = None;
        self
    }

    /// The CPU fast path, when this network has one.
    pub fn fast(&self) -> Option<&crate::fastvgg::CpuVgg> {
        self.fast.as_deref()
    }

    /// How the network expects its input (see [`Vgg19::preprocess`]).
    pub fn convention(&self) -> InputConvention {
        self.convention
    }

    /// A VGG-19-shaped network with random weights and `width` channels in the first block
    /// (doubling per block up to 8×width): for fast unit tests of everything built on features.
    pub fn synthetic(width: usize, seed: u64, device: &Device) -> Self {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let widths = [1, 1, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8].map(|m| m * width);
        let mut in_ch = 3;
        let convs: Vec<_> = widths
            .iter()
            .map(|&out_ch| {
                let scale = (2.0 / (9.0 * in_ch as f32)).sqrt();
                let w: Vec<f32> = (0..out_ch * in_ch * 9)
                    .map(|_| rng.random_range(-1.0f32..1.0) * scale * 1.7)
                    .collect();
                let b: Vec<f32> = (0..out_ch).map(|_| rng.random_range(0.0f32..0.1)).collect();
                let t = (
                    Tensor::<4>::from_data(TensorData::new(w, [out_ch, in_ch, 3, 3]), device),
                    Tensor::<1>::from_data(TensorData::new(b, [out_ch]), device),
                );
                in_ch = out_ch;
                t
            })
            .collect();
        Self {
            convs: convs.into(),
            convention: InputConvention::CaffeBgr,
            device: device.clone(),
            fast: None,
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Channel count of relu layer `index`.
    pub fn channels(&self, index: usize) -> usize {
        match &self.fast {
            Some(f) => f.channels(index),
            None => self.burn_convs()[index].0.dims()[0],
        }
    }

    /// The one preprocessing function: RGB in [0, 1], shape [N, 3, H, W] → network input.
    ///
    /// Caffe/Keras weights: BGR in 0..255 minus the ImageNet mean [103.939, 116.779, 123.68].
    /// torchvision weights: RGB normalised by the ImageNet mean and standard deviation.
    pub fn preprocess(&self, rgb: Tensor<4>) -> Tensor<4> {
        let device = rgb.device();
        let (scale, shift, flip) = match self.convention {
            InputConvention::CaffeBgr => ([255.0f32; 3], [-103.939f32, -116.779, -123.68], true),
            InputConvention::TorchRgb => (
                [1.0 / 0.229, 1.0 / 0.224, 1.0 / 0.225],
                [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225],
                false,
            ),
        };
        let x = if flip { rgb.flip([1]) } else { rgb };
        let scale = Tensor::<4>::from_data(TensorData::new(scale.to_vec(), [1, 3, 1, 1]), &device);
        let shift = Tensor::<4>::from_data(TensorData::new(shift.to_vec(), [1, 3, 1, 1]), &device);
        x * scale + shift
    }

    /// Relu activations at `layers` (indices into [`RELU_LAYERS`], any order, duplicates allowed)
    /// for an RGB image in [0, 1] of shape [N, 3, H, W]. Runs only as deep as needed.
    pub fn features(&self, rgb: Tensor<4>, layers: &[usize]) -> Vec<Tensor<4>> {
        let Some(&deepest) = layers.iter().max() else {
            return Vec::new();
        };
        let [_, _, h, w] = rgb.dims();
        let pools = pools_before(deepest);
        if let Some(fast) = &self.fast
            && !rgb.is_require_grad()
            && (h >> pools) > 0
            && (w >> pools) > 0
        {
            return self.fast_features(fast, rgb, layers);
        }
        let mut out: Vec<Option<Tensor<4>>> = vec![None; layers.len()];
        let mut x = self.preprocess(rgb);
        for (i, (w, b)) in self.burn_convs().iter().enumerate().take(deepest + 1) {
            if i > 0 && POOL_AFTER.contains(&(i - 1)) {
                x = max_pool2d(x, MaxPoolOptions::new([2, 2]));
            }
            x = relu(conv2d(
                x,
                w.clone(),
                Some(b.clone()),
                ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
            ));
            for (slot, &l) in out.iter_mut().zip(layers) {
                if l == i {
                    *slot = Some(x.clone());
                }
            }
        }
        out.into_iter()
            .map(|t| t.expect("every layer reached"))
            .collect()
    }

    /// [`features`](Self::features) by the CPU fast path, for an input that needs no gradient.
    fn fast_features(
        &self,
        fast: &crate::fastvgg::CpuVgg,
        rgb: Tensor<4>,
        layers: &[usize],
    ) -> Vec<Tensor<4>> {
        let [n, _, h, w] = rgb.dims();
        let device = rgb.device();
        let data = rgb
            .try_into_vec_as::<f32>()
            .expect("a CPU tensor can be read");
        let mut per_layer: Vec<Vec<Tensor<4>>> = vec![Vec::with_capacity(n); layers.len()];
        for img in data.chunks(3 * h * w) {
            let x = crate::fastvgg::preprocess(img, self.convention);
            fast.forward_each(None, &x, h, w, layers, |i, f, (c, fh, fw)| {
                per_layer[i].push(Tensor::<4>::from_data(
                    TensorData::new(f, [1, c, fh, fw]),
                    &device,
                ));
            });
        }
        per_layer
            .into_iter()
            .map(|mut t| match t.len() {
                1 => t.pop().expect("one"),
                _ => Tensor::cat(t, 0),
            })
            .collect()
    }
}

/// Checks that an image of `height`×`width` can pass through the network.
pub fn check_size(height: usize, width: usize) -> Result<()> {
    if height < MIN_SIDE || width < MIN_SIDE {
        bail!(
            "image is {width}×{height} px; VGG-19 needs at least {MIN_SIDE} px per side (use a larger image or --size)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::style::gram::{gram, gram_masked};
    use crate::style::mask_at_layer;

    fn net() -> Vgg19 {
        Vgg19::synthetic(2, 7, &Device::flex())
    }

    #[test]
    fn layer_names_parse_and_unknown_names_are_refused() {
        assert_eq!(
            parse_layers("relu1_1, relu4_2,relu5_4").unwrap(),
            vec![0, 9, 15]
        );
        let e = parse_layers("relu1_1,conv4_2").unwrap_err().to_string();
        assert!(e.contains("conv4_2") && e.contains("relu5_4"), "{e}");
        assert!(parse_layers(" , ").is_err());
    }

    #[test]
    fn any_size_from_16_px_and_any_aspect_gives_floor_pooled_shapes() {
        let net = net();
        let all: Vec<usize> = (0..16).collect();
        for (h, w) in [(16, 16), (17, 33), (45, 16), (31, 64)] {
            let x = crate::image_io::noise(w, h, 1).to_tensor(net.device());
            let feats = net.features(x, &all);
            for (i, f) in feats.iter().enumerate() {
                let p = pools_before(i);
                let (eh, ew) = ((0..p).fold(h, |s, _| s / 2), (0..p).fold(w, |s, _| s / 2));
                assert_eq!(
                    f.dims(),
                    [1, net.channels(i), eh, ew],
                    "{} at {h}×{w}",
                    RELU_LAYERS[i]
                );
            }
        }
        assert!(check_size(15, 100).is_err());
        assert!(check_size(16, 16).is_ok());
    }

    #[test]
    fn features_come_back_in_the_requested_order_and_match_a_full_pass() {
        let net = net();
        let x = crate::image_io::noise(20, 24, 2).to_tensor(net.device());
        let some = net.features(x.clone(), &[9, 0, 9]);
        let all = net.features(x, &(0..16).collect::<Vec<_>>());
        for (f, i) in some.iter().zip([9, 0, 9]) {
            let d: f32 = (f.clone() - all[i].clone()).abs().max().into_scalar();
            assert_eq!(d, 0.0);
        }
    }

    #[test]
    fn preprocessing_is_bgr_255_minus_mean() {
        let net = net();
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![0.1f32, 0.5, 0.9], [1, 3, 1, 1]),
            net.device(),
        );
        let v: Vec<f32> = net.preprocess(x).try_to_vec_as::<f32>().unwrap();
        let want = [
            0.9 * 255.0 - 103.939,
            0.5 * 255.0 - 116.779,
            0.1 * 255.0 - 123.68,
        ];
        for (a, b) in v.iter().zip(want) {
            assert!((a - b).abs() < 1e-3, "{v:?} vs {want:?}");
        }
    }

    #[test]
    fn masked_gram_with_a_full_mask_is_the_gram_and_ignores_where_the_region_is() {
        let d = Device::flex();
        let f = crate::image_io::noise(9, 7, 3).to_tensor(&d);
        let ones = Tensor::<4>::ones([1, 1, 7, 9], &d);
        let diff: f32 = (gram(f.clone()) - gram_masked(f.clone(), &ones))
            .abs()
            .max()
            .into_scalar();
        assert!(diff < 1e-6);
        // The same 3×3 patch placed at two positions: equal masked Grams.
        let patch = crate::image_io::noise(3, 3, 4).data;
        let place = |x0: usize, y0: usize| {
            let mut img = vec![0.7f32; 3 * 7 * 9];
            let mut m = vec![0.0f32; 7 * 9];
            for c in 0..3 {
                for y in 0..3 {
                    for x in 0..3 {
                        img[c * 63 + (y0 + y) * 9 + x0 + x] = patch[c * 9 + y * 3 + x];
                        m[(y0 + y) * 9 + x0 + x] = 1.0;
                    }
                }
            }
            let t = Tensor::<4>::from_data(TensorData::new(img, [1, 3, 7, 9]), &d);
            let m = Tensor::<4>::from_data(TensorData::new(m, [1, 1, 7, 9]), &d);
            gram_masked(t, &m)
        };
        let diff: f32 = (place(0, 0) - place(5, 3)).abs().max().into_scalar();
        assert!(diff < 1e-6, "masked Gram moved with the region: {diff}");
    }

    #[test]
    fn masks_resize_to_every_layer_of_odd_sized_images() {
        let net = net();
        let (h, w) = (37, 23);
        let x = crate::image_io::noise(w, h, 5).to_tensor(net.device());
        let all: Vec<usize> = (0..16).collect();
        let m = Tensor::<4>::ones([1, 1, h, w], net.device());
        for (i, f) in net.features(x, &all).iter().enumerate() {
            let ml = mask_at_layer(&m, pools_before(i));
            assert_eq!(ml.dims()[2..], f.dims()[2..], "{}", RELU_LAYERS[i]);
        }
    }
}
