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

use super::{Statistic, StatisticKind, Summary, mask_at_layer};
use crate::vgg::{RELU_LAYERS, Vgg19, pools_before};

/// The target statistics of a style: one summary per layer.
#[derive(Clone, Debug)]
pub struct StyleTarget {
    /// The statistic the summaries are of.
    pub statistic: StatisticKind,
    /// Layer indices into [`RELU_LAYERS`].
    pub layers: Vec<usize>,
    /// One summary per layer, in `layers` order.
    pub summaries: Vec<Summary>,
    /// Σ αᵢ over the images folded in.
    pub total_weight: f64,
    /// (source, weight) of every image folded in.
    pub sources: Vec<(String, f64)>,
    /// The colour distribution of the images (in their masked regions), when known.
    pub palette: Option<crate::color::Palette>,
    /// The distribution of the images' fine luminance detail (in their masked regions), when
    /// known.
    pub detail: Option<crate::detail::Detail>,
    /// The exact colours the images are painted with (in their masked regions; empty when they
    /// are not posterised), when known.
    pub swatches: Option<crate::posterise::Swatches>,
    /// The blocks the images are painted in, when they are pixelated ([`crate::pixelate`]).
    pub blocks: Option<crate::pixelate::Blocks>,
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
                statistic: self.stat.kind(),
                layers: self.layers,
                summaries,
                total_weight: self.total,
                sources: self.sources,
                palette: None,
                detail: None,
                swatches: None,
                blocks: None,
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
    /// md5 of the tensor data (every tensor's little-endian f32 bytes, in layer order); absent
    /// in profiles written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_md5: Option<String>,
    /// The dataset's colour distribution (absent in older profiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    palette: Option<crate::color::Palette>,
    /// The dataset's fine-detail distribution (absent in older profiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detail: Option<crate::detail::Detail>,
    /// The dataset's exact colours if it is posterised (absent in older profiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    swatches: Option<crate::posterise::Swatches>,
    /// The dataset's blocks if it is pixelated (absent when it is not, and in older profiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blocks: Option<crate::pixelate::Blocks>,
}

const PROFILE_FORMAT: &str = "stylelearn-style-profile-v1";

/// md5 over byte slices, in order.
fn md5_of<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    format!("{:x}", h.finalize())
}

impl StyleTarget {
    /// The summaries at `layers` (every one of them in this target).
    pub fn summaries_at(&self, layers: &[usize]) -> Vec<Summary> {
        layers
            .iter()
            .map(|l| {
                let i = self.layers.iter().position(|k| k == l);
                self.summaries[i.expect("a layer of this target")].clone()
            })
            .collect()
    }

    /// Checks that every summary has the shape `net` gives for this statistic, so a profile of
    /// another network, or a damaged one, is refused instead of failing inside the loss.
    pub fn check_against(&self, net: &Vgg19) -> Result<()> {
        let stat = self.statistic.build();
        let probe = crate::image_io::noise(32, 32, 0).to_tensor(net.device());
        let want = TargetBuilder::new(net, stat.as_ref(), &self.layers).summarise(probe, None);
        let vary = stat.variable_dims();
        for ((&l, have), want) in self.layers.iter().zip(&self.summaries).zip(&want) {
            let ok = have.0.len() == want.0.len()
                && have.0.iter().zip(&want.0).enumerate().all(|(t, (a, b))| {
                    let (a, b) = (a.dims(), b.dims());
                    (0..2).all(|d| a[d] == b[d] || vary.contains(&(t, d)))
                });
            if !ok {
                let shapes = |s: &Summary| {
                    s.0.iter()
                        .map(|t| format!("{:?}", t.dims()))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                bail!(
                    "the style profile's {} statistics at {} have shapes {} where this network gives {} (make the profile again)",
                    self.statistic,
                    RELU_LAYERS[l],
                    shapes(have),
                    shapes(want)
                );
            }
        }
        Ok(())
    }

    /// The profile file's bytes (safetensors; metadata holds statistic, layers, dataset and a
    /// checksum of the tensor data).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let k = self.summaries.first().map(|s| s.0.len()).unwrap_or(0);
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
        let meta = ProfileMeta {
            format: PROFILE_FORMAT.into(),
            statistic: self.statistic.name().to_string(),
            layers: self
                .layers
                .iter()
                .map(|&l| RELU_LAYERS[l].to_string())
                .collect(),
            tensors_per_layer: k,
            total_weight: self.total_weight,
            sources: self.sources.clone(),
            data_md5: Some(md5_of(data.iter().map(|(_, _, b)| b.as_slice()))),
            palette: self.palette.clone(),
            detail: self.detail.clone(),
            swatches: self.swatches.clone(),
            blocks: self.blocks,
        };
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
        Ok(safetensors::serialize(views, &Some(md))?)
    }

