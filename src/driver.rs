//! The optimisation loop shared by `transfer` and `learn`: steps an optimiser on an
//! [`ImageLoss`], hands every step to the [`Observer`], and stops when it asks.
use std::time::Instant;

use crate::error::{Error, Result};
use crate::loss::ImageLoss;
use crate::observe::{Control, Finish, Observer, RunState, Step};
use crate::optim::Optimizer;

/// Where a stage sits in its run, for the step records.
pub(crate) struct Position<'a> {
    pub stage: usize,
    /// Iterations and evaluations of the earlier stages.
    pub iters_before: usize,
    pub evals_before: usize,
    pub style_layers: &'a [usize],
    /// How the saved image gets the photo's colours back, if it does.
    pub finish: Finish<'a>,
    /// What the saved image carries beside its pixels (a learned image's).
    pub carried: Option<&'a crate::carried::Carried>,
    /// The state this stage continues from (its image is already in `x`), if it resumes.
    pub resume: Option<&'a RunState>,
}

/// How a stage ended.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// Steps completed.
    pub iters: usize,
    /// Loss evaluations (forward + backward passes).
    pub evals: usize,
    /// The observer asked to stop.
    pub stopped: bool,
    pub seconds: f64,
}

/// Something that may change the loss before each step (the stochastic dataset sample);
/// returns true when it did, so the optimiser forgets what it cached about the old loss.
pub(crate) type BeforeStep<'a> = dyn FnMut(&mut ImageLoss) -> bool + 'a;

/// Runs the stage's optimiser steps up to `iters` on `loss` from `x` (updated in place); a
/// resumed stage counts on from its saved iteration, with the optimiser's saved state.
pub(crate) fn optimise(
    loss: &mut ImageLoss,
    x: &mut Vec<f32>,
    opt: &mut dyn Optimizer,
    iters: usize,
    at: &Position,
    observer: &mut dyn Observer,
    mut before_step: Option<&mut BeforeStep>,
) -> Result<Outcome> {
    let start = Instant::now();
    let mut out = Outcome {
        iters: 0,
        evals: 0,
        stopped: false,
        seconds: 0.0,
    };
    if let Some(r) = at.resume {
        if let Some(o) = &r.optimizer {
            opt.load_state(o, x.len()).map_err(engine_error)?;
        }
        out.iters = r.stage_iter;
        out.evals = r.stage_evals;
    }
    for iter in out.iters + 1..=iters {
        if let Some(f) = before_step.as_deref_mut()
            && f(loss)
        {
            opt.objective_changed();
        }
        let info = opt.step(x, loss).map_err(engine_error)?;
        out.iters = iter;
        out.evals += info.evals;
        let step = Step {
            stage: at.stage,
            iter: at.iters_before + iter,
            stage_iter: iter,
            evals: at.evals_before + out.evals,
            loss: &loss.last,
            style_layers: at.style_layers,
            pixels: x,
            width: loss.width,
            height: loss.height,
            finish: at.finish,
            carried: at.carried,
        };
        let mut control = observer.step(&step);
        if observer.wants_checkpoint(&step) {
            let state = RunState {
                stage: at.stage,
                iter: step.iter,
                stage_iter: iter,
                evals: step.evals,
                stage_evals: out.evals,
                width: loss.width,
                height: loss.height,
                pixels: x.clone(),
                optimizer: opt.save_state(),
            };
            if observer.checkpoint(&state) == Control::Stop {
                control = Control::Stop;
            }
        }
        if control == Control::Stop {
            out.stopped = true;
            break;
        }
        if info.converged {
            break;
        }
    }
    out.seconds = start.elapsed().as_secs_f64();
    Ok(out)
}

/// An optimiser error: the loss's own typed error when it is one, else the error as it is.
fn engine_error(e: anyhow::Error) -> Error {
    match e.downcast::<Error>() {
        Ok(e) => e,
        Err(e) => Error::Other(e),
    }
}
