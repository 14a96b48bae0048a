//! The loss of a candidate image: content + style + total variation, with its gradient.
//!
//! Every term is normalised so the weights mean the same thing at every layer and image size:
//! - style: Σₗ wₗ·dₗ with dₗ the statistic's relative distance (for Gram: ‖G−T‖²/‖T‖²) and the
//!   layer weights wₗ scaled to sum to 1;
//! - content: mean over content layers of ‖F−F꜀‖²/‖F꜀‖²;
//! - total variation: mean over pixels and channels of squared neighbour differences (RGB in \[0, 1\]);
//! - range: [`RANGE_WEIGHT`] × mean over pixels of the squared distance outside [0, 1]. The saved
//!   image is clipped to [0, 1]; without this term the optimiser parks pixels far outside the
//!   range (their statistics then differ from the clipped image's: measured at 96² from noise,
//!   a relative Gram error of 0.02 during optimisation became 0.13 on the saved image).
//!
//! [`ImageLoss`] evaluates all three with one VGG forward and one backward; it is the
//! [`Objective`] that both `transfer` and `learn` optimise.
use anyhow::Result;
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{Error, Setting};
use crate::optim::Objective;
use crate::style::{Statistic, Summary};
use crate::vgg::{RELU_LAYERS, Vgg19};

/// Style part of the loss.
pub struct StyleTerm {
    pub stat: Box<dyn Statistic>,
    pub layers: Vec<usize>,
    /// Per-layer weights, scaled to sum to 1.
    pub layer_weights: Vec<f32>,
    pub targets: Vec<Summary>,
    pub weight: f32,
}

impl StyleTerm {
    /// Builds the term; `layer_weights` of `None` means equal weights.
    pub fn new(
        stat: Box<dyn Statistic>,
        layers: Vec<usize>,
        layer_weights: Option<Vec<f32>>,
        targets: Vec<Summary>,
        weight: f32,
    ) -> crate::Result<Self> {
        let w = layer_weights.unwrap_or_else(|| vec![1.0; layers.len()]);
        if w.len() != layers.len() {
            return Err(Error::setting(
                Setting::LayerWeights,
                format!(
                    "{} values for {} style layers: give one per layer",
                    w.len(),
                    layers.len()
                ),
            ));
        }
        let sum: f32 = w.iter().sum();
        if w.iter().any(|v| v.is_sign_negative() || !v.is_finite()) || sum <= 0.0 {
            return Err(Error::setting(
                Setting::LayerWeights,
                "must be non-negative numbers with a positive sum",
            ));
        }
        Ok(Self {
            stat,
            layer_weights: w.iter().map(|v| v / sum).collect(),
            layers,
            targets,
            weight,
        })
    }
}

/// Content part of the loss: activations of the content image at the content layers.
pub struct ContentTerm {
    pub layers: Vec<usize>,
    pub targets: Vec<Tensor<4>>,
    norms: Vec<f32>,
    pub weight: f32,
}

impl ContentTerm {
    /// Takes the content image's activations at `layers` from `vgg`.
    pub fn new(vgg: &Vgg19, content: Tensor<4>, layers: Vec<usize>, weight: f32) -> Self {
        let targets = vgg.features(content.without_autodiff(), &layers);
        let norms = targets
            .iter()
            .map(|t| t.clone().square().sum().into_scalar::<f32>().max(1e-12))
            .collect();
        Self {
            layers,
            targets,
            norms,
            weight,
        }
    }
}

/// The loss values of one evaluation (already multiplied by their weights, except per-layer).
#[derive(Clone, Debug, Default)]
pub struct Breakdown {
    pub total: f64,
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    /// Penalty for values outside [0, 1].
    pub range: f64,
    /// Unweighted style distance per style layer.
    pub per_layer: Vec<f64>,
}

/// Content + style + TV loss of an image of fixed size, evaluated with gradient.
pub struct ImageLoss<'a> {
    vgg: &'a Vgg19,
    device: Device,
    pub width: usize,
    pub height: usize,
    pub style: Option<StyleTerm>,
    pub content: Option<ContentTerm>,
    pub tv_weight: f32,
    /// The breakdown of the latest evaluation.
    pub last: Breakdown,
    /// Evaluations so far.
    pub evals: usize,
    /// The fast path's buffers, reused from one evaluation to the next.
    tape: Option<crate::fastvgg::Tape>,
}

