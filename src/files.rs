//! Runs whose results go to files: the transfer, learn and profile jobs that a command line or
//! a batch runner drives.
//!
//! A job is built in one call that checks the settings, reads the inputs and checks every output
//! (format, folder, not one of the inputs, not another output) before any work. Running it
//! writes into partial files ([`crate::outputs`]) and publishes them together when the run
//! succeeds, or when the observer stopped it on purpose; a run that fails leaves the folder as
//! it was.
use std::path::{Path, PathBuf};

use burn::tensor::Device;

use crate::checkpoint::{self, Checkpoints, RunKey};
use crate::error::{Error, Result};
use crate::image_io;
use crate::learn::{LearnOutcome, LearnPlan, LearnSettings};
use crate::log::LossLog;
use crate::observe::{Control, Notice, Observer, RunState, Stage, Step};
use crate::outputs::{OutputSet, Staged, extension, sibling};
use crate::report::{self, LiveObserver, LivePage, report_path};
use crate::style::StyleTarget;
use crate::transfer::{TargetCache, TransferOutcome, TransferPlan, TransferSettings};
use crate::vgg::{RELU_LAYERS, Vgg19};

/// Where a transfer's results go.
#[derive(Clone, Debug)]
pub struct TransferFiles {
    /// The stylised image (.png, .jpg, .webp).
    pub output: PathBuf,
    /// The loss log CSV, if wanted.
    pub log: Option<PathBuf>,
    /// Save the image every this many iterations, as `OUT.iterNNNNN.EXT`.
    pub snapshot_every: Option<usize>,
}

/// Where a learn run's results go: the image, and beside it the curve (CSV and PNG), the
/// style profile and snapshots.
#[derive(Clone, Debug)]
pub struct LearnFiles {
    pub output: PathBuf,
    /// Iterations at which the image is saved as `OUT.iterNNNNN.EXT`.
    pub snapshots: Vec<usize>,
}

impl LearnFiles {
    pub fn curve_csv(&self) -> PathBuf {
        sibling(&self.output, ".curve.csv")
    }
    pub fn curve_png(&self) -> PathBuf {
        sibling(&self.output, ".curve.png")
    }
    pub fn profile(&self) -> PathBuf {
        sibling(&self.output, ".profile.safetensors")
    }
}

/// The snapshot file of `output` at iteration `iter`.
pub fn snapshot_path(output: &Path, iter: usize) -> PathBuf {
    sibling(output, &format!(".iter{iter:05}.{}", extension(output)))
}

fn image_output(path: &Path) -> Result<()> {
    image_io::output_format(path).map_err(|e| Error::Output {
        path: path.to_path_buf(),
        problem: format!("{e:#}"),
    })?;
    Ok(())
}

/// Writes snapshots, log rows and checkpoints as steps arrive, then hands them on.
struct FileObserver<'a> {
    staged: &'a mut Staged,
    output: &'a Path,
    log: Option<LossLog>,
    snapshot_at: &'a dyn Fn(usize) -> bool,
    checkpoints: Option<&'a Checkpoints>,
    /// The inner observer asked to stop (a checkpoint is written there).
    stopping: bool,
    error: Option<Error>,
    inner: &'a mut dyn Observer,
}

impl Observer for FileObserver<'_> {
    fn stage(&mut self, stage: &Stage) {
        self.inner.stage(stage)
    }
    fn item(&mut self, done: usize, total: usize) -> Control {
        self.inner.item(done, total)
    }
    fn notice(&mut self, notice: &Notice) {
        self.inner.notice(notice)
    }
    fn step(&mut self, step: &Step<'_>) -> Control {
        let mut write = || -> anyhow::Result<()> {
            if let Some(log) = &mut self.log {
                log.row(step.iter, step.evals, step.stage, step.loss)?;
            }
            if (self.snapshot_at)(step.iter) {
                let p = snapshot_path(self.output, step.iter);
                let notes = step.carried().map(|c| c.notes()).unwrap_or_default();
                step.image()
                    .save_with_notes(self.staged.partial(&p), &notes)?;
            }
            Ok(())
        };
        if let Err(e) = write() {
            // Stop the run; the error is reported once it returns.
            self.error = Some(Error::Other(e));
            return Control::Stop;
        }
        let control = self.inner.step(step);
        self.stopping = control == Control::Stop;
        control
    }
    fn wants_checkpoint(&mut self, step: &Step<'_>) -> bool {
        self.error.is_none()
            && self.checkpoints.is_some_and(|c| {
                c.every > 0
                    && step.iter < c.total
                    && (self.stopping || step.iter.is_multiple_of(c.every))
            })
    }
    fn checkpoint(&mut self, state: &RunState) -> Control {
        let (Some(c), Some(log)) = (self.checkpoints, &self.log) else {
            return Control::Continue;
        };
        match checkpoint::save(&c.path, &c.key, state, &log.rows) {
            Ok(()) => Control::Continue,
            Err(e) => {
                self.error = Some(e);
                Control::Stop
            }
        }
    }
}

