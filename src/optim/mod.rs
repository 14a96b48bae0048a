//! Optimisers over a flat parameter vector: L-BFGS with a strong-Wolfe line search, and Adam.
//!
//! Both optimisers are deterministic (no randomness, no threads): the same inputs give the
//! same bits. Reductions (dot products, norms) are accumulated in `f64`; parameters, gradients
//! and stored history stay in `f32`.
//!
//! Non-finite values: a NaN/inf loss or gradient at the point a step starts from is an error
//! (`Err`), for both optimisers. L-BFGS additionally treats a non-finite value at a
//! *line-search trial point* as an overshoot and shrinks the step (see [`lbfgs`]). Every call to
//! `step` does a bounded number of evaluations, so nothing loops forever.

pub mod adam;
pub mod lbfgs;

pub use adam::{Adam, AdamConfig};
pub use lbfgs::{Lbfgs, LbfgsConfig};

/// The function being minimised: returns (loss, gradient) at x. Errors (e.g. NaN detected,
/// interrupted) propagate.
pub trait Objective {
    fn eval(&mut self, x: &[f32]) -> anyhow::Result<(f64, Vec<f32>)>;
}

/// Any `FnMut(&[f32]) -> Result<(f64, Vec<f32>)>` closure is an objective.
impl<F> Objective for F
where
    F: FnMut(&[f32]) -> anyhow::Result<(f64, Vec<f32>)>,
{
    fn eval(&mut self, x: &[f32]) -> anyhow::Result<(f64, Vec<f32>)> {
        self(x)
    }
}

/// What one outer iteration did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInfo {
    /// Loss at the new x when it is known (L-BFGS), otherwise at the old x (Adam, whose
    /// update is taken without evaluating the new point).
    pub loss: f64,
    /// Objective evaluations used by this step.
    pub evals: usize,
    /// The optimiser believes it cannot make further progress (gradient or change below
    /// tolerance, or no decrease found along steepest descent).
    pub converged: bool,
}

/// Common interface so the caller's loop is the same for both optimisers.
pub trait Optimizer {
    /// One outer iteration. Updates x in place.
    fn step(&mut self, x: &mut Vec<f32>, f: &mut dyn Objective) -> anyhow::Result<StepInfo>;
    /// Forget all state (history, moments, cached evaluations), e.g. when the caller changes
    /// the size of x between pyramid scales. A change of `x.len()` also triggers this
    /// automatically.
    fn reset(&mut self);
    /// The objective itself changed (e.g. a new random subset of style targets) while x did
    /// not: drop any cached (loss, gradient) so the next step re-evaluates at x. Curvature
    /// history is kept. No-op for optimisers that cache nothing (Adam).
    fn objective_changed(&mut self) {}
    /// The state worth keeping to continue later exactly where this optimiser is (Adam's
    /// moments and step count); `None` when it keeps none worth saving (L-BFGS: its history
    /// is rebuilt within a few steps after a restart).
    fn save_state(&self) -> Option<OptimState> {
        None
    }
    /// Continues from a state [`Optimizer::save_state`] gave for a vector of length `n`.
    /// Optimisers that save none ignore it (they start afresh).
    fn load_state(&mut self, _state: &OptimState, _n: usize) -> anyhow::Result<()> {
        Ok(())
    }
}

/// An optimiser's saved state: a step counter and named vectors (e.g. Adam's `m` and `v`).
#[derive(Debug, Clone, PartialEq)]
pub struct OptimState {
    pub steps: u64,
    pub vectors: Vec<(String, Vec<f32>)>,
}

/// Evaluate and check the gradient length.
pub(crate) fn eval_checked(f: &mut dyn Objective, x: &[f32]) -> anyhow::Result<(f64, Vec<f32>)> {
    let (loss, g) = f.eval(x)?;
    anyhow::ensure!(
        g.len() == x.len(),
        "objective returned a gradient of length {} for x of length {}",
        g.len(),
        x.len()
    );
    Ok((loss, g))
}

/// True when the loss and every gradient entry are finite.
pub(crate) fn all_finite(loss: f64, g: &[f32]) -> bool {
    loss.is_finite() && g.iter().all(|v| v.is_finite())
}

/// Dot product of two f32 slices, accumulated in f64.
pub(crate) fn dot32(a: &[f32], b: &[f32]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// Dot product of an f32 and an f64 slice, accumulated in f64.
pub(crate) fn dot_mixed(a: &[f32], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y).sum()
}

/// max |v_i| (0 for an empty slice).
pub(crate) fn max_abs32(v: &[f32]) -> f64 {
    v.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs()))
}

/// Which optimiser to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    /// L-BFGS with a strong-Wolfe line search (fewest evaluations on style losses).
    Lbfgs,
    /// Adam.
    Adam,
}

impl OptimizerKind {
    /// Every kind, in the order front ends list them.
    pub const ALL: [OptimizerKind; 2] = [OptimizerKind::Lbfgs, OptimizerKind::Adam];

    /// The kind's short name (`lbfgs`, `adam`).
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Lbfgs => "lbfgs",
            OptimizerKind::Adam => "adam",
        }
    }

    /// A fresh optimiser; `step` is Adam's learning rate (RGB units per step) or L-BFGS's
    /// initial step scale, `None` for the optimiser's default.
    pub fn build(self, step: Option<f64>) -> Box<dyn Optimizer> {
        match self {
            OptimizerKind::Lbfgs => {
                let mut c = LbfgsConfig::default();
                if let Some(s) = step {
                    c.initial_step = s;
                }
                Box::new(Lbfgs::new(c))
            }
            OptimizerKind::Adam => {
                let mut c = AdamConfig::default();
                if let Some(s) = step {
                    c.lr = s;
                }
                Box::new(Adam::new(c))
            }
        }
    }
}

impl std::str::FromStr for OptimizerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown optimiser '{s}': expected lbfgs or adam"))
    }
}
