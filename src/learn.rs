//! Style learning: the style image behind a set of stylised images.
//!
//! The dataset is read once, one image at a time, into per-layer weighted-mean targets
//! ([`crate::style::TargetBuilder`]); then a white-noise image is optimised so its statistics
//! match them. Each step costs one forward and backward pass of the style image, whatever the
//! dataset size. `--sample K` reproduces the seed write-up's stochastic variant (a random
//! subset's mean per step), which keeps every image's statistics in memory.
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::tensor::{Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::index::sample;

use crate::dataset::{self, Entry, Region};
use crate::image_io::{self, Rgb};
use crate::log::LossLog;
use crate::loss::{Breakdown, ImageLoss, StyleTerm};
use crate::optim::run::{self, Hooks, OptimizerKind};
use crate::style::{self, StyleTarget, Summary, TargetBuilder};
use crate::transfer::sibling;
use crate::vgg::{RELU_LAYERS, Vgg19};

/// Defaults of `learn` (the command line shows the same values).
pub mod defaults {
    pub const SIZE: usize = 256;
    pub const ITERS: usize = 1500;
    pub const SNAPSHOTS: &str = "15,150,1500";
    pub const MAX_SIDE: usize = 512;
    /// All 16 relu layers, as in the seed write-up.
    pub const LAYERS: &str = "relu1_1,relu1_2,relu2_1,relu2_2,relu3_1,relu3_2,relu3_3,relu3_4,relu4_1,relu4_2,relu4_3,relu4_4,relu5_1,relu5_2,relu5_3,relu5_4";
}

/// Everything `learn` needs.
#[derive(Clone, Debug)]
pub struct LearnConfig {
    pub inputs: Vec<PathBuf>,
    pub output: PathBuf,
    pub weights: Option<PathBuf>,
    pub masks: Option<PathBuf>,
    pub region: Region,
    pub size: usize,
    pub iters: usize,
    pub snapshots: Vec<usize>,
    pub layers: Vec<usize>,
    pub layer_weights: Option<Vec<f32>>,
    pub optimizer: OptimizerKind,
    pub lr: Option<f64>,
    pub seed: u64,
    pub sample: Option<usize>,
    pub skip_bad: bool,
    /// Dataset images larger than this (long side) are resized down before their statistics
    /// are taken.
    pub max_side: Option<usize>,
    pub tv_weight: f32,
    pub quiet: bool,
    pub statistic: String,
}

impl LearnConfig {
    /// A configuration with every default, learning from `inputs` into `output`.
    pub fn new(inputs: Vec<PathBuf>, output: PathBuf) -> Self {
        Self {
            inputs,
            output,
            weights: None,
            masks: None,
            region: Region::Foreground,
            size: defaults::SIZE,
            iters: defaults::ITERS,
            snapshots: defaults::SNAPSHOTS
                .split(',')
                .map(|v| v.parse().expect("valid default"))
                .collect(),
            layers: (0..16).collect(),
            layer_weights: None,
            optimizer: OptimizerKind::Lbfgs,
            lr: None,
            seed: 0,
            sample: None,
            skip_bad: false,
            max_side: Some(defaults::MAX_SIDE),
            tv_weight: 0.0,
            quiet: false,
            statistic: "gram".into(),
        }
    }
}

/// The files a learn run writes beside the style image.
pub struct Outputs {
    pub image: PathBuf,
    pub curve_csv: PathBuf,
    pub curve_png: PathBuf,
    pub profile: PathBuf,
}

impl Outputs {
    pub fn for_image(image: &Path) -> Self {
        Self {
            image: image.to_path_buf(),
            curve_csv: sibling(image, ".curve.csv"),
            curve_png: sibling(image, ".curve.png"),
            profile: sibling(image, ".profile.safetensors"),
        }
    }

    /// Snapshot file at iteration `it`.
    pub fn snapshot(&self, it: usize) -> PathBuf {
        let ext = self
            .image
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("png");
        sibling(&self.image, &format!(".iter{it:05}.{ext}"))
    }
}

/// Result of a learn run.
pub struct LearnResult {
    pub image: Rgb,
    pub target: StyleTarget,
    pub interrupted: bool,
    pub iters: usize,
    pub evals: usize,
    pub last: Breakdown,
    pub seconds: f64,
}

/// The dataset entries of `cfg` (files, weights, masks), checked.
pub fn entries(cfg: &LearnConfig) -> Result<Vec<Entry>> {
    let mut e = dataset::expand(&cfg.inputs)?;
    if let Some(w) = &cfg.weights {
        dataset::apply_weights(&mut e, w)?;
    }
    if let Some(m) = &cfg.masks {
        dataset::attach_masks(&mut e, m)?;
    }
    Ok(e)
}

/// Streams the dataset into a style target (and each image's summaries when `keep_each`).
pub fn build_target(
    net: &Vgg19,
    stat: &dyn style::Statistic,
    entries: &[Entry],
    cfg: &LearnConfig,
    keep_each: bool,
) -> Result<(StyleTarget, Vec<Vec<Summary>>)> {
    let mut b = TargetBuilder::new(net, stat, &cfg.layers);
    if keep_each {
        b = b.keep_each();
    }
    let pb = run::progress_bar(entries.len(), "reading dataset", cfg.quiet);
    for e in entries {
        pb.inc(1);
        let loaded = match dataset::load_entry(e, cfg.max_side, cfg.region) {
            Ok(l) => l,
            Err(err) if cfg.skip_bad && e.from_folder && e.mask.is_none() => {
                pb.suspend(|| eprintln!("warning: skipping {}: {err:#}", e.path.display()));
                continue;
            }
            Err(err) => {
                return Err(err).context(if e.from_folder {
                    "(use --skip-bad to skip unreadable images found in folders)"
                } else {
                    "reading the dataset"
                });
            }
        };
        let dev = net.device();
        let mask = loaded.mask.map(|m| {
            Tensor::<4>::from_data(
                TensorData::new(m, [1, 1, loaded.image.height, loaded.image.width]),
                dev,
            )
        });
        b.add(
            &e.path.display().to_string(),
            loaded.image.to_tensor(dev),
            mask.as_ref(),
            e.weight,
        )?;
    }
    pb.finish_and_clear();
    b.finish()
}

struct LearnHooks<'a> {
    log: LossLog,
    outputs: &'a Outputs,
    snapshots: &'a [usize],
    size: usize,
    sampler: Option<Sampler<'a>>,
}

