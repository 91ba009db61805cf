//! Parameter updates: plain gradient ascent (the paper) and Adam, as candle-nn's `SGD` and
//! `AdamW` (weight decay 0, which is Adam). Both minimise, so the ascent hands them the
//! gradient of the negated objective.
use crate::settings::Optimiser;
use candle_core::backprop::GradStore;
use candle_core::Var;
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW, SGD};

/// The optimiser of one octave's parameters (a new one at each octave: the parameters change
/// meaning there, and Adam's moments with them).
pub(crate) enum Stepper {
    Ascent(SGD),
    Adam(AdamW),
}

impl Stepper {
    pub fn new(kind: Optimiser, var: &Var) -> candle_core::Result<Self> {
        Ok(match kind {
            Optimiser::Ascent { step } => {
                Stepper::Ascent(SGD::new(vec![var.clone()], step as f64)?)
            }
            Optimiser::Adam { lr } => Stepper::Adam(AdamW::new(
                vec![var.clone()],
                ParamsAdamW {
                    lr: lr as f64,
                    weight_decay: 0.0,
                    ..ParamsAdamW::default()
                },
            )?),
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