impl<'a> ImageLoss<'a> {
    pub fn new(vgg: &'a Vgg19, width: usize, height: usize) -> Self {
        Self {
            vgg,
            device: vgg.device().clone().autodiff(),
            width,
            height,
            style: None,
            content: None,
            tv_weight: 0.0,
            last: Breakdown::default(),
            evals: 0,
            tape: None,
        }
    }

    /// The network layers the loss reads (style and content), sorted, once each.
    fn feature_layers(&self) -> Vec<usize> {
        let mut layers: Vec<usize> = Vec::new();
        if let Some(s) = &self.style {
            layers.extend(&s.layers);
        }
        if let Some(c) = &self.content {
            layers.extend(&c.layers);
        }
        layers.sort_unstable();
        layers.dedup();
        layers
    }

    /// The style and content terms from the activations `feats` at `layers`.
    fn feature_terms(&self, layers: &[usize], feats: &[Tensor<4>], b: &mut Breakdown) -> Tensor<1> {
        let device = feats
            .first()
            .map(|f| f.device())
            .unwrap_or_else(|| self.device.clone());
        let mut total = Tensor::<1>::zeros([1], &device);
        for (&l, f) in layers.iter().zip(feats) {
            if let Some(t) = self.layer_terms(l, f.clone(), b) {
                total = total + t;
            }
        }
        total
    }

    /// The weighted style and content terms on relu layer `l` (activation `feat`), if any;
    /// adds their values to `b` (style, content, and the style distance per style layer).
    fn layer_terms(&self, l: usize, feat: Tensor<4>, b: &mut Breakdown) -> Option<Tensor<1>> {
        let mut total: Option<Tensor<1>> = None;
        let mut add = |t: Tensor<1>| {
            total = Some(match total.take() {
                Some(s) => s + t,
                None => t,
            })
        };
        if let Some(s) = &self.style {
            if b.per_layer.len() < s.layers.len() {
                b.per_layer.resize(s.layers.len(), f64::NAN);
            }
            for (i, ((&sl, w), t)) in s
                .layers
                .iter()
                .zip(&s.layer_weights)
                .zip(&s.targets)
                .enumerate()
            {
                if sl != l {
                    continue;
                }
                let d = s.stat.distance(feat.clone(), t);
                b.per_layer[i] = d.clone().into_scalar::<f32>() as f64;
                let term = d.mul_scalar(*w * s.weight);
                b.style += term.clone().into_scalar::<f32>() as f64;
                add(term);
            }
        }
        if let Some(c) = &self.content {
            for ((&cl, t), n) in c.layers.iter().zip(&c.targets).zip(&c.norms) {
                if cl != l {
                    continue;
                }
                let term = (feat.clone() - t.clone())
                    .square()
                    .sum()
                    .div_scalar(*n)
                    .mul_scalar(c.weight / c.layers.len() as f32);
                b.content += term.clone().into_scalar::<f32>() as f64;
                add(term);
            }
        }
        total
    }

    /// The terms on the image itself: the range penalty and total variation.
    fn image_terms(&self, x: Tensor<4>, b: &mut Breakdown) -> Tensor<1> {
        let range = range_penalty(x.clone()).mul_scalar(RANGE_WEIGHT);
        b.range = range.clone().into_scalar::<f32>() as f64;
        let mut total = range;
        if self.tv_weight > 0.0 {
            let tv = total_variation(x).mul_scalar(self.tv_weight);
            b.tv = tv.clone().into_scalar::<f32>() as f64;
            total = total + tv;
        }
        total
    }

    /// The loss as a differentiable scalar, with its breakdown (through burn's network).
    pub fn loss(&self, x: Tensor<4>) -> (Tensor<1>, Breakdown) {
        let layers = self.feature_layers();
        let feats = self.vgg.features(x.clone(), &layers);
        let mut b = Breakdown::default();
        let total = self.feature_terms(&layers, &feats, &mut b) + self.image_terms(x, &mut b);
        b.total = b.style + b.content + b.tv + b.range;
        (total, b)
    }