    /// Writes the profile atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::image_io::write_atomic(path, &self.to_bytes()?)
    }

    /// The statistic of the style profile at `path`, from its header (its format checked as
    /// [`StyleTarget::load`] checks it; its tensors are not checked).
    pub fn statistic_of(path: &Path) -> Result<StatisticKind> {
        meta_statistic(&read_meta(&read(path)?, path)?, path)
    }

    /// Reads a profile written by [`StyleTarget::save`], checking its format, checksum and
    /// values. Shapes are checked against the network by whoever uses it.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let bytes = read(path)?;
        let meta = read_meta(&bytes, path)?;
        let bad = || not_a_profile(path);
        let damaged = || {
            format!(
                "style profile {} is damaged (make it again)",
                path.display()
            )
        };
        if let Some(p) = &meta.palette {
            p.check().with_context(damaged)?;
        }
        if let Some(d) = &meta.detail {
            d.check().with_context(damaged)?;
        }
        if let Some(s) = &meta.swatches {
            s.check().with_context(damaged)?;
        }
        if let Some(b) = &meta.blocks {
            b.check().with_context(damaged)?;
        }
        let statistic = meta_statistic(&meta, path)?;
        let st = safetensors::SafeTensors::deserialize(&bytes).with_context(bad)?;
        let mut layers = Vec::new();
        let mut summaries = Vec::new();
        let mut raw: Vec<&[u8]> = Vec::new();
        for name in &meta.layers {
            let l = crate::vgg::layer_index(name).with_context(bad)?;
            if layers.contains(&l) {
                bail!("{}: layer {name} appears twice", bad());
            }
            layers.push(l);
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
                raw.push(view.data());
                let v: Vec<f32> = view
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                if v.iter().any(|x| !x.is_finite()) {
                    bail!(
                        "style profile {}: tensor {key} holds non-finite values (the file is damaged: make it again)",
                        path.display()
                    );
                }
                ts.push(Tensor::<2>::from_data(
                    TensorData::new(v, [shape[0], shape[1]]),
                    device,
                ));
            }
            summaries.push(Summary(ts));
        }
        if let Some(want) = &meta.data_md5
            && md5_of(raw) != *want
        {
            bail!(
                "style profile {} is damaged: its data does not match its checksum (make it again)",
                path.display()
            );
        }
        Ok(Self {
            statistic,
            layers,
            summaries,
            total_weight: meta.total_weight,
            sources: meta.sources,
            palette: meta.palette,
            detail: meta.detail,
            swatches: meta.swatches,
            blocks: meta.blocks,
        })
    }
}

fn not_a_profile(path: &Path) -> String {
    format!(
        "{} is not a stylelearn style profile (make one with `stylelearn learn` or `stylelearn profile`)",
        path.display()
    )
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read style profile {}", path.display()))
}

/// The stylelearn metadata in a profile's header, of this format.
fn read_meta(bytes: &[u8], path: &Path) -> Result<ProfileMeta> {
    let bad = || not_a_profile(path);
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).with_context(bad)?;
    let meta: ProfileMeta = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("stylelearn"))
        .and_then(|s| serde_json::from_str(s).ok())
        .with_context(bad)?;
    if meta.format != PROFILE_FORMAT {
        bail!("{}: unsupported profile format '{}'", bad(), meta.format);
    }
    Ok(meta)
}

fn meta_statistic(meta: &ProfileMeta, path: &Path) -> Result<StatisticKind> {
    meta.statistic
        .parse()
        .map_err(|e: String| anyhow::anyhow!("{}: {e}", not_a_profile(path)))
}
