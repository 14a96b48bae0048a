//! L-BFGS (Nocedal & Wright, Alg. 7.4/7.5) with a strong-Wolfe line search
//! (N&W Alg. 3.5/3.6, bracketing + zoom with safeguarded cubic interpolation, in the style of
//! PyTorch's `_strong_wolfe`).
//!
//! * Each [`Lbfgs::step`] is one iteration: one search direction plus one line search (at most
//!   `max_evals_per_step` evaluations), plus one evaluation at the start point when no valid
//!   cached value exists (first step, after a reset, or when the caller modified x since the
//!   last step, e.g. by clamping).
//! * Direction: two-loop recursion with initial Hessian H0 = γI, γ = sᵀy / yᵀy of the newest
//!   pair. A pair is stored only if sᵀy > 1e-10·‖s‖‖y‖ (curvature condition, scale-free).
//!   If the direction is not a descent direction (gᵀd ≥ 0 or non-finite) the history is
//!   cleared and steepest descent is used.
//! * Initial trial step: with an empty history (first iteration, after any reset) the direction
//!   is -g and the trial step is `t = initial_step · min(1, 1/‖g‖₁)`, as in PyTorch. This
//!   keeps the first move bounded (‖Δx‖₁ ≤ initial_step) whatever the scale of the loss; the
//!   line search extrapolates (up to ×10 per evaluation) when that is too short. Otherwise the
//!   trial step is `initial_step` (1.0 by default, the natural quasi-Newton step).
//! * Non-finite values: a NaN/inf loss or gradient at the start point of a step is an `Err`.
//!   At a line-search trial point it is treated as "too far": the point becomes the upper
//!   end of the bracket and the step is shrunk by bisection. If the line search finds no
//!   decrease, x is left unchanged and the history is cleared; if that happens with an empty
//!   history already (steepest descent failed), the step reports `converged`.

use super::{
    Objective, Optimizer, StepInfo, all_finite, dot_mixed, dot32, eval_checked, max_abs32,
};
use std::collections::VecDeque;

/// L-BFGS hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsConfig {
    /// Number of (s, y) pairs kept (default 10).
    pub history: usize,
    /// Maximum objective evaluations of one line search (default 25).
    pub max_evals_per_step: usize,
    /// Converged when max |g| ≤ this (default 1e-9).
    pub tolerance_grad: f64,
    /// Converged when the loss change or max |Δx| of a step is below this (default 1e-12);
    /// also ends the zoom when the bracket width × max |d| falls below it.
    pub tolerance_change: f64,
    /// Trial step of the line search (scaled by min(1, 1/‖g‖₁) when the history is empty).
    pub initial_step: f64,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        Self {
            history: 10,
            max_evals_per_step: 25,
            tolerance_grad: 1e-9,
            tolerance_change: 1e-12,
            initial_step: 1.0,
        }
    }
}

/// Strong-Wolfe constants.
const C1: f64 = 1e-4;
const C2: f64 = 0.9;

struct Pair {
    s: Vec<f32>,
    y: Vec<f32>,
    /// 1 / sᵀy
    rho: f64,
    /// yᵀy
    yy: f64,
}

/// (loss, gradient) known at `x`.
struct Cached {
    x: Vec<f32>,
    f: f64,
    g: Vec<f32>,
}

/// L-BFGS state.
pub struct Lbfgs {
    pub config: LbfgsConfig,
    pairs: VecDeque<Pair>,
    cache: Option<Cached>,
    iterations: usize,
    total_evals: usize,
}

impl Lbfgs {
    pub fn new(config: LbfgsConfig) -> Self {
        Self {
            config,
            pairs: VecDeque::new(),
            cache: None,
            iterations: 0,
            total_evals: 0,
        }
    }

    /// Clear the history and the cached evaluation (the next step re-evaluates at x).
    pub fn reset(&mut self) {
        self.pairs.clear();
        self.cache = None;
    }

    /// Number of (s, y) pairs currently stored.
    pub fn history_len(&self) -> usize {
        self.pairs.len()
    }

    /// Iterations (calls to `step` that computed a direction) over the optimiser's lifetime.
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// Objective evaluations over the optimiser's lifetime.
    pub fn total_evals(&self) -> usize {
        self.total_evals
    }

