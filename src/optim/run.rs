//! The optimisation loop shared by `transfer` and `learn`: steps an optimiser on an
//! [`ImageLoss`], shows progress, calls back after every step (snapshots, logs), and stops
//! cleanly on Ctrl-C so the caller can write the latest image.
use std::time::Instant;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use super::{Adam, AdamConfig, Lbfgs, LbfgsConfig, Optimizer};
use crate::loss::{Breakdown, ImageLoss, interrupted};

/// Which optimiser to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OptimizerKind {
    /// L-BFGS with a strong-Wolfe line search (default: fewest evaluations on style losses).
    Lbfgs,
    /// Adam.
    Adam,
}

impl OptimizerKind {
    /// A fresh optimiser; `lr` is Adam's learning rate (RGB units per step) or L-BFGS's
    /// initial step scale.
    pub fn build(self, lr: Option<f64>) -> Box<dyn Optimizer> {
        match self {
            OptimizerKind::Lbfgs => {
                let mut c = LbfgsConfig::default();
                if let Some(lr) = lr {
                    c.initial_step = lr;
                }
                Box::new(Lbfgs::new(c))
            }
            OptimizerKind::Adam => {
                let mut c = AdamConfig::default();
                if let Some(lr) = lr {
                    c.lr = lr;
                }
                Box::new(Adam::new(c))
            }
        }
    }
}

/// What the loop does besides optimising.
pub trait Hooks {
    /// Before step `iter` (1-based); may change the loss (e.g. a new random target subset),
    /// and then returns true so the optimiser drops what it cached about the old loss.
    fn before_step(&mut self, _iter: usize, _loss: &mut ImageLoss) -> Result<bool> {
        Ok(false)
    }
    /// After step `iter` with the image `x` and the latest loss breakdown.
    fn after_step(
        &mut self,
        _iter: usize,
        _evals: usize,
        _b: &Breakdown,
        _x: &[f32],
    ) -> Result<()> {
        Ok(())
    }
}

/// How a loop ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Steps completed.
    pub iters: usize,
    /// Loss evaluations (forward + backward passes).
    pub evals: usize,
    /// Stopped by Ctrl-C.
    pub interrupted: bool,
    /// The optimiser reported convergence before `iters` steps.
    pub converged: bool,
    pub seconds: f64,
}

/// A progress bar (hidden when `quiet`).
pub fn progress_bar(len: usize, label: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:25}] {pos}/{len} {msg} ({elapsed} elapsed, ETA {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_prefix(label.to_string());
    pb
}

/// Runs `iters` optimiser steps on `loss` from `x` (updated in place).
pub fn run(
    loss: &mut ImageLoss,
    x: &mut Vec<f32>,
    opt: &mut dyn Optimizer,
    iters: usize,
    pb: &ProgressBar,
    hooks: &mut dyn Hooks,
) -> Result<Outcome> {
    let start = Instant::now();
    let mut out = Outcome {
        iters: 0,
        evals: 0,
        interrupted: false,
        converged: false,
        seconds: 0.0,
    };
    for iter in 1..=iters {
        if interrupted() {
            out.interrupted = true;
            break;
        }
        if hooks.before_step(iter, loss)? {
            opt.objective_changed();
        }
        let info = opt.step(x, loss)?;
        out.iters = iter;
        out.evals += info.evals;
        let b = loss.last.clone();
        pb.set_message(format!(
            "loss {:.4e} (content {:.3e}, style {:.3e}, tv {:.2e})",
            b.total, b.content, b.style, b.tv
        ));
        pb.inc(1);
        hooks.after_step(iter, out.evals, &b, x)?;
        if info.converged {
            out.converged = true;
            break;
        }
    }
    if interrupted() {
        out.interrupted = true;
    }
    out.seconds = start.elapsed().as_secs_f64();
    Ok(out)
}
