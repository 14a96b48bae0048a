//! Adam (Kingma & Ba, 2015) with bias correction. One objective evaluation per step.
//!
//! A non-finite loss or gradient is returned as an `Err` and leaves x and the moments
//! untouched.

use super::{Objective, OptimState, Optimizer, StepInfo, all_finite, eval_checked};

/// Adam hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Step size (default 0.02). The first step moves every coordinate with a non-zero
    /// gradient by ≈ `lr` (exactly `lr·|g|/(|g|+eps)`).
    pub lr: f64,
    /// Decay of the first moment (default 0.9).
    pub beta1: f64,
    /// Decay of the second moment (default 0.999).
    pub beta2: f64,
    /// Added to √v̂ in the denominator (default 1e-8).
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 0.02,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Adam state: first/second moments (f32) and the step counter.
#[derive(Debug, Clone)]
pub struct Adam {
    pub config: AdamConfig,
    m: Vec<f32>,
    v: Vec<f32>,
    t: u64,
    total_evals: usize,
}

impl Adam {
    pub fn new(config: AdamConfig) -> Self {
        Self {
            config,
            m: Vec::new(),
            v: Vec::new(),
            t: 0,
            total_evals: 0,
        }
    }

    /// Clear the moments and the step counter.
    pub fn reset(&mut self) {
        self.m.clear();
        self.v.clear();
        self.t = 0;
    }

    /// Number of steps taken since the last reset.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// Objective evaluations over the optimiser's lifetime.
    pub fn total_evals(&self) -> usize {
        self.total_evals
    }
}

impl Default for Adam {
    fn default() -> Self {
        Self::new(AdamConfig::default())
    }
}

impl Optimizer for Adam {
    /// Evaluates at x, then updates x. `StepInfo::loss` is the loss at the *old* x;
    /// `converged` is true only when the gradient is exactly zero (x is then unchanged).
    fn step(&mut self, x: &mut Vec<f32>, f: &mut dyn Objective) -> anyhow::Result<StepInfo> {
        let n = x.len();
        if self.m.len() != n {
            self.reset();
            self.m = vec![0.0; n];
            self.v = vec![0.0; n];
        }
        let (loss, g) = eval_checked(f, x)?;
        self.total_evals += 1;
        anyhow::ensure!(
            all_finite(loss, &g),
            "Adam: non-finite loss ({loss}) or gradient from the objective"
        );
        if g.iter().all(|&v| v == 0.0) {
            return Ok(StepInfo {
                loss,
                evals: 1,
                converged: true,
            });
        }
        self.t += 1;
        let AdamConfig {
            lr,
            beta1,
            beta2,
            eps,
        } = self.config;
        let t = self.t as i32;
        let bc1 = 1.0 - beta1.powi(t);
        let bc2 = 1.0 - beta2.powi(t);
        for i in 0..n {
            let gi = g[i] as f64;
            let m = beta1 * self.m[i] as f64 + (1.0 - beta1) * gi;
            let v = beta2 * self.v[i] as f64 + (1.0 - beta2) * gi * gi;
            self.m[i] = m as f32;
            self.v[i] = v as f32;
            let mhat = m / bc1;
            let vhat = v / bc2;
            x[i] = (x[i] as f64 - lr * mhat / (vhat.sqrt() + eps)) as f32;
        }
        Ok(StepInfo {
            loss,
            evals: 1,
            converged: false,
        })
    }

    fn reset(&mut self) {
        Adam::reset(self);
    }

    fn save_state(&self) -> Option<OptimState> {
        Some(OptimState {
            steps: self.t,
            vectors: vec![("m".into(), self.m.clone()), ("v".into(), self.v.clone())],
        })
    }

