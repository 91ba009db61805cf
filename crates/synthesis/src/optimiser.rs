//! Parameter updates: plain gradient ascent (the paper) as candle-nn's `SGD`, and Adam on
//! the host. Both are handed the gradient of the negated objective (candle-nn's optimisers
//! minimise).
//!
//! Adam stays ours: candle-nn's `AdamW` (weight decay 0) multiplies by the bias-correction
//! reciprocals where this divides, which changes the last bits and, over 256 re-framed steps,
//! the images; and its element-wise tensor ops made a recommended-mode step about 20 %
//! slower (60 steps of one class, alternating processes, 2026-12-02: 9.0–9.7 s against
//! 7.4–8.3 s), since they run on candle's own thread pool beside ours.
use crate::settings::Optimiser;
use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use candle_nn::optim::{Optimizer, SGD};

/// The optimiser of one octave's parameters (a new one at each octave: the parameters change
/// meaning there, and Adam's moments with them).
pub(crate) enum Stepper {
    Ascent(SGD),
    Adam(Adam),
}

/// Adam (Kingma & Ba) with β = (0.9, 0.999), ε = 1e-8, on the host.
pub(crate) struct Adam {
    var: Var,
    lr: f32,
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl Stepper {
    pub fn new(kind: Optimiser, var: &Var) -> candle_core::Result<Self> {
        Ok(match kind {
            Optimiser::Ascent { step } => {
                Stepper::Ascent(SGD::new(vec![var.clone()], step as f64)?)
            }
            Optimiser::Adam { lr } => Stepper::Adam(Adam {
                var: var.clone(),
                lr,
                m: Vec::new(),
                v: Vec::new(),
                t: 0,
            }),
        })
    }

    /// One step on `grads`, the gradients of the negated objective.
    pub fn step(&mut self, grads: &GradStore) -> candle_core::Result<()> {
        match self {
            Stepper::Ascent(o) => o.step(grads),
            Stepper::Adam(o) => o.step(grads),
        }
    }
}

impl Adam {
    fn step(&mut self, grads: &GradStore) -> candle_core::Result<()> {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        const EPS: f32 = 1e-8;
        let Some(g) = grads.get(&self.var) else {
            return Ok(());
        };
        let g: Vec<f32> = g.flatten_all()?.to_vec1()?;
        let mut theta: Vec<f32> = self.var.as_tensor().flatten_all()?.to_vec1()?;
        if self.m.len() != theta.len() {
            self.m = vec![0.0; theta.len()];
            self.v = vec![0.0; theta.len()];
            self.t = 0;
        }
        self.t += 1;
        let c1 = 1.0 - B1.powi(self.t);
        let c2 = 1.0 - B2.powi(self.t);
        for ((t, &g), (m, v)) in theta
            .iter_mut()
            .zip(&g)
            .zip(self.m.iter_mut().zip(self.v.iter_mut()))
        {
            // The objective's gradient is the negation of the one given.
            let g = -g;
            *m = B1 * *m + (1.0 - B1) * g;
            *v = B2 * *v + (1.0 - B2) * g * g;
            *t += self.lr * (*m / c1) / ((*v / c2).sqrt() + EPS);
        }
        let shape = self.var.shape().clone();
        self.var
            .set(&Tensor::from_vec(theta, shape, self.var.device())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Ascends f(t) = −Σ (t − 3)² · scale for `steps` steps from `start`.
    fn climb(kind: Optimiser, start: &[f32], steps: usize) -> Vec<f32> {
        let var = Var::new(start, &Device::Cpu).unwrap();
        let mut s = Stepper::new(kind, &var).unwrap();
        for _ in 0..steps {
            let d = (var.as_tensor() - 3.0).unwrap();
            let f = d.sqr().unwrap().sum_all().unwrap().neg().unwrap();
            s.step(&f.neg().unwrap().backward().unwrap()).unwrap();
        }
        var.as_tensor().to_vec1().unwrap()
    }

    #[test]
    fn ascent_moves_by_step_times_gradient() {
        // f' = −2 (t − 3): from 1 the gradient is 4, from 2 it is 2.
        assert_eq!(
            climb(Optimiser::Ascent { step: 0.5 }, &[1.0, 2.0], 1),
            vec![3.0, 3.0]
        );
    }

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        let t = climb(Optimiser::Adam { lr: 0.1 }, &[0.0, 3.001], 1);
        assert!(
            (t[0] - 0.1).abs() < 1e-5 && (t[1] - 2.901).abs() < 1e-3,
            "{t:?}"
        );
    }

    /// Adam climbs a concave quadratic to its maximum.
    #[test]
    fn adam_reaches_the_maximum_of_a_quadratic() {
        let t = climb(Optimiser::Adam { lr: 0.05 }, &[0.0], 2000);
        assert!((t[0] - 3.0).abs() < 1e-2, "{}", t[0]);
    }
}
