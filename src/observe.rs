//! How a running job talks to its front end: an [`Observer`] receives every stage, every
//! dataset image and every optimisation step, and may ask the run to stop.
//!
//! The engine prints nothing and handles no signals. A command line draws progress bars from
//! these calls and turns Ctrl-C into [`Control::Stop`]; a web page could stream the records.
use std::path::PathBuf;
use std::sync::Arc;

use crate::color;
use crate::error::Error;
use crate::image_io::Rgb;
use crate::loss::Breakdown;

/// Whether the run goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    /// Stop after this step: the run returns the image reached so far, marked as stopped.
    Stop,
}

/// What a stage does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageKind {
    /// Reading the dataset's images into style statistics (`items` images).
    ReadDataset,
    /// Reading the dataset's images again to measure their colours and detail without the
    /// vignette they share (`items` images; [`crate::vignette`]).
    RemoveVignette,
    /// Optimising an image (`items` iterations).
    Optimise,
    /// Finishing a transfer's result at its size, when that is not the size optimised at
    /// (`width`×`height` the result's, [`crate::transfer::ResultSize`]; no items).
    Finish,
}

/// A stage of a run, announced before it starts.
#[derive(Clone, Debug)]
pub struct Stage {
    pub kind: StageKind,
    /// Index among the run's optimisation stages (pyramid scale); 0 for the dataset.
    pub index: usize,
    /// Number of optimisation stages of the run.
    pub count: usize,
    /// Images to read, or iterations to run.
    pub items: usize,
    /// Size of the optimised image (0×0 for the dataset stage; the result's when finishing).
    pub width: usize,
    pub height: usize,
}

/// One optimisation step, handed to the observer after it is taken.
pub struct Step<'a> {
    /// Stage index (pyramid scale).
    pub stage: usize,
    /// Iteration, 1-based and counted across stages.
    pub iter: usize,
    /// Iteration within this stage, 1-based.
    pub stage_iter: usize,
    /// Loss evaluations so far, across stages.
    pub evals: usize,
    /// The loss at the latest evaluation.
    pub loss: &'a Breakdown,
    /// The style layers (indices into [`crate::vgg::RELU_LAYERS`]) of `loss.per_layer`.
    pub style_layers: &'a [usize],
    pub(crate) pixels: &'a [f32],
    pub width: usize,
    pub height: usize,
    pub(crate) finish: Finish<'a>,
    pub(crate) carried: Option<&'a crate::carried::Carried>,
}

impl Step<'_> {
    /// The current image as it would be saved (clipped to [0, 1], colours restored when the
    /// run keeps the photo's colours, the style's fine detail given when the run matches it).
    pub fn image(&self) -> Rgb {
        finish_image(self.pixels, self.width, self.height, self.finish)
    }

    /// What the image carries beside its pixels when saved, as the run's final image does
    /// (a learned image's, [`crate::carried`]); `None` for a transfer's result.
    pub fn carried(&self) -> Option<&crate::carried::Carried> {
        self.carried
    }
}

/// Something the user should know that is not an error of the run: a skipped dataset image,
/// a batch's progress through its photos.
#[derive(Clone, Debug)]
pub enum Notice {
    Skipped {
        path: std::path::PathBuf,
        reason: String,
    },
    /// `lossy` of the `count` dataset images read are in a lossy format (JPEG, lossy WebP): its
    /// noise hides a posterised filter's exact colours, so their palette is estimated
    /// ([`crate::posterise::Swatches::of_lossy`]) and counts as posterised only when several
    /// images show it ([`crate::posterise::Swatches::looks_posterised`]); their blocks, if
    /// pixelated, are found by their contrast ([`crate::pixelate::Seen::of_lossy`]).
    LossyImages { lossy: usize, count: usize },
    /// A batch starts a photo (`index` counts from 0, of `count` photos).
    PhotoStarted {
        index: usize,
        count: usize,
        photo: PathBuf,
        output: PathBuf,
    },
    /// A batch finished a photo and published its files.
    PhotoDone {
        index: usize,
        count: usize,
        photo: PathBuf,
        files: Vec<PathBuf>,
        seconds: f64,
    },
    /// A batch leaves out a photo whose output already exists (a rerun).
    PhotoSkipped {
        index: usize,
        count: usize,
        photo: PathBuf,
        output: PathBuf,
    },
    /// A photo of a batch failed: nothing of it was written, and the batch goes on.
    PhotoFailed {
        index: usize,
        count: usize,
        photo: PathBuf,
        error: Arc<Error>,
    },
}