/// A transfer whose inputs and outputs have been checked.
pub struct TransferJob {
    pub plan: TransferPlan,
    pub files: TransferFiles,
    outputs: OutputSet,
    checkpoints: Option<Checkpoints>,
}

/// What a finished (or deliberately stopped) job wrote.
pub struct Written<T> {
    pub outcome: T,
    /// Every file published, in order.
    pub files: Vec<PathBuf>,
}

impl TransferJob {
    pub fn new(settings: TransferSettings, files: TransferFiles, device: &Device) -> Result<Self> {
        // The output names are checked before the inputs are read.
        check_files(&files)?;
        let plan = TransferPlan::new(settings, device)?;
        Self::with_plan(plan, files)
    }

    /// A job for a plan already made (a batch's photo): checks the outputs against its inputs.
    pub fn with_plan(plan: TransferPlan, files: TransferFiles) -> Result<Self> {
        check_files(&files)?;
        let outputs = transfer_outputs(&files, plan.settings().iters * plan.scales().len());
        outputs.check(&plan.inputs())?;
        Ok(Self {
            plan,
            files,
            outputs,
            checkpoints: None,
        })
    }

    /// Writes a checkpoint (`OUT.checkpoint`) every `every` iterations (`None`: about every
    /// two to three minutes of work at the output's size, [`checkpoint::default_every`]; 0:
    /// never); with `resume`, continues from the checkpoint there, which must exist and have
    /// been written with the same settings. The checkpoint is removed when the outputs are
    /// published.
    pub fn with_checkpoints(mut self, every: Option<usize>, resume: bool) -> Result<Self> {
        let (w, h) = self.plan.output_size();
        let key = RunKey {
            command: "transfer".into(),
            settings: format!("{:#?}", self.plan.settings()),
            layers: layer_names(self.plan.style_layers()),
        };
        let total = self.plan.settings().iters * self.plan.scales().len();
        self.checkpoints = Some(Checkpoints::new(
            &self.files.output,
            every.unwrap_or_else(|| checkpoint::default_every(w * h)),
            resume,
            key,
            total,
            &self.outputs,
            &self.plan.inputs(),
        )?);
        Ok(self)
    }

    /// The checkpoint file, when the job writes checkpoints.
    pub fn checkpoint_path(&self) -> Option<&Path> {
        self.checkpoints.as_ref().map(|c| c.path.as_path())
    }

    /// Runs the transfer and publishes its files.
    pub fn run(
        &self,
        net: &Vgg19,
        observer: &mut dyn Observer,
    ) -> Result<Written<TransferOutcome>> {
        self.run_cached(net, observer, &mut TargetCache::default(), true)
    }