    fn load_state(&mut self, state: &OptimState, n: usize) -> anyhow::Result<()> {
        let get = |name: &str| {
            state
                .vectors
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| v.len() == n && v.iter().all(|x| x.is_finite()))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "Adam state: '{name}' missing, of the wrong length or not finite"
                    )
                })
        };
        let (m, v) = (get("m")?, get("v")?);
        self.m = m;
        self.v = v;
        self.t = state.steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f = ½ Σ a_i (x_i - c_i)²
    fn quad(a: Vec<f64>, c: Vec<f64>) -> impl FnMut(&[f32]) -> anyhow::Result<(f64, Vec<f32>)> {
        move |x: &[f32]| {
            let mut f = 0.0;
            let mut g = vec![0.0f32; x.len()];
            for i in 0..x.len() {
                let r = x[i] as f64 - c[i];
                f += 0.5 * a[i] * r * r;
                g[i] = (a[i] * r) as f32;
            }
            Ok((f, g))
        }
    }

    #[test]
    fn first_step_moves_every_coordinate_by_lr() {
        let a = vec![1e-3, 1.0, 50.0, 1e4, 2.0];
        let c = vec![1.0, -1.0, 3.0, -2.0, 0.5];
        let mut f = quad(a, c.clone());
        let x0: Vec<f32> = vec![0.0; 5];
        let mut x = x0.clone();
        let mut opt = Adam::new(AdamConfig {
            lr: 0.02,
            ..Default::default()
        });
        let info = opt.step(&mut x, &mut f).unwrap();
        assert_eq!(info.evals, 1);
        for i in 0..5 {
            let moved = (x[i] - x0[i]) as f64;
            // Moves toward c_i (against the gradient) by lr, independent of the curvature.
            assert!((moved.abs() - 0.02).abs() < 1e-6, "coord {i} moved {moved}");
            assert_eq!(
                moved.signum(),
                c[i].signum(),
                "coord {i} moved the wrong way"
            );
        }
    }

    #[test]
    fn converges_on_quadratic() {
        let n = 50;
        let a: Vec<f64> = (0..n).map(|i| 1.0 + i as f64).collect();
        let c: Vec<f64> = (0..n).map(|i| ((i % 7) as f64 - 3.0) * 0.3).collect();
        let mut f = quad(a, c.clone());
        let mut x = vec![0.0f32; n];
        let f0 = f(&x).unwrap().0;
        let mut opt = Adam::new(AdamConfig {
            lr: 0.05,
            ..Default::default()
        });
        let mut last = f64::INFINITY;
        for _ in 0..2000 {
            last = opt.step(&mut x, &mut f).unwrap().loss;
        }
        assert!(last < 1e-6 * f0, "f0 {f0} last {last}");
        for i in 0..n {
            assert!(
                (x[i] as f64 - c[i]).abs() < 1e-3,
                "x[{i}]={} c={}",
                x[i],
                c[i]
            );
        }
        assert_eq!(opt.total_evals(), 2000);
    }

    #[test]
    fn nan_is_an_error_and_leaves_x_alone() {
        let mut calls = 0;
        let mut f = |x: &[f32]| -> anyhow::Result<(f64, Vec<f32>)> {
            calls += 1;
            Ok((f64::NAN, vec![1.0; x.len()]))
        };
        let mut x = vec![1.0f32; 3];
        let mut opt = Adam::default();
        assert!(opt.step(&mut x, &mut f).is_err());
        assert_eq!(x, vec![1.0; 3]);
        let mut g = |x: &[f32]| -> anyhow::Result<(f64, Vec<f32>)> {
            let mut g = vec![1.0f32; x.len()];
            g[1] = f32::NAN;
            Ok((1.0, g))
        };
        assert!(opt.step(&mut x, &mut g).is_err());
        assert_eq!(x, vec![1.0; 3]);
        assert_eq!(calls, 1);
    }

    #[test]
    fn a_saved_state_continues_bit_for_bit() {
        let mut f = quad(vec![1.0, 3.0, 0.5], vec![1.0, -2.0, 0.3]);
        let mut a = Adam::default();
        let mut x = vec![0.0f32; 3];
        for _ in 0..5 {
            a.step(&mut x, &mut f).unwrap();
        }
        let (saved, mut y) = (a.save_state().unwrap(), x.clone());
        let mut b = Adam::default();
        b.load_state(&saved, 3).unwrap();
        for _ in 0..5 {
            a.step(&mut x, &mut f).unwrap();
            b.step(&mut y, &mut f).unwrap();
        }
        assert_eq!(x, y);
        assert!(Adam::default().load_state(&saved, 4).is_err());
    }

    #[test]
    fn size_change_resets_state() {
        let mut opt = Adam::default();
        let mut f = quad(vec![1.0; 4], vec![1.0; 4]);
        let mut x = vec![0.0f32; 4];
        opt.step(&mut x, &mut f).unwrap();
        opt.step(&mut x, &mut f).unwrap();
        assert_eq!(opt.steps(), 2);
        let mut f2 = quad(vec![1.0; 6], vec![1.0; 6]);
        let mut y = vec![0.0f32; 6];
        opt.step(&mut y, &mut f2).unwrap();
        assert_eq!(opt.steps(), 1);
        assert!(y.iter().all(|&v| (v - 0.02).abs() < 1e-6));
    }
}
