//! Style targets: a weighted dataset streamed into per-layer summaries, and the style profile file.
//!
//! Σᵢ αᵢ‖G(x) − Gᵢ‖² = (Σᵢ αᵢ)‖G(x) − Ḡ‖² + const, with Ḡ the weighted mean of the Gᵢ, so one
//! pass over the dataset (one image's features in memory at a time) gives everything the
//! optimisation needs, whatever the dataset size.
use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::{Statistic, Summary, mask_at_layer};
use crate::vgg::{RELU_LAYERS, Vgg19, pools_before};

/// The target statistics of a style: one summary per layer.
#[derive(Clone, Debug)]
pub struct StyleTarget {
    /// Statistic name (see [`Statistic::name`]).
    pub statistic: String,
    /// Layer indices into [`RELU_LAYERS`].
    pub layers: Vec<usize>,
    /// One summary per layer, in `layers` order.
    pub summaries: Vec<Summary>,
    /// Σ αᵢ over the images folded in.
    pub total_weight: f64,
    /// (source, weight) of every image folded in.
    pub sources: Vec<(String, f64)>,
}

/// Streams images into a [`StyleTarget`]; optionally keeps each image's summaries (only for the
/// stochastic `--sample` mode, which needs them; memory then grows with the dataset).
pub struct TargetBuilder<'a> {
    vgg: &'a Vgg19,
    stat: &'a dyn Statistic,
    layers: Vec<usize>,
    acc: Vec<Option<Summary>>,
    total: f64,
    sources: Vec<(String, f64)>,
    keep_each: bool,
    each: Vec<Vec<Summary>>,
}

impl<'a> TargetBuilder<'a> {
    pub fn new(vgg: &'a Vgg19, stat: &'a dyn Statistic, layers: &[usize]) -> Self {
        Self {
            vgg,
            stat,
            layers: layers.to_vec(),
            acc: vec![None; layers.len()],
            total: 0.0,
            sources: Vec::new(),
            keep_each: false,
            each: Vec::new(),
        }
    }

    /// Also keep each image's summaries (for `--sample`).
    pub fn keep_each(mut self) -> Self {
        self.keep_each = true;
        self
    }

    /// Summaries of one RGB image [1, 3, H, W] (and optional mask [1, 1, H, W]) at every layer.
    pub fn summarise(&self, image: Tensor<4>, mask: Option<&Tensor<4>>) -> Vec<Summary> {
        let feats = self.vgg.features(image.without_autodiff(), &self.layers);
        feats
            .into_iter()
            .zip(&self.layers)
            .map(|(f, &l)| {
                let m = mask.map(|m| mask_at_layer(m, pools_before(l)));
                self.stat.summarise(f, m.as_ref())
            })
            .collect()
    }

    /// Folds one image in with weight `weight` (> 0).
    pub fn add(
        &mut self,
        source: &str,
        image: Tensor<4>,
        mask: Option<&Tensor<4>>,
        weight: f64,
    ) -> Result<()> {
        if !(weight > 0.0 && weight.is_finite()) {
            bail!("{source}: weight {weight} must be a positive number");
        }
        let summaries = self.summarise(image, mask);
        if self.keep_each {
            self.each.push(summaries.clone());
        }
        for (acc, s) in self.acc.iter_mut().zip(summaries) {
            *acc = Some(self.stat.accumulate(acc.take(), s, weight, self.total));
        }
        self.total += weight;
        self.sources.push((source.to_string(), weight));
        Ok(())
    }

    /// The accumulated target, and each image's summaries if kept.
    pub fn finish(self) -> Result<(StyleTarget, Vec<Vec<Summary>>)> {
        if self.sources.is_empty() {
            bail!("no style images were read");
        }
        let summaries = self.acc.into_iter().map(|s| s.expect("added")).collect();
        Ok((
            StyleTarget {
                statistic: self.stat.name().to_string(),
                layers: self.layers,
                summaries,
                total_weight: self.total,
                sources: self.sources,
            },
            self.each,
        ))
    }
}