struct Sampler<'a> {
    each: Vec<Vec<Summary>>,
    weights: Vec<f64>,
    k: usize,
    rng: rand::rngs::StdRng,
    stat: &'a dyn style::Statistic,
}

impl Hooks for LearnHooks<'_> {
    fn before_step(&mut self, _iter: usize, loss: &mut ImageLoss) -> Result<bool> {
        let Some(s) = &mut self.sampler else {
            return Ok(false);
        };
        let idx = sample(&mut s.rng, s.each.len(), s.k.min(s.each.len()));
        let parts: Vec<(&[Summary], f64)> = idx
            .iter()
            .map(|i| (s.each[i].as_slice(), s.weights[i]))
            .collect();
        let targets = style::target::blend(s.stat, &parts);
        if let Some(st) = &mut loss.style {
            st.targets = targets;
        }
        Ok(true)
    }

    fn after_step(&mut self, iter: usize, evals: usize, b: &Breakdown, x: &[f32]) -> Result<()> {
        self.log.row(iter, evals, 0, b)?;
        if self.snapshots.contains(&iter) {
            to_image(x, self.size).save(&self.outputs.snapshot(iter))?;
        }
        Ok(())
    }
}

fn to_image(x: &[f32], size: usize) -> Rgb {
    Rgb::from_planar(size, size, x.iter().map(|v| v.clamp(0.0, 1.0)).collect())
}

/// Learns the style image; writes the image, snapshots, curve (CSV + PNG) and style profile.
pub fn learn(net: &Vgg19, cfg: &LearnConfig) -> Result<LearnResult> {
    image_io::output_format(&cfg.output)?;
    anyhow::ensure!(cfg.iters > 0, "--iters must be at least 1");
    anyhow::ensure!(
        cfg.size >= crate::vgg::MIN_SIDE,
        "--size must be at least {} px",
        crate::vgg::MIN_SIDE
    );
    if let Some(k) = cfg.sample {
        anyhow::ensure!(k > 0, "--sample must be at least 1");
    }
    let stat = style::by_name(&cfg.statistic)?;
    let outputs = Outputs::for_image(&cfg.output);
    let entries = entries(cfg)?;
    let (target, each) = build_target(net, stat.as_ref(), &entries, cfg, cfg.sample.is_some())?;
    target.save(&outputs.profile)?;
    let mut loss = ImageLoss::new(net, cfg.size, cfg.size);
    loss.style = Some(StyleTerm::new(
        style::by_name(&cfg.statistic)?,
        cfg.layers.clone(),
        cfg.layer_weights.clone(),
        target.summaries.clone(),
        1.0,
    )?);
    loss.tv_weight = cfg.tv_weight;
    let names: Vec<String> = cfg
        .layers
        .iter()
        .map(|&l| RELU_LAYERS[l].to_string())
        .collect();
    let sampler = cfg.sample.map(|k| Sampler {
        weights: target.sources.iter().map(|(_, w)| *w).collect(),
        each,
        k,
        rng: rand::rngs::StdRng::seed_from_u64(cfg.seed ^ 0x5eed),
        stat: stat.as_ref(),
    });
    let mut hooks = LearnHooks {
        log: LossLog::create(&outputs.curve_csv, &names)?,
        outputs: &outputs,
        snapshots: &cfg.snapshots,
        size: cfg.size,
        sampler,
    };
    let mut x = image_io::noise(cfg.size, cfg.size, cfg.seed).data;
    let mut opt = cfg.optimizer.build(cfg.lr);
    let pb = run::progress_bar(cfg.iters, &format!("learn {}²", cfg.size), cfg.quiet);
    let out = run::run(&mut loss, &mut x, opt.as_mut(), cfg.iters, &pb, &mut hooks)?;
    pb.finish();
    let image = to_image(&x, cfg.size);
    image.save(&outputs.image)?;
    crate::plot::learning_curve(
        &hooks.log,
        &outputs.curve_png,
        "stylelearn learn: style loss",
    )?;
    Ok(LearnResult {
        image,
        target,
        interrupted: out.interrupted,
        iters: out.iters,
        evals: out.evals,
        last: loss.last.clone(),
        seconds: out.seconds,
    })
}