    /// Two-loop recursion: returns d = -H g (f64).
    fn direction(&self, g: &[f32]) -> Vec<f64> {
        let mut q: Vec<f64> = g.iter().map(|&v| v as f64).collect();
        let mut alpha = vec![0.0f64; self.pairs.len()];
        for (k, p) in self.pairs.iter().enumerate().rev() {
            let a = p.rho * dot_mixed(&p.s, &q);
            alpha[k] = a;
            for (qi, &yi) in q.iter_mut().zip(&p.y) {
                *qi -= a * yi as f64;
            }
        }
        if let Some(p) = self.pairs.back() {
            let gamma = 1.0 / (p.rho * p.yy); // sᵀy / yᵀy
            for qi in q.iter_mut() {
                *qi *= gamma;
            }
        }
        for (k, p) in self.pairs.iter().enumerate() {
            let b = p.rho * dot_mixed(&p.y, &q);
            let c = alpha[k] - b;
            for (qi, &si) in q.iter_mut().zip(&p.s) {
                *qi += c * si as f64;
            }
        }
        for qi in q.iter_mut() {
            *qi = -*qi;
        }
        q
    }

    fn push_pair(&mut self, s: Vec<f32>, y: Vec<f32>) -> bool {
        let sy = dot32(&s, &y);
        let ss = dot32(&s, &s);
        let yy = dot32(&y, &y);
        let curvature_ok = sy.is_finite() && yy.is_finite() && sy > 1e-10 * (ss * yy).sqrt();
        if !curvature_ok {
            return false;
        }
        if self.config.history == 0 {
            return false;
        }
        while self.pairs.len() >= self.config.history {
            self.pairs.pop_front();
        }
        self.pairs.push_back(Pair {
            s,
            y,
            rho: 1.0 / sy,
            yy,
        });
        true
    }
}

impl Default for Lbfgs {
    fn default() -> Self {
        Self::new(LbfgsConfig::default())
    }
}

impl Optimizer for Lbfgs {
    /// One L-BFGS iteration. `StepInfo::loss` is the loss at the new x (the old x when no
    /// decrease was found or the start point already met `tolerance_grad`).
    fn step(&mut self, x: &mut Vec<f32>, f: &mut dyn Objective) -> anyhow::Result<StepInfo> {
        let n = x.len();
        if self.cache.as_ref().is_some_and(|c| c.x.len() != n)
            || self.pairs.front().is_some_and(|p| p.s.len() != n)
        {
            self.reset();
        }
        let mut evals = 0;
        let cache = match self.cache.take() {
            Some(c) if c.x == *x => c,
            _ => {
                let (f0, g0) = eval_checked(f, x)?;
                evals += 1;
                self.total_evals += 1;
                anyhow::ensure!(
                    all_finite(f0, &g0),
                    "L-BFGS: non-finite loss ({f0}) or gradient at the current point"
                );
                Cached {
                    x: x.clone(),
                    f: f0,
                    g: g0,
                }
            }
        };
        let (f0, g0) = (cache.f, &cache.g);
        let tol_grad = self.config.tolerance_grad;
        if max_abs32(g0) <= tol_grad {
            let info = StepInfo {
                loss: f0,
                evals,
                converged: true,
            };
            self.cache = Some(cache);
            return Ok(info);
        }
        self.iterations += 1;

        let mut d = self.direction(g0);
        let mut gtd = dot_mixed(g0, &d);
        let descent = gtd.is_finite() && gtd < 0.0;
        if !descent && !self.pairs.is_empty() {
            self.pairs.clear();
            d = g0.iter().map(|&v| -(v as f64)).collect();
            gtd = dot_mixed(g0, &d);
        }
        let t_init = if self.pairs.is_empty() {
            let g_l1: f64 = g0.iter().map(|&v| (v as f64).abs()).sum();
            self.config.initial_step * (1.0 / g_l1).min(1.0)
        } else {
            self.config.initial_step
        };
        let had_history = !self.pairs.is_empty();

        let ls = strong_wolfe(
            f,
            &cache.x,
            f0,
            &d,
            gtd,
            t_init,
            self.config.max_evals_per_step.max(1),
            self.config.tolerance_change,
        )?;
        evals += ls.evals;
        self.total_evals += ls.evals;

        let Some(best) = ls.best else {
            // No decrease along d: stay at x, drop the (apparently misleading) history.
            self.pairs.clear();
            let info = StepInfo {
                loss: f0,
                evals,
                converged: !had_history,
            };
            self.cache = Some(cache);
            return Ok(info);
        };

        let x_new = trial_point(&cache.x, &d, best.t);
        let s: Vec<f32> = x_new.iter().zip(&cache.x).map(|(&a, &b)| a - b).collect();
        let y: Vec<f32> = best.g.iter().zip(g0).map(|(&a, &b)| a - b).collect();
        let max_dx = max_abs32(&s);
        let df = (best.f - f0).abs();
        self.push_pair(s, y);

        let tol_change = self.config.tolerance_change;
        let converged = max_abs32(&best.g) <= tol_grad || max_dx <= tol_change || df < tol_change;
        x.clone_from(&x_new);
        self.cache = Some(Cached {
            x: x_new,
            f: best.f,
            g: best.g,
        });
        Ok(StepInfo {
            loss: best.f,
            evals,
            converged,
        })
    }

