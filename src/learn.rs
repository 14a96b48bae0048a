//! Style learning: the style image behind a set of stylised images.
//!
//! The dataset is read once, one image at a time, into per-layer weighted-mean targets
//! ([`crate::style::TargetBuilder`]); then a white-noise image is optimised so its statistics
//! match them, coarse to fine: at a quarter of its size first, against the dataset's images
//! shrunk alike (read in the same pass), then at each doubling from the previous stage
//! enlarged ([`LearnSettings::stages`]). Each step costs one forward and backward pass of the
//! style image, whatever the dataset size. `sample` reproduces the original write-up's
//! stochastic variant (each step matches the mean of a random subset), which keeps every
//! image's statistics in memory.
//!
//! [`LearnSettings`] are plain values; [`LearnPlan::new`] checks them and lists the dataset
//! once; [`LearnPlan::run`] reads the dataset and optimises, reporting to an [`Observer`].
use std::path::PathBuf;

use burn::tensor::{Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::index::sample;

use crate::dataset::{self, Entry, Region};
use crate::driver::{self, Position};
use crate::error::{Error, Result, Setting, check_number};
use crate::image_io::{self, Rgb};
use crate::log::LossLog;
use crate::loss::{Breakdown, ImageLoss, StyleTerm};
use crate::memory;
use crate::observe::{Control, Finish, Notice, Observer, Stage, StageKind, Start, finish_image};
use crate::optim::OptimizerKind;
use crate::style::{self, StatisticKind, StyleTarget, Summary, TargetBuilder};
use crate::transfer::{Recorder, check_start, check_step, check_unique};
use crate::vgg::{self, RELU_LAYERS, Vgg19};

/// Defaults of `learn`.
pub mod defaults {
    pub const SIZE: usize = 256;
    /// Iterations per stage of the coarse-to-fine pyramid (1500 in all over three stages).
    pub const ITERS: usize = 500;
    /// Stages of the coarse-to-fine pyramid: the learned image at ¼, ½ and its full size,
    /// each stage starting from the previous one enlarged. Learning at the full size from
    /// white noise leaves fine noise and small structures; the coarse stages lay out large
    /// flat regions and long outlines first (README, "The learned-image route").
    pub const STAGES: usize = 3;
    /// The default pyramid has no stage smaller than this (a smaller image holds too few
    /// positions for the deep layers' statistics); `stages` given explicitly may go lower.
    pub const COARSEST: usize = 64;
    pub const MAX_SIDE: usize = 512;
    /// All 16 relu layers, as in the original write-up.
    pub const LAYERS: [usize; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    /// Passes of the detail matching the learned image (and each snapshot) gets. A transfer
    /// with it as the style measures its detail again, and one pass leaves the bands off the
    /// dataset's (they leak into each other when split again): on the benchmark's cartoon
    /// filter four passes took the image route's texture from 0.516 to 0.459 (README).
    pub const DETAIL_PASSES: usize = 4;
}

/// Everything a learn run (or a profile) needs, as plain values.
#[derive(Clone, Debug)]
pub struct LearnSettings {
    /// Image files and folders of images.
    pub inputs: Vec<PathBuf>,
    /// CSV of per-image weights (`file,weight`).
    pub weights: Option<PathBuf>,
    /// Folder of per-image masks (same file stem).
    pub masks: Option<PathBuf>,
    pub region: Region,
    /// Side of the square learned image.
    pub size: usize,
    /// Coarse-to-fine stages: the image is learned at `size / 2^(stages − 1)`, then at each
    /// doubling up to `size`, each stage from the previous one enlarged. `None`: up to
    /// [`defaults::STAGES`], the smallest no smaller than [`defaults::COARSEST`] (one stage
    /// with `sample`).
    pub stages: Option<usize>,
    /// Iterations per stage.
    pub iters: usize,
    pub layers: Vec<usize>,
    pub layer_weights: Option<Vec<f32>>,
    pub optimizer: OptimizerKind,
    /// Adam's learning rate or L-BFGS's initial step; `None` for the optimiser's default.
    pub step: Option<f64>,
    pub seed: u64,
    /// Match the mean of this many random images per step (the write-up's stochastic variant).
    pub sample: Option<usize>,
    /// Skip unreadable images found in folders, with a notice.
    pub skip_bad: bool,
    /// Dataset images are resized so their long side is at most this.
    pub max_side: Option<usize>,
    pub tv_weight: f32,
    pub statistic: StatisticKind,
    /// The learned image takes the dataset's fine detail ([`crate::detail`]) when it is saved,
    /// so that a transfer with it as the style takes that detail, not the optimisation's
    /// leftover noise.
    pub detail: bool,
}

impl LearnSettings {
    /// Settings with every default, learning from `inputs`.
    pub fn new(inputs: Vec<PathBuf>) -> Self {
        Self {
            inputs,
            weights: None,
            masks: None,
            region: Region::Foreground,
            size: defaults::SIZE,
            stages: None,
            iters: defaults::ITERS,
            layers: defaults::LAYERS.to_vec(),
            layer_weights: None,
            optimizer: OptimizerKind::Lbfgs,
            step: None,
            seed: 0,
            sample: None,
            skip_bad: false,
            max_side: Some(defaults::MAX_SIDE),
            tv_weight: 0.0,
            statistic: StatisticKind::Gram,
            detail: true,
        }
    }
}

/// A checked learn run with its dataset listed.
pub struct LearnPlan {
    settings: LearnSettings,
    /// The learned image's side at each stage, coarse to fine; the last is `settings.size`.
    sides: Vec<usize>,
    entries: Vec<Entry>,
    /// Images a weights file left out (weight 0).
    left_out: Vec<PathBuf>,
}

/// What a learn run produced.
pub struct LearnOutcome {
    pub image: Rgb,
    /// What the image carries from its dataset when saved, at its pixel scale
    /// ([`crate::carried`]): the dataset's fine detail, which the image took (with
    /// [`LearnSettings::detail`]), a pixelated dataset's blocks, and the dataset's colours and
    /// exact colours. A transfer with the image as its style takes these rather than
    /// measuring its pixels.
    pub carried: crate::carried::Carried,
    /// The dataset's statistics (the style profile).
    pub target: StyleTarget,
    /// The observer asked to stop; `image` is the latest reached, at the size asked for (a
    /// coarse stage's image enlarged).
    pub stopped: bool,
    pub iters: usize,
    pub evals: usize,
    pub last: Breakdown,
    pub log: LossLog,
    pub seconds: f64,
}

/// What a read of the dataset gives: the style target, each image's summaries (with `sample`),
/// and the targets of the coarse stages.
struct Read {
    target: StyleTarget,
    each: Vec<Vec<Summary>>,
    coarse: Vec<Vec<Summary>>,
    /// The dataset's blocks at the pixel scale of its images as read (`max_side` may have
    /// shrunk them after their blocks were found at their own size): the same share of the
    /// images' weighted mean long side as read.
    blocks_as_read: Option<crate::pixelate::Blocks>,
}

impl LearnSettings {
    /// The learned image's side at each coarse-to-fine stage these settings ask for (see
    /// [`LearnSettings::stages`]), coarse to fine; the last is `size`. An error for stages the
    /// network cannot take.
    pub fn sides(&self) -> Result<Vec<usize>> {
        let s = self;
        let side = |k: usize| (s.size as f64 / (1u64 << k.min(62)) as f64).round() as usize;
        let stages = match s.stages {
            Some(0) => return Err(Error::setting(Setting::Stages, "must be at least 1")),
            Some(n) if n > 1 && s.sample.is_some() => {
                return Err(Error::setting(
                    Setting::Stages,
                    "the write-up's stochastic variant (a random sample of the dataset per step) \
                     learns at one size: give 1",
                ));
            }
            Some(n) => {
                if side(n - 1) < vgg::MIN_SIDE {
                    return Err(Error::setting(
                        Setting::Stages,
                        format!(
                            "{n} stages make the first {} px, below the minimum of {} px: give fewer",
                            side(n - 1),
                            vgg::MIN_SIDE
                        ),
                    ));
                }
                n
            }
            None if s.sample.is_some() => 1,
            None => {
                (1..defaults::STAGES)
                    .take_while(|&k| side(k) >= defaults::COARSEST)
                    .count()
                    + 1
            }
        };
        Ok((0..stages).rev().map(side).collect())
    }
}

impl LearnPlan {
    /// Checks `settings` and lists the dataset (files, weights, masks) once.
    pub fn new(settings: LearnSettings) -> Result<Self> {
        let s = &settings;
        if s.iters == 0 {
            return Err(Error::setting(Setting::Iterations, "must be at least 1"));
        }
        if s.size < vgg::MIN_SIDE {
            return Err(Error::setting(
                Setting::Size,
                format!("{} px is below the minimum of {} px", s.size, vgg::MIN_SIDE),
            ));
        }
        if let Some(m) = s.max_side
            && m < vgg::MIN_SIDE
        {
            return Err(Error::setting(
                Setting::MaxSide,
                format!("{m} px is below the minimum of {} px", vgg::MIN_SIDE),
            ));
        }
        check_unique(&s.layers, Setting::StyleLayers)?;
        check_step(s.step)?;
        let sides = s.sides()?;
        check_number(Setting::TvWeight, s.tv_weight as f64, 0.0, true)?;
        if let Some(lw) = &s.layer_weights {
            if lw.len() != s.layers.len() {
                return Err(Error::setting(
                    Setting::LayerWeights,
                    format!(
                        "{} values for {} layers: give one per layer",
                        lw.len(),
                        s.layers.len()
                    ),
                ));
            }
            if lw.iter().any(|v| !(v.is_finite() && *v >= 0.0)) || lw.iter().sum::<f32>() <= 0.0 {
                return Err(Error::setting(
                    Setting::LayerWeights,
                    "must be non-negative numbers with a positive sum",
                ));
            }
        }
        let input_err = |p: &PathBuf, e: anyhow::Error| Error::input(p, e);
        let mut entries =
            dataset::expand(&s.inputs).map_err(|e| input_err(&s.inputs[0].clone(), e))?;
        let mut left_out = Vec::new();
        if let Some(w) = &s.weights {
            left_out = dataset::apply_weights(&mut entries, w).map_err(|e| input_err(w, e))?;
        }
        if let Some(m) = &s.masks {
            dataset::attach_masks(&mut entries, m).map_err(|e| input_err(m, e))?;
        }
        if let Some(k) = s.sample {
            if k == 0 {
                return Err(Error::setting(Setting::Sample, "must be at least 1"));
            }
            if k > entries.len() {
                return Err(Error::setting(
                    Setting::Sample,
                    format!(
                        "{k} is more than the {} images of the dataset",
                        entries.len()
                    ),
                ));
            }
        }
        let deepest = *s.layers.iter().max().expect("non-empty");
        let avail = memory::available();
        memory::check(
            s.size,
            s.size,
            deepest,
            true,
            avail,
            "the learned image",
            &[Setting::Size],
        )?;
        if let Some(m) = s.max_side {
            memory::check(
                m,
                m,
                deepest,
                false,
                avail,
                "a dataset image",
                &[Setting::MaxSide],
            )?;
        }
        Ok(Self {
            settings,
            sides,
            entries,
            left_out,
        })
    }

    /// The learned image's side at each coarse-to-fine stage; the last is its size.
    pub fn sides(&self) -> &[usize] {
        &self.sides
    }

    /// Iterations in all: `iters` per stage.
    pub fn total_iters(&self) -> usize {
        self.settings.iters * self.sides.len()
    }

    pub fn settings(&self) -> &LearnSettings {
        &self.settings
    }

    /// The dataset's images with their weights and masks.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Images that a weights file leaves out (weight 0).
    pub fn left_out(&self) -> &[PathBuf] {
        &self.left_out
    }

    /// Files the run reads, with what each is (to keep outputs from replacing them).
    pub fn inputs(&self) -> Vec<(PathBuf, &'static str)> {
        let s = &self.settings;
        let mut v: Vec<(PathBuf, &'static str)> = self
            .entries
            .iter()
            .map(|e| (e.path.clone(), "a dataset image"))
            .collect();
        v.extend(
            self.entries
                .iter()
                .filter_map(|e| e.mask.clone().map(|m| (m, "a mask"))),
        );
        v.extend(self.left_out.iter().map(|p| (p.clone(), "a dataset image")));
        if let Some(w) = &s.weights {
            v.push((w.clone(), "the weights file"));
        }
        v
    }

    /// Reads the dataset into its style target (and each image's summaries when `keep_each`).
    pub fn target(
        &self,
        net: &Vgg19,
        observer: &mut dyn Observer,
    ) -> Result<(StyleTarget, Vec<Vec<Summary>>)> {
        self.read(net, observer, &[]).map(|r| (r.target, r.each))
    }

    /// [`Self::target`], and the dataset's statistics with its images shrunk by each of
    /// `coarse` (factors below 1): the targets of the coarse stages. A learned image at a
    /// quarter of its size holds the dataset's images at a quarter of theirs, so each pixel
    /// still covers as much of them.
    fn read(&self, net: &Vgg19, observer: &mut dyn Observer, coarse: &[f64]) -> Result<Read> {
        let s = &self.settings;
        let stat = s.statistic.build();
        let mut b = TargetBuilder::new(net, stat.as_ref(), &s.layers);
        if s.sample.is_some() {
            b = b.keep_each();
        }
        let mut coarse_b: Vec<TargetBuilder> = coarse
            .iter()
            .map(|_| TargetBuilder::new(net, stat.as_ref(), &s.layers))
            .collect();
        let total = self.entries.len();
        observer.stage(&Stage {
            kind: StageKind::ReadDataset,
            index: 0,
            count: 1,
            items: total,
            width: 0,
            height: 0,
        });
        let mut palettes: Vec<(crate::color::Palette, f64)> = Vec::new();
        let mut details: Vec<(crate::detail::Detail, f64)> = Vec::new();
        let mut swatches: Vec<(crate::posterise::Swatches, f64)> = Vec::new();
        let mut pixels: Vec<(crate::pixelate::Seen, f64)> = Vec::new();
        let mut rings: Vec<crate::vignette::Rings> = Vec::new();
        // the images' long sides as read, weighted
        let mut sides = (0.0, 0.0);
        let mut read: Vec<&dataset::Entry> = Vec::new();
        let mut lossy = 0;
        for (i, e) in self.entries.iter().enumerate() {
            let loaded = match dataset::load_entry(e, s.max_side, s.region, None) {
                Ok(l) => l,
                Err(err) if s.skip_bad && e.from_folder && e.mask.is_none() => {
                    observer.notice(&Notice::Skipped {
                        path: e.path.clone(),
                        reason: format!("{err:#}"),
                    });
                    continue;
                }
                Err(err) => return Err(Error::input(&e.path, err)),
            };
            let dev = net.device();
            palettes.push((
                crate::color::Palette::of(&loaded.image, loaded.mask.as_deref()),
                e.weight,
            ));
            details.push((loaded.detail, e.weight));
            swatches.push((loaded.swatches, e.weight));
            pixels.push((loaded.pixels, e.weight));
            if e.weight > 0.0 {
                let long = loaded.image.width.max(loaded.image.height) as f64;
                sides = (sides.0 + long * e.weight, sides.1 + e.weight);
            }
            lossy += usize::from(loaded.lossy);
            if loaded.mask.is_none() {
                rings.extend(crate::vignette::Rings::of(&loaded.image));
            }
            read.push(e);
            // The image (with its mask) into one target: the full-size one, or a coarse stage's.
            let name = e.path.display().to_string();
            let add = |b: &mut TargetBuilder, img: &Rgb, mask: Option<Vec<f32>>| {
                let mask = mask.map(|m| {
                    Tensor::<4>::from_data(TensorData::new(m, [1, 1, img.height, img.width]), dev)
                });
                b.add(&name, img.to_tensor(dev), mask.as_ref(), e.weight)
                    .map_err(|err| Error::input(&e.path, err))
            };
            let img = &loaded.image;
            for (cb, &f) in coarse_b.iter_mut().zip(coarse) {
                let side = |v: usize| ((v as f64 * f).round() as usize).max(vgg::MIN_SIDE);
                let (w, h) = (side(img.width), side(img.height));
                let mask = loaded.mask.as_ref();
                let mask = mask.map(|m| image_io::resize_mask(m, img.width, img.height, w, h));
                add(cb, &img.resize(w, h), mask)?;
            }
            add(&mut b, img, loaded.mask)?;
            if observer.item(i + 1, total) == Control::Stop {
                return Err(Error::Other(anyhow::anyhow!(
                    "stopped while reading the dataset"
                )));
            }
        }
        if lossy > 0 {
            observer.notice(&Notice::LossyImages {
                lossy,
                count: read.len(),
            });
        }
        let (mut target, each) = b.finish()?;
        let coarse_targets = coarse_b
            .into_iter()
            .map(|cb| cb.finish().map(|(t, _)| t.summaries))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let vignette = crate::vignette::Vignette::find(&rings);
        if let Some(v) = &vignette {
            // The colours and detail the filter gives before its vignette: each image read
            // again (memory stays flat in the dataset size) with the vignette removed.
            observer.stage(&Stage {
                kind: StageKind::RemoveVignette,
                index: 0,
                count: 1,
                items: read.len(),
                width: 0,
                height: 0,
            });
            for (j, e) in read.iter().enumerate() {
                let loaded = dataset::load_entry(e, s.max_side, s.region, Some(v))
                    .map_err(|err| Error::input(&e.path, err))?;
                palettes[j].0 = crate::color::Palette::of(&loaded.image, loaded.mask.as_deref());
                details[j].0 = loaded.detail;
                if observer.item(j + 1, read.len()) == Control::Stop {
                    return Err(Error::Other(anyhow::anyhow!(
                        "stopped while reading the dataset"
                    )));
                }
            }
        }
        let parts: Vec<(&crate::color::Palette, f64)> =
            palettes.iter().map(|(p, w)| (p, *w)).collect();
        target.palette =
            crate::color::Palette::mix(&parts).map(|p| crate::color::Palette { vignette, ..p });
        let parts: Vec<(&crate::detail::Detail, f64)> =
            details.iter().map(|(d, w)| (d, *w)).collect();
        target.detail = crate::detail::Detail::mix(&parts);
        let parts: Vec<(&crate::posterise::Swatches, f64)> =
            swatches.iter().map(|(s, w)| (s, *w)).collect();
        target.swatches = crate::posterise::Swatches::mix(&parts);
        target.blocks = crate::pixelate::Blocks::mix(&pixels);
        let blocks_as_read = target.blocks.map(|b| {
            let long_side = sides.0 / sides.1;
            crate::pixelate::Blocks {
                size: b.size / b.long_side * long_side,
                long_side,
            }
        });
        Ok(Read {
            target,
            each,
            coarse: coarse_targets,
            blocks_as_read,
        })
    }

    /// Reads the dataset, then learns the style image, reporting to `observer`.
    pub fn run(&self, net: &Vgg19, observer: &mut dyn Observer) -> Result<LearnOutcome> {
        self.run_from(net, observer, None)
    }

    /// [`Self::run`], continuing from `start` (an earlier run's state, see
    /// [`Observer::checkpoint`]) when given: iterations are numbered on from it.
    pub fn run_from(
        &self,
        net: &Vgg19,
        observer: &mut dyn Observer,
        start: Option<&Start>,
    ) -> Result<LearnOutcome> {
        let s = &self.settings;
        let stages = self.sides.len();
        if let Some(st) = start {
            let side = self.sides.get(st.state.stage).copied().unwrap_or(0);
            check_start(&st.state, stages, side, side)?;
        }
        let coarse: Vec<f64> = self.sides[..stages - 1]
            .iter()
            .map(|&side| side as f64 / s.size as f64)
            .collect();
        let Read {
            target,
            each,
            coarse: coarse_targets,
            blocks_as_read,
        } = self.read(net, observer, &coarse)?;
        let stat = s.statistic.build();
        let names: Vec<String> = s
            .layers
            .iter()
            .map(|&l| RELU_LAYERS[l].to_string())
            .collect();
        let mut log = LossLog::new(&names);
        let (mut iters, mut evals, mut seconds) = (0, 0, 0.0);
        if let Some(st) = start {
            log.rows = st.rows.clone();
            iters = st.state.iter - st.state.stage_iter;
            evals = st.state.evals - st.state.stage_evals;
        }
        // The stochastic variant (one stage): a new random subset's mean before every step.
        let weights: Vec<f64> = target.sources.iter().map(|(_, w)| *w).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(s.seed ^ 0x5eed);
        // A resumed run draws on where the earlier one stopped.
        if let (Some(st), Some(k)) = (start, s.sample) {
            for _ in 0..st.state.iter {
                sample(&mut rng, each.len(), k.min(each.len()));
            }
        }
        let mut resample = |loss: &mut ImageLoss| -> bool {
            let Some(k) = s.sample else { return false };
            let idx = sample(&mut rng, each.len(), k.min(each.len()));
            let parts: Vec<(&[Summary], f64)> = idx
                .iter()
                .map(|i| (each[i].as_slice(), weights[i]))
                .collect();
            if let Some(st) = &mut loss.style {
                st.targets = style::target::blend(stat.as_ref(), &parts);
            }
            true
        };
        // The learned image has the dataset's pixel scale whatever its size (the statistics are
        // per position), so it takes the detail of the dataset's images at their full size, and
        // a coarse stage the detail of the images shrunk as much as it is.
        let detail = target
            .detail
            .clone()
            .filter(|_| s.detail)
            .map(|d| crate::detail::Detail {
                long_side: s.size as f64,
                ..d
            });
        // It carries the dataset's blocks in pixels as read, for the same reason: the blocks
        // its texture was learned from. None finer than a pixel, and none larger than the image.
        // And the dataset's colours and exact colours, as the profile records them.
        let carried = crate::carried::Carried {
            detail: detail.clone(),
            palette: target.palette.clone(),
            swatches: target.swatches.clone(),
            blocks: blocks_as_read
                .filter(|b| (1.0..=s.size as f64).contains(&b.size))
                .map(|b| crate::pixelate::Blocks {
                    long_side: s.size as f64,
                    ..b
                }),
        };
        let finish = Finish {
            recolour: None,
            detail: detail.as_ref(),
            detail_passes: defaults::DETAIL_PASSES,
            swatches: None,
            blocks: None,
        };
        let mut x: Vec<f32> = Vec::new();
        let mut last = Breakdown::default();
        for (stage, &side) in self.sides.iter().enumerate() {
            let resume = start.map(|st| &st.state).filter(|r| r.stage == stage);
            if start.is_some_and(|st| stage < st.state.stage) {
                continue;
            }
            let targets = match coarse_targets.get(stage) {
                Some(t) => t.clone(),
                None => target.summaries.clone(),
            };
            let mut loss = ImageLoss::new(net, side, side);
            loss.style = Some(StyleTerm::new(
                s.statistic.build(),
                s.layers.clone(),
                s.layer_weights.clone(),
                targets,
                1.0,
            )?);
            loss.tv_weight = s.tv_weight;
            x = match resume {
                Some(r) => r.pixels.clone(),
                None if stage == 0 => image_io::noise(side, side, s.seed).data,
                None => {
                    let prev = self.sides[stage - 1];
                    Rgb::from_planar(prev, prev, x).resize(side, side).data
                }
            };
            let mut opt = s.optimizer.build(s.step);
            observer.stage(&Stage {
                kind: StageKind::Optimise,
                index: stage,
                count: stages,
                items: s.iters,
                width: side,
                height: side,
            });
            let at = Position {
                stage,
                iters_before: iters,
                evals_before: evals,
                style_layers: &s.layers,
                finish,
                carried: Some(&carried),
                resume,
            };
            let mut rec = Recorder {
                log: &mut log,
                inner: observer,
            };
            let out = driver::optimise(
                &mut loss,
                &mut x,
                opt.as_mut(),
                s.iters,
                &at,
                &mut rec,
                Some(&mut resample),
            )?;
            iters += out.iters;
            evals += out.evals;
            seconds += out.seconds;
            last = loss.last.clone();
            if out.stopped {
                // A coarse stage's image, enlarged as the next stage would start from it: the
                // run's image is always the size asked for.
                let x = Rgb::from_planar(side, side, x).resize(s.size, s.size).data;
                return Ok(LearnOutcome {
                    image: finish_image(&x, s.size, s.size, finish),
                    carried: carried.clone(),
                    target,
                    stopped: true,
                    iters,
                    evals,
                    last,
                    log,
                    seconds,
                });
            }
        }
        Ok(LearnOutcome {
            image: finish_image(&x, s.size, s.size, finish),
            carried: carried.clone(),
            target,
            stopped: false,
            iters,
            evals,
            last,
            log,
            seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{LearnPlan, LearnSettings};
    use crate::image_io::{self, Rgb};
    use crate::style::{Summary, TargetBuilder};
    use crate::vgg::Vgg19;
    use burn::tensor::Device;

    fn sides(
        size: usize,
        stages: Option<usize>,
        sample: Option<usize>,
    ) -> Result<Vec<usize>, String> {
        let s = LearnSettings {
            size,
            stages,
            sample,
            ..LearnSettings::new(Vec::new())
        };
        s.sides().map_err(|e| e.to_string())
    }

    #[test]
    fn the_pyramid_halves_down_to_64_px_or_as_asked() {
        assert_eq!(sides(256, None, None).unwrap(), [64, 128, 256]);
        assert_eq!(sides(512, None, None).unwrap(), [128, 256, 512]);
        assert_eq!(sides(128, None, None).unwrap(), [64, 128]);
        assert_eq!(sides(100, None, None).unwrap(), [100]);
        assert_eq!(sides(48, None, None).unwrap(), [48]);
        assert_eq!(sides(256, Some(1), None).unwrap(), [256]);
        assert_eq!(sides(100, Some(3), None).unwrap(), [25, 50, 100]);
        // The write-up's stochastic variant learns at one size.
        assert_eq!(sides(256, None, Some(2)).unwrap(), [256]);
        assert!(
            sides(256, Some(2), Some(2))
                .unwrap_err()
                .contains("one size")
        );
        assert!(sides(256, Some(0), None).is_err());
        let e = sides(64, Some(4), None).unwrap_err();
        assert!(e.contains("8 px") && e.contains("16 px"), "{e}");
    }

    #[test]
    fn a_coarse_stage_s_target_is_the_dataset_shrunk_as_much_as_the_stage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        image_io::noise(48, 40, 3).save(&path).unwrap();
        let net = Vgg19::synthetic(2, 7, &Device::flex());
        let settings = LearnSettings {
            size: 64,
            stages: Some(2),
            layers: vec![0, 4, 12],
            max_side: None,
            ..LearnSettings::new(vec![path.clone()])
        };
        let plan = LearnPlan::new(settings).unwrap();
        assert_eq!(plan.sides(), [32, 64]);
        let super::Read { target, coarse, .. } = plan
            .read(&net, &mut crate::observe::Silent, &[0.5])
            .unwrap();
        let stat = crate::style::StatisticKind::Gram.build();
        let b = TargetBuilder::new(&net, stat.as_ref(), &[0, 4, 12]);
        let img = image_io::load(&path).unwrap();
        let flat = |s: &[Summary]| -> Vec<f32> {
            s.iter()
                .flat_map(|l| l.0.iter())
                .flat_map(|t| t.clone().try_to_vec_as::<f32>().unwrap())
                .collect()
        };
        let at = |img: &Rgb| flat(&b.summarise(img.to_tensor(net.device()), None));
        let close = |a: &[f32], b: &[f32]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
        };
        assert_eq!(coarse.len(), 1);
        assert!(close(&flat(&coarse[0]), &at(&img.resize(24, 20))));
        assert!(close(&flat(&target.summaries), &at(&img)));
        assert!(!close(&flat(&coarse[0]), &flat(&target.summaries)));
    }
}
