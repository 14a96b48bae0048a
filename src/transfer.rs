//! Neural style transfer (Gatys et al.): content loss + style loss + total variation, optimised
//! from the photo, from noise or from a given image, optionally coarse-to-fine over `scales`.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::color;
use crate::image_io::{self, Rgb};
use crate::log::LossLog;
use crate::loss::{Breakdown, ContentTerm, ImageLoss, StyleTerm};
use crate::optim::run::{self, Hooks, OptimizerKind};
use crate::style::{self, StyleTarget, Summary, TargetBuilder};
use crate::vgg::{self, Vgg19};

/// Where the optimisation starts.
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    Content,
    Noise,
    Image(PathBuf),
}

impl std::str::FromStr for Init {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "content" => Init::Content,
            "noise" => Init::Noise,
            p => Init::Image(PathBuf::from(p)),
        })
    }
}

/// Where the style comes from.
#[derive(Clone, Debug)]
pub enum StyleSource {
    /// Style images with blend weights (target = weighted mean of their statistics).
    Images(Vec<(PathBuf, f64)>),
    /// A style profile written by `learn` / `profile`.
    Profile(PathBuf),
}

/// Defaults of `transfer` (the command line shows the same values).
pub mod defaults {
    pub const SIZE: usize = 512;
    pub const ITERS: usize = 300;
    pub const CONTENT_WEIGHT: f32 = 1.0;
    pub const STYLE_WEIGHT: f32 = 3.0;
    pub const TV_WEIGHT: f32 = 1.0;
    pub const CONTENT_LAYERS: &str = "relu4_2";
    pub const STYLE_LAYERS: &str = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1";
    pub const STYLE_SCALE: f64 = 1.0;
}

/// Everything `transfer` needs.
#[derive(Clone, Debug)]
pub struct TransferConfig {
    pub content: PathBuf,
    pub style: StyleSource,
    pub output: PathBuf,
    pub size: usize,
    pub scales: Option<Vec<usize>>,
    pub iters: usize,
    pub content_weight: f32,
    pub style_weight: f32,
    pub tv_weight: f32,
    pub content_layers: Vec<usize>,
    /// Style layers; `None`: the default five, or with a style profile that lacks some of
    /// them, all of the profile's layers.
    pub style_layers: Option<Vec<usize>>,
    pub layer_weights: Option<Vec<f32>>,
    pub style_scale: f64,
    pub optimizer: OptimizerKind,
    pub lr: Option<f64>,
    pub init: Init,
    pub seed: u64,
    pub save_every: Option<usize>,
    pub preserve_color: bool,
    pub log: Option<PathBuf>,
    pub quiet: bool,
    pub statistic: String,
}

impl TransferConfig {
    /// A configuration with every default, writing `output`.
    pub fn new(content: PathBuf, style: StyleSource, output: PathBuf) -> Self {
        Self {
            content,
            style,
            output,
            size: defaults::SIZE,
            scales: None,
            iters: defaults::ITERS,
            content_weight: defaults::CONTENT_WEIGHT,
            style_weight: defaults::STYLE_WEIGHT,
            tv_weight: defaults::TV_WEIGHT,
            content_layers: vgg::parse_layers(defaults::CONTENT_LAYERS).expect("valid default"),
            style_layers: None,
            layer_weights: None,
            style_scale: defaults::STYLE_SCALE,
            optimizer: OptimizerKind::Lbfgs,
            lr: None,
            init: Init::Content,
            seed: 0,
            save_every: None,
            preserve_color: false,
            log: None,
            quiet: false,
            statistic: "gram".into(),
        }
    }
}

/// Result of a transfer.
pub struct TransferResult {
    pub image: Rgb,
    pub interrupted: bool,
    pub evals: usize,
    pub last: Breakdown,
}

/// A path beside `out`: `out` stem + `suffix`.
pub fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("out");
    out.with_file_name(format!("{stem}{suffix}"))
}

struct TransferHooks<'a> {
    log: Option<&'a mut LossLog>,
    save_every: Option<usize>,
    output: &'a Path,
    stage: usize,
    iter_offset: usize,
    size: (usize, usize),
    chroma: Option<&'a Rgb>,
}

impl Hooks for TransferHooks<'_> {
    fn after_step(&mut self, iter: usize, evals: usize, b: &Breakdown, x: &[f32]) -> Result<()> {
        let it = self.iter_offset + iter;
        if let Some(log) = self.log.as_deref_mut() {
            log.row(it, evals, self.stage, b)?;
        }
        if let Some(n) = self.save_every
            && n > 0
            && it.is_multiple_of(n)
        {
            let img = finish_image(x, self.size, self.chroma);
            let ext = self
                .output
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("png");
            img.save(&sibling(self.output, &format!(".iter{it:05}.{ext}")))?;
        }
        Ok(())
    }
}