    fn reset(&mut self) {
        Lbfgs::reset(self);
    }

    fn objective_changed(&mut self) {
        self.cache = None;
    }
}

/// x0 + t·d, rounded to f32. Deterministic, so recomputing a trial point gives the same bits.
fn trial_point(x0: &[f32], d: &[f64], t: f64) -> Vec<f32> {
    x0.iter()
        .zip(d)
        .map(|(&x, &di)| (x as f64 + t * di) as f32)
        .collect()
}

/// A point on the line x0 + t·d. `g` is `None` for the start point (t = 0) and for
/// non-finite points (f = +inf, gtd = NaN).
struct LsPoint {
    t: f64,
    f: f64,
    gtd: f64,
    g: Option<Vec<f32>>,
}

/// Accepted line-search point (t > 0, f < f0).
pub(crate) struct LsBest {
    pub t: f64,
    pub f: f64,
    pub g: Vec<f32>,
    /// The point satisfies the strong Wolfe conditions.
    #[allow(dead_code)] // read by the tests
    pub wolfe: bool,
}

pub(crate) struct LsResult {
    /// `None` when no point with a lower loss than the start was found.
    pub best: Option<LsBest>,
    pub evals: usize,
}

/// Minimiser of the cubic interpolating (t1, f1, g1), (t2, f2, g2), clamped to `bounds`
/// (default: the interval between t1 and t2). Falls back to the middle of the bounds when the
/// cubic has no minimiser or the data is degenerate.
fn cubic_interpolate(
    t1: f64,
    f1: f64,
    g1: f64,
    t2: f64,
    f2: f64,
    g2: f64,
    bounds: Option<(f64, f64)>,
) -> f64 {
    let (lo, hi) = bounds.unwrap_or(if t1 <= t2 { (t1, t2) } else { (t2, t1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (t1 - t2);
    let d2sq = d1 * d1 - g1 * g2;
    if d2sq >= 0.0 {
        let d2 = d2sq.sqrt();
        let m = if t1 <= t2 {
            t2 - (t2 - t1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            t1 - (t1 - t2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        if m.is_finite() {
            return m.max(lo).min(hi);
        }
    }
    0.5 * (lo + hi)
}

/// Strong-Wolfe line search along d from x0 (loss f0, directional derivative gtd0 < 0),
/// starting with step `t`. Uses at most `max_evals` evaluations. Returns the point with the
/// lowest loss found (if lower than f0); it satisfies the strong Wolfe conditions with
/// c1 = 1e-4, c2 = 0.9 unless the budget ran out or the bracket collapsed (`wolfe` says which).
#[allow(clippy::too_many_arguments)]
pub(crate) fn strong_wolfe(
    f: &mut dyn Objective,
    x0: &[f32],
    f0: f64,
    d: &[f64],
    gtd0: f64,
    mut t: f64,
    max_evals: usize,
    tolerance_change: f64,
) -> anyhow::Result<LsResult> {
    let d_norm = d.iter().fold(0.0f64, |m, &v| m.max(v.abs()));
    let mut evals = 0usize;
    let mut eval_at = |t: f64, evals: &mut usize| -> anyhow::Result<LsPoint> {
        let xt = trial_point(x0, d, t);
        let (ft, gt) = eval_checked(f, &xt)?;
        *evals += 1;
        if !all_finite(ft, &gt) {
            return Ok(LsPoint {
                t,
                f: f64::INFINITY,
                gtd: f64::NAN,
                g: None,
            });
        }
        let gtd = dot_mixed(&gt, d);
        Ok(LsPoint {
            t,
            f: ft,
            gtd,
            g: Some(gt),
        })
    };
    let armijo = |p: &LsPoint| p.f <= f0 + C1 * p.t * gtd0;
    let curvature = |p: &LsPoint| p.gtd.abs() <= -C2 * gtd0;
    let finish = |p: LsPoint, wolfe: bool, evals: usize| -> LsResult {
        let best = match p.g {
            Some(g) if p.t > 0.0 && p.f < f0 => Some(LsBest {
                t: p.t,
                f: p.f,
                g,
                wolfe,
            }),
            _ => None,
        };
        LsResult { best, evals }
    };

    // Bracketing phase (N&W Alg. 3.5).
    let mut prev = LsPoint {
        t: 0.0,
        f: f0,
        gtd: gtd0,
        g: None,
    };
    // (low, high): low has the lowest loss and satisfies Armijo; the minimiser lies between.
    let (mut lo, mut hi);
    loop {
        let p = eval_at(t, &mut evals)?;
        if !armijo(&p) || (evals > 1 && p.f >= prev.f) {
            // covers non-finite p (f = +inf)
            (lo, hi) = (prev, p);
            break;
        }
        if curvature(&p) {
            return Ok(finish(p, true, evals));
        }
        if p.gtd >= 0.0 {
            (lo, hi) = (p, prev);
            break;
        }
        if evals >= max_evals {
            return Ok(finish(p, false, evals));
        }
        // Extrapolate: the minimiser of the cubic, kept within [t + 0.01(t - t_prev), 10t].
        let min_step = t + 0.01 * (t - prev.t);
        let max_step = 10.0 * t;
        let t_next = cubic_interpolate(
            prev.t,
            prev.f,
            prev.gtd,
            p.t,
            p.f,
            p.gtd,
            Some((min_step, max_step)),
        );
        prev = p;
        t = t_next;
    }

    // Zoom phase (N&W Alg. 3.6, with PyTorch's insufficient-progress safeguard).
    let mut insuf_progress = false;
    while evals < max_evals {
        let (a, b) = (lo.t.min(hi.t), lo.t.max(hi.t));
        if (b - a) * d_norm < tolerance_change || b - a <= f64::EPSILON * b {
            break;
        }
        let mut t = if hi.g.is_some() || hi.t == 0.0 {
            cubic_interpolate(lo.t, lo.f, lo.gtd, hi.t, hi.f, hi.gtd, None)
        } else {
            0.5 * (a + b) // hi is non-finite: bisect
        };
        if !t.is_finite() {
            t = 0.5 * (a + b);
        }
        let eps = 0.1 * (b - a);
        if (b - t).min(t - a) < eps {
            if insuf_progress || t >= b || t <= a {
                t = if (t - b).abs() < (t - a).abs() {
                    b - eps
                } else {
                    a + eps
                };
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }
        let p = eval_at(t, &mut evals)?;
        if !armijo(&p) || p.f >= lo.f {
            hi = p;
        } else {
            if curvature(&p) {
                return Ok(finish(p, true, evals));
            }
            if p.gtd * (hi.t - lo.t) >= 0.0 {
                hi = std::mem::replace(&mut lo, p);
            } else {
                lo = p;
            }
        }
    }
    Ok(finish(lo, false, evals))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Obj = Box<dyn FnMut(&[f32]) -> anyhow::Result<(f64, Vec<f32>)>>;

    /// Extended Rosenbrock: Σ over pairs (x_{2i}, x_{2i+1}) of 100(x_{2i+1} - x_{2i}²)² + (1 - x_{2i})².
    fn rosenbrock(x: &[f32]) -> (f64, Vec<f32>) {
        let mut f = 0.0;
        let mut g = vec![0.0f32; x.len()];
        for i in (0..x.len()).step_by(2) {
            let (a, b) = (x[i] as f64, x[i + 1] as f64);
            let r = b - a * a;
            f += 100.0 * r * r + (1.0 - a) * (1.0 - a);
            g[i] = (-400.0 * a * r - 2.0 * (1.0 - a)) as f32;
            g[i + 1] = (200.0 * r) as f32;
        }
        (f, g)
    }

    fn rosen_start(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
            .collect()
    }

    /// Runs L-BFGS until converged or the evaluation budget is used; returns evaluations.
    fn run(opt: &mut Lbfgs, x: &mut Vec<f32>, f: &mut dyn Objective, max_evals: usize) -> usize {
        let mut evals = 0;
        while evals < max_evals {
            let info = opt.step(x, f).unwrap();
            evals += info.evals;
            if info.converged {
                break;
            }
        }
        assert_eq!(evals, opt.total_evals());
        evals
    }

    #[test]
    fn rosenbrock_2d() {
        let mut calls = 0usize;
        let mut f = |x: &[f32]| -> anyhow::Result<(f64, Vec<f32>)> {
            calls += 1;
            Ok(rosenbrock(x))
        };
        let mut x = rosen_start(2);
        let mut opt = Lbfgs::default();
        let evals = run(&mut opt, &mut x, &mut f, 100);
        eprintln!(
            "rosenbrock 2-D: {evals} evals, {} iterations, x = {x:?}",
            opt.iterations()
        );
        assert_eq!(evals, calls, "evaluation count must be honest");
        assert!(evals <= 100, "{evals} evals");
        assert!(
            (x[0] - 1.0).abs() < 1e-5 && (x[1] - 1.0).abs() < 1e-5,
            "x = {x:?}"
        );
    }

    #[test]
    fn rosenbrock_extended_100() {
        let mut f = |x: &[f32]| -> anyhow::Result<(f64, Vec<f32>)> { Ok(rosenbrock(x)) };
        let mut x = rosen_start(100);
        let mut opt = Lbfgs::default();
        let evals = run(&mut opt, &mut x, &mut f, 300);
        eprintln!(
            "rosenbrock 100-D: {evals} evals, {} iterations",
            opt.iterations()
        );
        let err = x.iter().fold(0.0f32, |m, &v| m.max((v - 1.0).abs()));
        assert!(err < 1e-4, "max |x-1| = {err}");
    }

    #[test]
    fn ill_conditioned_quadratic() {
        // f = ½ Σ λ_i x_i², λ log-spaced in [1, 1e4]; condition number 1e4.
        let n = 1000;
        let lam: Vec<f64> = (0..n)
            .map(|i| 10f64.powf(4.0 * i as f64 / (n - 1) as f64))
            .collect();
        let mut f = move |x: &[f32]| -> anyhow::Result<(f64, Vec<f32>)> {
            let mut f = 0.0;
            let g = x
                .iter()
                .zip(&lam)
                .map(|(&xi, &l)| {
                    let xi = xi as f64;
                    f += 0.5 * l * xi * xi;
                    (l * xi) as f32
                })
                .collect();
            Ok((f, g))
        };
        let mut x: Vec<f32> = (0..n).map(|i| 1.0 + (i % 3) as f32).collect();
        let f0 = f(&x).unwrap().0;
        let mut opt = Lbfgs::default();
        let mut evals = 0;
        let mut fx = f0;
        while fx >= 1e-8 * f0 && evals < 2000 {
            let info = opt.step(&mut x, &mut f).unwrap();
            evals += info.evals;
            fx = info.loss;
            assert!(!info.converged || fx < 1e-8 * f0, "stalled at f = {fx}");
        }
        // Gradient descent with the optimal fixed step contracts the error by
        // (κ-1)/(κ+1) per evaluation: ≈ κ/4·ln(1e8) ≈ 46000 evaluations for κ = 1e4.
        let gd_evals = (1e4 / 4.0 * (1e8f64).ln()) as usize;
        eprintln!("quadratic 1000-D: {evals} evals to f < 1e-8 f0 (GD ≈ {gd_evals})");
        assert!(fx < 1e-8 * f0, "f = {fx}, f0 = {f0}");
        assert!(evals * 20 < gd_evals, "{evals} evals");
    }

    /// Checks the strong Wolfe conditions at the returned point by re-evaluating it.
    fn check_wolfe(mut obj: Obj, x0: Vec<f32>, d: Vec<f64>, t0: f64) -> (f64, usize) {
        let (f0, g0) = obj(&x0).unwrap();
        let gtd0 = dot_mixed(&g0, &d);
        assert!(gtd0 < 0.0);
        let r = strong_wolfe(&mut obj, &x0, f0, &d, gtd0, t0, 25, 1e-12).unwrap();
        let best = r.best.expect("line search found no decrease");
        assert!(
            best.wolfe,
            "budget ran out before Wolfe ({} evals)",
            r.evals
        );
        let xt = trial_point(&x0, &d, best.t);
        let (ft, gt) = obj(&xt).unwrap();
        assert_eq!(ft, best.f);
        assert_eq!(gt, best.g);
        let gtd = dot_mixed(&gt, &d);
        assert!(ft <= f0 + C1 * best.t * gtd0, "Armijo fails: t={}", best.t);
        assert!(
            gtd.abs() <= -C2 * gtd0,
            "curvature fails: t={} gtd={gtd}",
            best.t
        );
        (best.t, r.evals)
    }

    #[test]
    fn line_search_satisfies_strong_wolfe() {
        // Moré & Thuente (1994) test function 1: φ(α) = -α/(α² + β), β = 2, along x from 0.
        let mt1 = || -> Obj {
            Box::new(|x: &[f32]| {
                let a = x[0] as f64;
                let b = 2.0;
                let f = -a / (a * a + b);
                let g = (a * a - b) / ((a * a + b) * (a * a + b));
                Ok((f, vec![g as f32]))
            })
        };
        // Moré & Thuente test function 2, φ(α) = (α + β)^5 - 2(α + β)^4, with β = 0.5 instead of
        // their 0.004: with β = 0.004, φ'(0) ≈ -5e-7 and the curvature window around the
        // minimiser (≈ 2e-8 wide) is narrower than the f32 spacing of x near 1.6.
        let mt2 = || -> Obj {
            Box::new(|x: &[f32]| {
                let a = x[0] as f64 + 0.5;
                let f = a.powi(5) - 2.0 * a.powi(4);
                let g = 5.0 * a.powi(4) - 8.0 * a.powi(3);
                Ok((f, vec![g as f32]))
            })
        };
        for &t0 in &[1e-3, 1e-1, 10.0, 1e3] {
            let (t, e) = check_wolfe(mt1(), vec![0.0], vec![1.0], t0);
            eprintln!("MT1 t0={t0}: t={t} evals={e}");
            let (t, e) = check_wolfe(mt2(), vec![0.0], vec![1.0], t0);
            eprintln!("MT2 t0={t0}: t={t} evals={e}");
        }
        // Multi-dimensional: Rosenbrock along steepest descent, various initial steps.
        for &t0 in &[1e-4, 1e-2, 1.0] {
            let x0 = rosen_start(4);
            let g0 = rosenbrock(&x0).1;
            let d: Vec<f64> = g0.iter().map(|&v| -(v as f64)).collect();
            let (t, e) = check_wolfe(Box::new(|x: &[f32]| Ok(rosenbrock(x))), x0, d, t0);
            eprintln!("Rosenbrock SD t0={t0}: t={t} evals={e}");
        }
    }

    #[test]
    fn nan_at_start_is_an_error() {
        let mut calls = 0;
        let mut f = |x: &[f32]| -> anyhow::Result<(f64, Vec<f32>)> {
            calls += 1;
            Ok((f64::NAN, vec![0.0; x.len()]))
        };
        let mut x = vec![1.0f32, 2.0];
        let mut opt = Lbfgs::default();
        let err = opt.step(&mut x, &mut f).unwrap_err();
        assert!(err.to_string().contains("non-finite"), "{err}");
        assert_eq!(x, vec![1.0, 2.0]);
        assert_eq!(calls, 1);
    }

    #[test]
    fn objective_error_propagates() {
        let mut f = |_: &[f32]| -> anyhow::Result<(f64, Vec<f32>)> { anyhow::bail!("interrupted") };
        let mut x = vec![1.0f32];
        let mut opt = Lbfgs::default();
        assert_eq!(
            opt.step(&mut x, &mut f).unwrap_err().to_string(),
            "interrupted"
        );
    }

    #[test]
    fn nan_in_line_search_shrinks_the_step() {
        // f = ½‖x - c‖² inside |x_i| < 3, NaN outside: a unit step from the first iteration
        // after building curvature is fine, but large trial steps overshoot into NaN.
        let c = [2.5f64, -2.5, 2.0];
        let mut f = move |x: &[f32]| -> anyhow::Result<(f64, Vec<f32>)> {
            if x.iter().any(|v| v.abs() >= 3.0) {
                return Ok((f64::NAN, vec![f32::NAN; x.len()]));
            }
            let g: Vec<f32> = x
                .iter()
                .zip(&c)
                .map(|(&a, &b)| (a as f64 - b) as f32)
                .collect();
            let f = g.iter().map(|&v| 0.5 * (v as f64) * (v as f64)).sum();
            Ok((f, g))
        };
        let mut x = vec![0.0f32; 3];
        // A huge initial step lands in the NaN region on the first trial.
        let mut opt = Lbfgs::new(LbfgsConfig {
            initial_step: 1e3,
            ..Default::default()
        });
        let evals = run(&mut opt, &mut x, &mut f, 200);
        eprintln!("NaN region: {evals} evals, x = {x:?}");
        for i in 0..3 {
            assert!((x[i] as f64 - c[i]).abs() < 1e-5, "x = {x:?}");
        }
    }

    #[test]
    fn nan_everywhere_but_start_terminates() {
        let mut f = |x: &[f32]| -> anyhow::Result<(f64, Vec<f32>)> {
            if x[0] == 1.0 {
                Ok((1.0, vec![1.0]))
            } else {
                Ok((f64::NAN, vec![f32::NAN]))
            }
        };
        let mut x = vec![1.0f32];
        let mut opt = Lbfgs::default();
        let info = opt.step(&mut x, &mut f).unwrap();
        assert!(info.converged);
        assert_eq!(x, vec![1.0]);
        assert!(info.evals <= 1 + opt.config.max_evals_per_step, "{info:?}");
        // Caching: the next step does not re-evaluate the start point.
        let info = opt.step(&mut x, &mut f).unwrap();
        assert!(info.evals <= opt.config.max_evals_per_step);
    }

    #[test]
    fn caches_start_point_and_reevaluates_when_x_changes() {
        let mut f = |x: &[f32]| -> anyhow::Result<(f64, Vec<f32>)> { Ok(rosenbrock(x)) };
        let mut x = rosen_start(2);
        let mut opt = Lbfgs::default();
        let a = opt.step(&mut x, &mut f).unwrap();
        let b = opt.step(&mut x, &mut f).unwrap();
        // The second step starts from the cached value: only line-search evaluations.
        assert!(a.evals >= 2 && b.evals >= 1);
        assert_eq!(opt.total_evals(), a.evals + b.evals);
        // Caller modifies x (e.g. clamping): the start point is re-evaluated.
        x[0] += 0.01;
        let before = opt.total_evals();
        let c = opt.step(&mut x, &mut f).unwrap();
        assert_eq!(opt.total_evals(), before + c.evals);
        // Objective changed: re-evaluated although x is the same; history kept.
        let hist = opt.history_len();
        let before = opt.total_evals();
        opt.objective_changed();
        let d = opt.step(&mut x, &mut f).unwrap();
        assert!(d.evals >= 2 && opt.total_evals() == before + d.evals);
        assert!(opt.history_len() >= hist.min(1));
        // Size change resets the history.
        assert!(opt.history_len() > 0);
        let mut y = rosen_start(4);
        opt.step(&mut y, &mut f).unwrap();
        assert!(opt.history_len() <= 1);
    }

    #[test]
    fn deterministic() {
        let go = || {
            let mut f = |x: &[f32]| -> anyhow::Result<(f64, Vec<f32>)> { Ok(rosenbrock(x)) };
            let mut x = rosen_start(10);
            let mut opt = Lbfgs::default();
            let mut losses = Vec::new();
            for _ in 0..15 {
                losses.push(opt.step(&mut x, &mut f).unwrap().loss.to_bits());
            }
            (x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), losses)
        };
        assert_eq!(go(), go());
    }
}
