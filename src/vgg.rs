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
    convs: Vec<(Tensor<4>, Tensor<1>)>,
    convention: InputConvention,
    device: Device,
}

impl Vgg19 {
    /// Puts the weights on `device`. The weights are constants: no gradient is kept for them.
    pub fn new(weights: &VggWeights, device: &Device) -> Self {
        let convs = weights
            .convs
            .iter()
            .map(|c| {
                let w = Tensor::<4>::from_data(
                    TensorData::new(c.weight.clone(), [c.out_ch, c.in_ch, 3, 3]),
                    device,
                );
                let b = Tensor::<1>::from_data(TensorData::new(c.bias.clone(), [c.out_ch]), device);
                (w, b)
            })
            .collect();
        Self {
            convs,
            convention: weights.convention,
            device: device.clone(),
        }
    }

    /// A VGG-19-shaped network with random weights and `width` channels in the first block
    /// (doubling per block up to 8×width): for fast unit tests of everything built on features.
    pub fn synthetic(width: usize, seed: u64, device: &Device) -> Self {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let widths = [1, 1, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8].map(|m| m * width);
        let mut in_ch = 3;
        let convs = widths
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
            convs,
            convention: InputConvention::CaffeBgr,
            device: device.clone(),
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Channel count of relu layer `index`.
    pub fn channels(&self, index: usize) -> usize {
        self.convs[index].0.dims()[0]
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
        let mut out: Vec<Option<Tensor<4>>> = vec![None; layers.len()];
        let mut x = self.preprocess(rgb);
        for (i, (w, b)) in self.convs.iter().enumerate().take(deepest + 1) {
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