fn finish_image(x: &[f32], (w, h): (usize, usize), chroma: Option<&Rgb>) -> Rgb {
    let img = Rgb::from_planar(w, h, x.iter().map(|v| v.clamp(0.0, 1.0)).collect());
    match chroma {
        Some(c) => color::with_chroma(&img, c),
        None => img,
    }
}

/// Checks the configuration before any work, so mistakes fail fast and write nothing.
pub fn validate(cfg: &TransferConfig) -> Result<()> {
    image_io::output_format(&cfg.output)?;
    if cfg.iters == 0 {
        bail!("--iters must be at least 1");
    }
    if !(cfg.style_scale > 0.0 && cfg.style_scale.is_finite()) {
        bail!("--style-scale must be a positive number");
    }
    for (name, v) in [
        ("--content-weight", cfg.content_weight),
        ("--style-weight", cfg.style_weight),
        ("--tv-weight", cfg.tv_weight),
    ] {
        if !(v >= 0.0 && v.is_finite()) {
            bail!("{name} must be a non-negative number, got {v}");
        }
    }
    if let Some(lw) = &cfg.layer_weights
        && let Some(layers) = &cfg.style_layers
        && lw.len() != layers.len()
    {
        bail!(
            "--layer-weights has {} values but --style-layers names {} layers",
            lw.len(),
            layers.len()
        );
    }
    if let StyleSource::Images(list) = &cfg.style {
        if list.is_empty() {
            bail!("give at least one --style image or a --style-profile");
        }
        if list.iter().any(|(_, w)| !(*w >= 0.0 && w.is_finite()))
            || list.iter().map(|(_, w)| w).sum::<f64>() <= 0.0
        {
            bail!("--style-blend weights must be non-negative with a positive sum");
        }
    }
    for s in cfg.scales.iter().flatten() {
        if *s < vgg::MIN_SIDE {
            bail!(
                "--scales: {s} px is below the minimum of {} px",
                vgg::MIN_SIDE
            );
        }
    }
    if cfg.size < vgg::MIN_SIDE {
        bail!(
            "--size {} is below the minimum of {} px",
            cfg.size,
            vgg::MIN_SIDE
        );
    }
    Ok(())
}