/// Weighted mean of several targets' summaries (same statistic and layers), e.g. `--style-blend`.
pub fn blend(stat: &dyn Statistic, parts: &[(&[Summary], f64)]) -> Vec<Summary> {
    let n = parts[0].0.len();
    (0..n)
        .map(|l| {
            let mut acc = None;
            let mut total = 0.0;
            for (s, w) in parts {
                acc = Some(stat.accumulate(acc, s[l].clone(), *w, total));
                total += w;
            }
            acc.expect("non-empty")
        })
        .collect()
}

#[derive(Serialize, Deserialize)]
struct ProfileMeta {
    format: String,
    statistic: String,
    layers: Vec<String>,
    tensors_per_layer: usize,
    total_weight: f64,
    sources: Vec<(String, f64)>,
}

const PROFILE_FORMAT: &str = "stylelearn-style-profile-v1";

impl StyleTarget {
    /// Writes the profile (safetensors; metadata holds statistic, layers and dataset) atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let k = self.summaries.first().map(|s| s.0.len()).unwrap_or(0);
        let meta = ProfileMeta {
            format: PROFILE_FORMAT.into(),
            statistic: self.statistic.clone(),
            layers: self
                .layers
                .iter()
                .map(|&l| RELU_LAYERS[l].to_string())
                .collect(),
            tensors_per_layer: k,
            total_weight: self.total_weight,
            sources: self.sources.clone(),
        };
        let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (&l, s) in self.layers.iter().zip(&self.summaries) {
            for (i, t) in s.0.iter().enumerate() {
                let v: Vec<f32> = t
                    .try_to_vec_as::<f32>()
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                data.push((format!("{}.{i}", RELU_LAYERS[l]), t.dims().to_vec(), bytes));
            }
        }
        let views: Vec<(String, safetensors::tensor::TensorView)> = data
            .iter()
            .map(|(n, shape, b)| {
                Ok((
                    n.clone(),
                    safetensors::tensor::TensorView::new(
                        safetensors::Dtype::F32,
                        shape.clone(),
                        b,
                    )?,
                ))
            })
            .collect::<Result<_>>()?;
        let mut md = HashMap::new();
        md.insert("stylelearn".to_string(), serde_json::to_string(&meta)?);
        let bytes = safetensors::serialize(views, &Some(md))?;
        crate::image_io::write_atomic(path, &bytes)
    }

    /// Reads a profile written by [`StyleTarget::save`].
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read style profile {}", path.display()))?;
        let bad = || {
            format!(
                "{} is not a stylelearn style profile (make one with `stylelearn learn` or `stylelearn profile`)",
                path.display()
            )
        };
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).with_context(bad)?;
        let meta: ProfileMeta = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get("stylelearn"))
            .and_then(|s| serde_json::from_str(s).ok())
            .with_context(bad)?;
        if meta.format != PROFILE_FORMAT {
            bail!("{}: unsupported profile format '{}'", bad(), meta.format);
        }
        let st = safetensors::SafeTensors::deserialize(&bytes).with_context(bad)?;
        let mut layers = Vec::new();
        let mut summaries = Vec::new();
        for name in &meta.layers {
            layers.push(crate::vgg::layer_index(name).with_context(bad)?);
            let mut ts = Vec::new();
            for i in 0..meta.tensors_per_layer {
                let key = format!("{name}.{i}");
                let view = st
                    .tensor(&key)
                    .with_context(|| format!("{}: tensor {key} missing", bad()))?;
                let shape = view.shape();
                if view.dtype() != safetensors::Dtype::F32 || shape.len() != 2 {
                    bail!("{}: tensor {key} is not a 2-D f32 tensor", bad());
                }
                let v: Vec<f32> = view
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                ts.push(Tensor::<2>::from_data(
                    TensorData::new(v, [shape[0], shape[1]]),
                    device,
                ));
            }
            summaries.push(Summary(ts));
        }
        Ok(Self {
            statistic: meta.statistic,
            layers,
            summaries,
            total_weight: meta.total_weight,
            sources: meta.sources,
        })
    }
}