/// Receives a run's progress. Every method has a default that does nothing.
pub trait Observer {
    /// A stage starts.
    fn stage(&mut self, _stage: &Stage) {}
    /// An image of the dataset was read (`done` of `total`).
    fn item(&mut self, _done: usize, _total: usize) -> Control {
        Control::Continue
    }
    /// An optimisation step was taken.
    fn step(&mut self, _step: &Step<'_>) -> Control {
        Control::Continue
    }
    /// A notice.
    fn notice(&mut self, _notice: &Notice) {}
    /// Whether the run should hand its resumable state to [`Observer::checkpoint`] after
    /// this step (asked after [`Observer::step`], also when that asked to stop).
    fn wants_checkpoint(&mut self, _step: &Step<'_>) -> bool {
        false
    }
    /// The run's resumable state after a step, when [`Observer::wants_checkpoint`] said so.
    fn checkpoint(&mut self, _state: &RunState) -> Control {
        Control::Continue
    }
}

/// Where a run stands after a step: enough to continue it later from there (with the loss
/// rows so far, which the observer keeps). A plan's `run_from` takes it back as a [`Start`].
#[derive(Clone, Debug, PartialEq)]
pub struct RunState {
    /// Stage (pyramid scale) index.
    pub stage: usize,
    /// Iterations done, across stages, and within this stage.
    pub iter: usize,
    pub stage_iter: usize,
    /// Loss evaluations done, across stages, and within this stage.
    pub evals: usize,
    pub stage_evals: usize,
    /// The optimised image as it is (planar RGB, not clipped).
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<f32>,
    /// The optimiser's state when it keeps one worth saving (Adam); `None`: it starts afresh.
    pub optimizer: Option<crate::optim::OptimState>,
}

/// Where a run starts when it continues an earlier one: its state and its loss rows so far.
#[derive(Clone, Debug)]
pub struct Start {
    pub state: RunState,
    pub rows: Vec<crate::log::LogRow>,
}

/// An observer that watches nothing.
pub struct Silent;
impl Observer for Silent {}

/// How optimised pixels become the saved image.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Finish<'a> {
    /// For a run optimised on luminance: how it gets its colours back.
    pub recolour: Option<Recolour<'a>>,
    /// The style's fine detail, which the result's detail bands take
    /// ([`crate::detail::Detail::apply`]).
    pub detail: Option<&'a crate::detail::Detail>,
    /// How many times the detail is matched (one or more): each pass brings the bands closer
    /// to the style's, as they leak into each other when split again.
    pub detail_passes: usize,
    /// The style's exact colours, which every pixel of the result takes
    /// ([`crate::posterise::Swatches::apply`]).
    pub swatches: Option<&'a crate::posterise::Swatches>,
    /// The style's blocks, over which the result is averaged before it is posterised
    /// ([`crate::pixelate::Blocks::apply`]).
    pub blocks: Option<&'a crate::pixelate::Blocks>,
}

/// How a run optimised on luminance gets its colours back ([`color::recolour`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Recolour<'a> {
    /// The photo (its colours possibly adapted) whose chroma the result takes.
    pub photo: &'a Rgb,
    /// The result's tones also become the photo's, above this scale (σ pixels; see
    /// [`color::recolour`]).
    pub tones: Option<f32>,
}

/// Optimised pixels → a saveable image: clipped to [0, 1], then the style's detail given
/// (with `finish.detail`, `finish.detail_passes` times), then the colours restored (with
/// `finish.recolour`; its tones are coarser than the detail bands, so each keeps what the
/// other gave), then averaged over the style's blocks (with `finish.blocks`), then posterised
/// to the style's swatches (with `finish.swatches`), which decide the final colours: a block's
/// mean takes one swatch, so the blocks stay whole.
pub(crate) fn finish_image(x: &[f32], w: usize, h: usize, finish: Finish) -> Rgb {
    let img = Rgb::from_planar(w, h, x.iter().map(|v| v.clamp(0.0, 1.0)).collect());
    let img = match finish.detail {
        Some(d) => (1..finish.detail_passes).fold(d.apply(&img), |img, _| d.apply(&img)),
        None => img,
    };
    let img = match finish.recolour {
        Some(r) => color::recolour(&img, r.photo, r.tones),
        None => img,
    };
    let img = match finish.blocks {
        Some(b) => b.apply(&img),
        None => img,
    };
    match finish.swatches {
        Some(s) => s.apply(&img),
        None => img,
    }
}