/// Runs a transfer and writes `cfg.output` (and snapshots, log). On Ctrl-C the latest image is
/// written and `interrupted` is set.
pub fn transfer(net: &Vgg19, cfg: &TransferConfig) -> Result<TransferResult> {
    validate(cfg)?;
    let stat = style::by_name(&cfg.statistic)?;
    let content_full = image_io::load(&cfg.content)?;
    vgg::check_size(content_full.height, content_full.width)
        .with_context(|| format!("content image {}", cfg.content.display()))?;
    let profile = match &cfg.style {
        StyleSource::Profile(p) => {
            let t = StyleTarget::load(p, net.device())?;
            if t.statistic != cfg.statistic {
                bail!(
                    "style profile {} holds '{}' statistics but --loss is '{}': use --loss {}",
                    p.display(),
                    t.statistic,
                    cfg.statistic,
                    t.statistic
                );
            }
            Some(t)
        }
        StyleSource::Images(_) => None,
    };
    let styles: Vec<(Rgb, f64, PathBuf)> = match &cfg.style {
        StyleSource::Images(list) => list
            .iter()
            .map(|(p, w)| {
                let img = image_io::load(p)?;
                vgg::check_size(img.height, img.width)
                    .with_context(|| format!("style image {}", p.display()))?;
                Ok((img, *w, p.clone()))
            })
            .collect::<Result<_>>()?,
        StyleSource::Profile(_) => Vec::new(),
    };
    let style_layers = effective_style_layers(cfg, profile.as_ref())?;
    let scales = cfg.scales.clone().unwrap_or_else(|| vec![cfg.size]);
    let mut log = match &cfg.log {
        Some(p) => {
            let names: Vec<String> = style_layers
                .iter()
                .map(|&l| vgg::RELU_LAYERS[l].to_string())
                .collect();
            Some(LossLog::create(p, &names)?)
        }
        None => None,
    };
    let mut x: Option<(Vec<f32>, usize, usize)> = None;
    let mut evals = 0;
    let mut last = Breakdown::default();
    let mut interrupted = false;
    let mut final_chroma = None;
    let mut iter_offset = 0;
    for (stage, &long) in scales.iter().enumerate() {
        let content = content_full.fit_long_side(long);
        let (w, h) = (content.width, content.height);
        vgg::check_size(h, w).with_context(|| format!("at scale {long}"))?;
        let content_in = if cfg.preserve_color {
            color::luminance(&content, None)
        } else {
            content.clone()
        };
        // Style targets at this scale.
        let targets: Vec<Summary> = match &profile {
            Some(t) => profile_summaries(t, &style_layers),
            None => {
                let mut parts = Vec::new();
                for (img, weight, path) in &styles {
                    let s = img.fit_long_side(((long as f64) * cfg.style_scale).round() as usize);
                    vgg::check_size(s.height, s.width).with_context(|| {
                        format!(
                            "style image {} at --style-scale {}",
                            path.display(),
                            cfg.style_scale
                        )
                    })?;
                    let s = if cfg.preserve_color {
                        color::luminance(&s, Some(&content))
                    } else {
                        s
                    };
                    let b = TargetBuilder::new(net, stat.as_ref(), &style_layers);
                    parts.push((b.summarise(s.to_tensor(net.device()), None), *weight));
                }
                let refs: Vec<(&[Summary], f64)> = parts
                    .iter()
                    .filter(|(_, w)| *w > 0.0)
                    .map(|(s, w)| (s.as_slice(), *w))
                    .collect();
                style::target::blend(stat.as_ref(), &refs)
            }
        };
        let mut loss = ImageLoss::new(net, w, h);
        loss.content = Some(ContentTerm::new(
            net,
            content_in.to_tensor(net.device()),
            cfg.content_layers.clone(),
            cfg.content_weight,
        ));
        loss.style = Some(StyleTerm::new(
            style::by_name(&cfg.statistic)?,
            style_layers.clone(),
            cfg.layer_weights.clone(),
            targets,
            cfg.style_weight,
        )?);
        loss.tv_weight = cfg.tv_weight;
        let mut xv = match &x {
            Some((prev, pw, ph)) => Rgb::from_planar(*pw, *ph, prev.clone()).resize(w, h).data,
            None => match &cfg.init {
                Init::Content => content_in.data.clone(),
                Init::Noise => image_io::noise(w, h, cfg.seed).data,
                Init::Image(p) => {
                    let img = image_io::load(p)?.resize(w, h);
                    if cfg.preserve_color {
                        color::luminance(&img, None).data
                    } else {
                        img.data
                    }
                }
            },
        };
        let chroma = cfg.preserve_color.then_some(&content);
        let mut opt = cfg.optimizer.build(cfg.lr);
        let label = if scales.len() > 1 {
            format!("transfer {w}×{h} ({}/{})", stage + 1, scales.len())
        } else {
            format!("transfer {w}×{h}")
        };
        let pb = run::progress_bar(cfg.iters, &label, cfg.quiet);
        let mut hooks = TransferHooks {
            log: log.as_mut(),
            save_every: cfg.save_every,
            output: &cfg.output,
            stage,
            iter_offset,
            size: (w, h),
            chroma,
        };
        let out = run::run(&mut loss, &mut xv, opt.as_mut(), cfg.iters, &pb, &mut hooks)?;
        pb.finish();
        iter_offset += out.iters;
        evals += out.evals;
        last = loss.last.clone();
        x = Some((xv, w, h));
        final_chroma = cfg.preserve_color.then(|| content.clone());
        if out.interrupted {
            interrupted = true;
            break;
        }
    }
    let (xv, w, h) = x.expect("at least one scale");
    let image = finish_image(&xv, (w, h), final_chroma.as_ref());
    image.save(&cfg.output)?;
    Ok(TransferResult {
        image,
        interrupted,
        evals,
        last,
    })
}

/// The style layers of a run: as given; by default the five standard layers, or all of a style
/// profile's layers when the profile lacks some of those. Given layers must be in the profile.
fn effective_style_layers(
    cfg: &TransferConfig,
    profile: Option<&StyleTarget>,
) -> Result<Vec<usize>> {
    let default = vgg::parse_layers(defaults::STYLE_LAYERS).expect("valid default");
    let names = |l: &[usize]| {
        l.iter()
            .map(|&l| vgg::RELU_LAYERS[l])
            .collect::<Vec<_>>()
            .join(",")
    };
    Ok(match (profile, &cfg.style_layers) {
        (None, given) => given.clone().unwrap_or(default),
        (Some(t), None) if default.iter().all(|l| t.layers.contains(l)) => default,
        (Some(t), None) => t.layers.clone(),
        (Some(t), Some(given)) if given.iter().all(|l| t.layers.contains(l)) => given.clone(),
        (Some(t), Some(given)) => bail!(
            "--style-layers {} are not all in the style profile (it has {}); pick from those",
            names(given),
            names(&t.layers)
        ),
    })
}

/// The profile's summaries at `layers` (all present in it).
fn profile_summaries(t: &StyleTarget, layers: &[usize]) -> Vec<Summary> {
    layers
        .iter()
        .map(|l| t.summaries[t.layers.iter().position(|k| k == l).expect("checked")].clone())
        .collect()
}