    /// [`Self::run`] with a batch's style-target cache; a run the observer stopped publishes
    /// its latest image only when `publish_stopped` (otherwise it leaves nothing, like a failure).
    pub(crate) fn run_cached(
        &self,
        net: &Vgg19,
        observer: &mut dyn Observer,
        cache: &mut TargetCache,
        publish_stopped: bool,
    ) -> Result<Written<TransferOutcome>> {
        let mut staged = self.outputs.stage()?;
        let names = layer_names(self.plan.style_layers());
        let log = match (&self.files.log, &self.checkpoints) {
            (Some(p), _) => Some(LossLog::create(staged.partial(p), &names)?),
            // Checkpoints hold the rows so far.
            (None, Some(_)) => Some(LossLog::new(&names)),
            (None, None) => None,
        };
        let log = match (&self.checkpoints, log) {
            (Some(c), Some(log)) => Some(c.log(log)?),
            (_, log) => log,
        };
        let every = self.files.snapshot_every;
        let snapshot_at = move |it: usize| every.is_some_and(|n| it.is_multiple_of(n));
        let mut live = LivePage::new(report_path(&self.files.output));
        // A resumed run's report shows its whole curve.
        live.state
            .rows
            .extend(self.checkpoints.iter().flat_map(|c| c.report_rows()));
        let render = |st: &_| report::transfer_page(&self.plan, &self.files, &[], st);
        let mut lo = LiveObserver {
            page: &mut live,
            render: &render,
            error: None,
            inner: observer,
        };
        let mut fo = FileObserver {
            staged: &mut staged,
            output: &self.files.output,
            log,
            snapshot_at: &snapshot_at,
            checkpoints: self.checkpoints.as_ref(),
            stopping: false,
            error: None,
            inner: &mut lo,
        };
        let start = self.checkpoints.as_ref().and_then(|c| c.start.as_ref());
        let outcome = self.plan.run_inner(net, &mut fo, cache, start)?;
        let failed = fo.error.take();
        drop(fo);
        if let Some(e) = failed.or(lo.error.take()) {
            return Err(e);
        }
        if outcome.stopped && !publish_stopped {
            // Dropping the staged files removes them.
            return Ok(Written {
                outcome,
                files: Vec::new(),
            });
        }
        outcome.image.save(staged.partial(&self.files.output))?;
        let snaps: Vec<usize> = (1..=outcome.iters).filter(|&i| snapshot_at(i)).collect();
        live.end(outcome.stopped, outcome.iters, outcome.evals);
        let page = report::transfer_page(&self.plan, &self.files, &snaps, &live.state);
        write_report(&mut staged, &self.files.output, &page)?;
        let files = staged.commit()?;
        live.finish();
        if let Some(c) = &self.checkpoints
            && !outcome.stopped
        {
            c.finish()?;
        }
        Ok(Written { outcome, files })
    }
}

/// Writes a run's final report page into its partial file.
fn write_report(staged: &mut Staged, output: &Path, page: &str) -> Result<()> {
    let path = report_path(output);
    std::fs::write(staged.partial(&path), page).map_err(|e| Error::Output {
        path,
        problem: format!("cannot write the report: {e}"),
    })
}

fn layer_names(layers: &[usize]) -> Vec<String> {
    layers.iter().map(|&l| RELU_LAYERS[l].to_string()).collect()
}

/// Checks a transfer's output format and snapshot interval.
fn check_files(files: &TransferFiles) -> Result<()> {
    image_output(&files.output)?;
    if files.snapshot_every == Some(0) {
        return Err(Error::setting(
            crate::Setting::SnapshotEvery,
            "must be at least 1",
        ));
    }
    Ok(())
}

/// Every file a transfer of `total_iters` iterations may write.
pub(crate) fn transfer_outputs(files: &TransferFiles, total_iters: usize) -> OutputSet {
    let mut outputs = OutputSet::new();
    outputs.add(files.output.clone(), "the output image");
    outputs.add(report_path(&files.output), "the report");
    if let Some(l) = &files.log {
        outputs.add(l.clone(), "the loss log");
    }
    if let Some(n) = files.snapshot_every {
        for it in (n..=total_iters).step_by(n) {
            outputs.add(snapshot_path(&files.output, it), "a snapshot");
        }
    }
    outputs
}

/// A learn run whose inputs and outputs have been checked.
pub struct LearnJob {
    pub plan: LearnPlan,
    pub files: LearnFiles,
    outputs: OutputSet,
    checkpoints: Option<Checkpoints>,
}

impl LearnJob {
    pub fn new(settings: LearnSettings, files: LearnFiles) -> Result<Self> {
        image_output(&files.output)?;
        let plan = LearnPlan::new(settings)?;
        if files.snapshots.contains(&0) {
            return Err(Error::setting(
                crate::Setting::Snapshots,
                "iterations count from 1",
            ));
        }
        // Snapshots past the last iteration are never reached.
        let mut files = files;
        let iters = plan.total_iters();
        files.snapshots.retain(|&s| s <= iters);
        let mut outputs = OutputSet::new();
        outputs
            .add(files.output.clone(), "the learned image")
            .add(files.curve_csv(), "the learning curve")
            .add(files.curve_png(), "the learning-curve plot")
            .add(files.profile(), "the style profile")
            .add(report_path(&files.output), "the report");
        for &s in &files.snapshots {
            outputs.add(snapshot_path(&files.output, s), "a snapshot");
        }
        outputs.check(&plan.inputs())?;
        Ok(Self {
            plan,
            files,
            outputs,
            checkpoints: None,
        })
    }

