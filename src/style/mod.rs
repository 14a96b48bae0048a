//! Style statistics: what "the style of an image" is, per VGG layer.
//!
//! A [`Statistic`] summarises one image's activations at one layer, folds several images'
//! summaries into one target with weights, and measures a candidate's distance to a target.
//! [`gram`] is the classic Gatys et al. Gram matrix. [`target`] streams a weighted dataset into
//! per-layer targets and stores them as a style profile.
use burn::tensor::Tensor;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;

pub mod gram;
pub mod meanstd;
pub mod mmd;
pub mod swd;
pub mod target;

pub use gram::Gram;
pub use meanstd::MeanStd;
pub use mmd::MmdGauss;
pub use swd::Swd;
pub use target::{StyleTarget, TargetBuilder};

/// One image's (or a weighted set of images') summary at one layer.
#[derive(Clone, Debug)]
pub struct Summary(pub Vec<Tensor<2>>);

/// A definition of style at one layer.
pub trait Statistic: Send + Sync {
    /// Which statistic this is (its name in profiles and on the command line).
    fn kind(&self) -> StatisticKind;

    /// Summary of activations `f` ([1, C, H, W]); with a mask ([1, 1, H, W], values in [0, 1])
    /// only the masked region counts, so the summary does not depend on where the region is.
    fn summarise(&self, f: Tensor<4>, mask: Option<&Tensor<4>>) -> Summary;

    /// Folds `s`, of weight `w`, into `acc`, whose weights so far sum to `total` (before `w`).
    /// Default: the weighted mean of each tensor, exact for moment statistics.
    fn accumulate(&self, acc: Option<Summary>, s: Summary, w: f64, total: f64) -> Summary {
        match acc {
            None => s,
            Some(acc) => {
                let keep = (total / (total + w)) as f32;
                let add = (w / (total + w)) as f32;
                Summary(
                    acc.0
                        .into_iter()
                        .zip(s.0)
                        .map(|(a, b)| a.mul_scalar(keep) + b.mul_scalar(add))
                        .collect(),
                )
            }
        }
    }

    /// The (tensor, dimension) pairs of a summary whose length depends on the image (sample
    /// sizes); every other dimension depends only on the layer's channel count.
    fn variable_dims(&self) -> &'static [(usize, usize)] {
        &[]
    }

    /// Differentiable distance of activations `f` from `target`, normalised so that every layer
    /// contributes on the same scale (a scalar tensor of shape `[1]`).
    fn distance(&self, f: Tensor<4>, target: &Summary) -> Tensor<1>;
}

/// Resizes an image-resolution mask [1, 1, H, W] to VGG layer resolution after `pools` 2×2
/// max-pools, by 2×2 average pooling with the same floor rounding as the network.
pub fn mask_at_layer(mask: &Tensor<4>, pools: usize) -> Tensor<4> {
    let mut m = mask.clone();
    for _ in 0..pools {
        m = avg_pool2d(m, AvgPoolOptions::new([2, 2]));
    }
    m
}

/// The style statistics stylelearn knows: a value that front ends parse, profiles store and
/// runs compare, and that builds the [`Statistic`] it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StatisticKind {
    /// Gram matrices (Gatys et al.).
    #[default]
    Gram,
    /// Per-channel mean and standard deviation.
    MeanStd,
    /// Gaussian-kernel MMD on a bounded feature sample.
    MmdGauss,
    /// Sliced Wasserstein distance.
    Swd,
}

impl StatisticKind {
    /// Every statistic, in the order front ends list them.
    pub const ALL: [StatisticKind; 4] = [
        StatisticKind::Gram,
        StatisticKind::MeanStd,
        StatisticKind::MmdGauss,
        StatisticKind::Swd,
    ];

    /// The name used in style profiles and by front ends.
    pub fn name(self) -> &'static str {
        match self {
            StatisticKind::Gram => "gram",
            StatisticKind::MeanStd => "meanstd",
            StatisticKind::MmdGauss => "mmd-gauss",
            StatisticKind::Swd => "swd",
        }
    }

    /// The statistic itself.
    pub fn build(self) -> Box<dyn Statistic> {
        match self {
            StatisticKind::Gram => Box::new(Gram),
            StatisticKind::MeanStd => Box::new(MeanStd),
            StatisticKind::MmdGauss => Box::new(MmdGauss::default()),
            StatisticKind::Swd => Box::new(Swd::default()),
        }
    }
}

impl std::fmt::Display for StatisticKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for StatisticKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown statistic '{s}': expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// Per-layer distance (the statistic's normalised distance) of image `a` ([1, 3, H, W]) from
/// the style of image `b`: the closed-loop measure of "how close is this to that style".
pub fn image_distance(
    net: &crate::vgg::Vgg19,
    stat: &dyn Statistic,
    a: Tensor<4>,
    b: Tensor<4>,
    layers: &[usize],
) -> Vec<f64> {
    let target = TargetBuilder::new(net, stat, layers).summarise(b, None);
    net.features(a.without_autodiff(), layers)
        .into_iter()
        .zip(&target)
        .map(|(f, t)| stat.distance(f, t).into_scalar::<f32>() as f64)
        .collect()
}