    /// The typed error for a non-finite loss.
    fn non_finite(&self, b: &Breakdown) -> anyhow::Error {
        let layers = b
            .per_layer
            .iter()
            .zip(self.style.iter().flat_map(|s| s.layers.iter()))
            .filter(|(v, _)| !v.is_finite())
            .map(|(_, &l)| RELU_LAYERS[l].to_string())
            .collect();
        crate::Error::NonFinite {
            total: b.total,
            content: b.content,
            style: b.style,
            tv: b.tv,
            layers,
        }
        .into()
    }

    /// One evaluation on the CPU fast path: the network on [`crate::fastvgg`], the terms on burn.
    fn eval_fast(&mut self, fast: &crate::fastvgg::CpuVgg, x: &[f32]) -> Result<(f64, Vec<f32>)> {
        let layers = self.feature_layers();
        let (mut bf, mut bi) = (Breakdown::default(), Breakdown::default());
        let mut tape = self.tape.take();
        let r = crate::fastvgg::loss_bridge::eval_with_fastvgg(
            fast,
            &mut tape,
            self.vgg.convention(),
            x,
            self.height,
            self.width,
            &layers,
            &self.device,
            |l, feat| self.layer_terms(l, feat, &mut bf),
            |img| self.image_terms(img, &mut bi),
        );
        self.tape = tape;
        let b = Breakdown {
            style: bf.style,
            content: bf.content,
            per_layer: bf.per_layer,
            tv: bi.tv,
            range: bi.range,
            total: bf.style + bf.content + bi.tv + bi.range,
        };
        match r {
            Ok((_, g)) if b.total.is_finite() => {
                self.last = b;
                self.evals += 1;
                Ok((self.last.total, g))
            }
            Ok(_) => Err(self.non_finite(&b)),
            Err(_) if !b.total.is_finite() => Err(self.non_finite(&b)),
            Err(e) => Err(e),
        }
    }
}

/// Weight of the out-of-range penalty (see the module docs).
pub const RANGE_WEIGHT: f32 = 10.0;

/// Mean over pixels and channels of the squared distance of each value outside [0, 1].
pub fn range_penalty(x: Tensor<4>) -> Tensor<1> {
    let [_, c, h, w] = x.dims();
    let below = x.clone().neg().clamp_min(0.0);
    let above = (x - 1.0).clamp_min(0.0);
    (below.square() + above.square())
        .sum()
        .div_scalar((c * h * w) as f32)
}

/// Mean squared difference between horizontally and vertically neighbouring pixels.
pub fn total_variation(x: Tensor<4>) -> Tensor<1> {
    let [_, c, h, w] = x.dims();
    let dx =
        x.clone().slice([0..1, 0..c, 0..h, 1..w]) - x.clone().slice([0..1, 0..c, 0..h, 0..w - 1]);
    let dy = x.clone().slice([0..1, 0..c, 1..h, 0..w]) - x.slice([0..1, 0..c, 0..h - 1, 0..w]);
    (dx.square().sum() + dy.square().sum()).div_scalar((c * h * w) as f32)
}

impl Objective for ImageLoss<'_> {
    fn eval(&mut self, x: &[f32]) -> Result<(f64, Vec<f32>)> {
        if let Some(fast) = self.vgg.fast() {
            return self.eval_fast(fast, x);
        }
        let t = Tensor::<4>::from_data(
            TensorData::new(x.to_vec(), [1, 3, self.height, self.width]),
            &self.device,
        )
        .require_grad();
        let (loss, b) = self.loss(t.clone());
        if !b.total.is_finite() {
            return Err(self.non_finite(&b));
        }
        let grads = loss.backward();
        let g = t
            .grad(&grads)
            .expect("the image requires grad")
            .try_to_vec_as::<f32>()
            .map_err(|e| anyhow::anyhow!("reading the gradient: {e:?}"))?;
        self.last = b;
        self.evals += 1;
        Ok((self.last.total, g))
    }
}