    /// Writes a checkpoint (`OUT.checkpoint`) every `every` iterations (`None`: about every
    /// two to three minutes of work at the image's size, [`checkpoint::default_every`]; 0:
    /// never); with `resume`, continues from the checkpoint there, which must exist and have
    /// been written with the same settings. The checkpoint is removed when the outputs are
    /// published.
    pub fn with_checkpoints(mut self, every: Option<usize>, resume: bool) -> Result<Self> {
        let s = self.plan.settings();
        let key = RunKey {
            command: "learn".into(),
            settings: format!("{s:#?}"),
            layers: layer_names(&s.layers),
        };
        self.checkpoints = Some(Checkpoints::new(
            &self.files.output,
            every.unwrap_or_else(|| checkpoint::default_every(s.size * s.size)),
            resume,
            key,
            self.plan.total_iters(),
            &self.outputs,
            &self.plan.inputs(),
        )?);
        Ok(self)
    }

    /// The checkpoint file, when the job writes checkpoints.
    pub fn checkpoint_path(&self) -> Option<&Path> {
        self.checkpoints.as_ref().map(|c| c.path.as_path())
    }

    /// Learns the style image and publishes it with its curve, profile and snapshots.
    pub fn run(&self, net: &Vgg19, observer: &mut dyn Observer) -> Result<Written<LearnOutcome>> {
        let mut staged = self.outputs.stage()?;
        let names = layer_names(&self.plan.settings().layers);
        let mut log = LossLog::create(staged.partial(&self.files.curve_csv()), &names)?;
        if let Some(c) = &self.checkpoints {
            log = c.log(log)?;
        }
        let snaps = self.files.snapshots.clone();
        let snapshot_at = move |it: usize| snaps.contains(&it);
        let mut live = LivePage::new(report_path(&self.files.output));
        // A resumed run's report shows its whole curve.
        live.state
            .rows
            .extend(self.checkpoints.iter().flat_map(|c| c.report_rows()));
        let render = |st: &_| report::learn_page(&self.plan, &self.files, &[], st);
        let mut lo = LiveObserver {
            page: &mut live,
            render: &render,
            error: None,
            inner: observer,
        };
        let mut fo = FileObserver {
            staged: &mut staged,
            output: &self.files.output,
            log: Some(log),
            snapshot_at: &snapshot_at,
            checkpoints: self.checkpoints.as_ref(),
            stopping: false,
            error: None,
            inner: &mut lo,
        };
        let start = self.checkpoints.as_ref().and_then(|c| c.start.as_ref());
        let outcome = self.plan.run_from(net, &mut fo, start)?;
        let failed = fo.error.take();
        drop(fo);
        if let Some(e) = failed.or(lo.error.take()) {
            return Err(e);
        }
        outcome.target.save(staged.partial(&self.files.profile()))?;
        outcome
            .image
            .save_with_notes(staged.partial(&self.files.output), &outcome.carried.notes())?;
        crate::plot::learning_curve(
            &outcome.log,
            staged.partial(&self.files.curve_png()),
            "stylelearn learn: style loss",
        )?;
        let snaps: Vec<usize> = (1..=outcome.iters).filter(|&i| snapshot_at(i)).collect();
        live.end(outcome.stopped, outcome.iters, outcome.evals);
        let page = report::learn_page(&self.plan, &self.files, &snaps, &live.state);
        write_report(&mut staged, &self.files.output, &page)?;
        let files = staged.commit()?;
        live.finish();
        if let Some(c) = &self.checkpoints
            && !outcome.stopped
        {
            c.finish()?;
        }
        Ok(Written { outcome, files })
    }
}

/// A style profile (the dataset's statistics only) whose inputs and output have been checked.
pub struct ProfileJob {
    pub plan: LearnPlan,
    pub output: PathBuf,
    outputs: OutputSet,
}

impl ProfileJob {
    pub fn new(settings: LearnSettings, output: PathBuf) -> Result<Self> {
        let plan = LearnPlan::new(settings)?;
        let mut outputs = OutputSet::new();
        outputs.add(output.clone(), "the style profile");
        outputs.check(&plan.inputs())?;
        Ok(Self {
            plan,
            output,
            outputs,
        })
    }

    pub fn run(&self, net: &Vgg19, observer: &mut dyn Observer) -> Result<Written<StyleTarget>> {
        let mut staged = self.outputs.stage()?;
        let (target, _) = self.plan.target(net, observer)?;
        target.save(staged.partial(&self.output))?;
        let files = staged.commit()?;
        Ok(Written {
            outcome: target,
            files,
        })
    }
}
