//! Parameter updates on the host: plain gradient ascent (the paper) and Adam.
use crate::settings::Optimiser;

pub(crate) struct OptimiserState {
    kind: Optimiser,
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl OptimiserState {
    pub fn new(kind: Optimiser) -> Self {
        OptimiserState {
            kind,
            m: Vec::new(),
            v: Vec::new(),
            t: 0,
        }
    }

    /// Forgets Adam's moments (at an octave change the parameters change meaning).
    pub fn reset(&mut self) {
        self.m.clear();
        self.v.clear();
        self.t = 0;
    }

    /// One ascent step of `theta` along the gradient `g` of the objective.
    pub fn step(&mut self, theta: &mut [f32], g: &[f32]) {
        match self.kind {
            Optimiser::Ascent { step } => theta.iter_mut().zip(g).for_each(|(t, g)| *t += step * g),
            Optimiser::Adam { lr } => {
                const B1: f32 = 0.9;
                const B2: f32 = 0.999;
                const EPS: f32 = 1e-8;
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
                    .zip(g)
                    .zip(self.m.iter_mut().zip(self.v.iter_mut()))
                {
                    *m = B1 * *m + (1.0 - B1) * g;
                    *v = B2 * *v + (1.0 - B2) * g * g;
                    *t += lr * (*m / c1) / ((*v / c2).sqrt() + EPS);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascent_moves_by_step_times_gradient() {
        let mut s = OptimiserState::new(Optimiser::Ascent { step: 0.5 });
        let mut t = vec![1.0, 2.0];
        s.step(&mut t, &[2.0, -4.0]);
        assert_eq!(t, vec![2.0, 0.0]);
    }

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        let mut s = OptimiserState::new(Optimiser::Adam { lr: 0.1 });
        let mut t = vec![0.0, 0.0];
        s.step(&mut t, &[3.0, -1e-3]);
        assert!((t[0] - 0.1).abs() < 1e-5 && (t[1] + 0.1).abs() < 1e-3);
    }

    /// Adam climbs a concave quadratic to its maximum.
    #[test]
    fn adam_reaches_the_maximum_of_a_quadratic() {
        let mut s = OptimiserState::new(Optimiser::Adam { lr: 0.05 });
        let mut t = vec![0.0f32];
        for _ in 0..2000 {
            let g = -2.0 * (t[0] - 3.0);
            s.step(&mut t, &[g]);
        }
        assert!((t[0] - 3.0).abs() < 1e-2, "{}", t[0]);
    }
}
