//! Everything that defines one synthesis run, with the paper's settings, its posterior
//! control and the recommended preset. Plain data: serialised into the run's JSON so a
//! picture can always be regenerated.
use crate::error::{Result, SynthesisError};
use serde::Serialize;

/// What is maximised for a class target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// The unnormalised class score S_c (the paper's choice).
    Score,
    /// The softmax posterior P_c — the paper's control: it can be raised by lowering the
    /// other classes, and from the zero image its gradient is tiny.
    Posterior,
}

/// What the optimiser moves.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Parameterisation {
    /// The normalised input image itself, starting from zero (the mean image) — the paper.
    Pixels,
    /// Decorrelated colour and 1/f-scaled Fourier coefficients through a sigmoid (Lucid),
    /// starting from small random coefficients.
    Fourier { decay: f32 },
}

/// How the parameters move along the gradient.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Optimiser {
    /// θ ← θ + step · ∇ (the paper).
    Ascent { step: f32 },
    /// Adam (Kingma & Ba) on the ascent direction.
    Adam { lr: f32 },
}

/// Random geometric transforms applied to the image before the network sees it, fresh at
/// every step (transformation robustness).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Transforms {
    /// Crop side fraction range; values above 1 zoom out (edges repeat).
    pub crop: (f32, f32),
    /// Rotation range ± in degrees.
    pub degrees: f32,
    /// Mirror with probability ½.
    pub flip: bool,
    /// Extra shift ± in pixels.
    pub jitter: f32,
}

/// Gaussian blur of the image every `every` steps (Yosinski et al. 2015).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Blur {
    pub every: usize,
    pub sigma: f32,
}

/// Penalties subtracted from the objective, on the normalised input image I.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Penalties {
    /// λ of λ‖I‖²₂ (the paper).
    pub l2: f32,
    /// Weight of the total variation Σ|∂ₓI| + |∂ᵧI|.
    pub tv: f32,
    /// Weight of ‖I‖₁.
    pub l1: f32,
}

/// One synthesis run's settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    /// Name of the preset these settings started from.
    pub mode: String,
    pub objective: Objective,
    pub steps: usize,
    pub optimiser: Optimiser,
    pub penalties: Penalties,
    pub parameterisation: Parameterisation,
    pub transforms: Option<Transforms>,
    pub blur: Option<Blur>,
    /// Image sides optimised in turn (steps split evenly); empty = the model's input size only.
    pub octaves: Vec<usize>,
    pub seed: u64,
}

impl Settings {
    /// The paper's method exactly: plain ascent on S_c − λ‖I‖² from the zero image in the
    /// normalised input space. Step 1, λ = 1e-3 and 200 steps are the PyTorch peer's; they
    /// make every tested class top-1 on EfficientNet-Lite0 (see docs/synthesis.md).
    pub fn paper() -> Self {
        Settings {
            mode: "paper".into(),
            objective: Objective::Score,
            steps: 200,
            optimiser: Optimiser::Ascent { step: 1.0 },
            penalties: Penalties {
                l2: 1e-3,
                ..Penalties::default()
            },
            parameterisation: Parameterisation::Pixels,
            transforms: None,
            blur: None,
            octaves: Vec::new(),
            seed: 0,
        }
    }

    /// The paper's control: the same run on the softmax posterior.
    pub fn posterior() -> Self {
        Settings {
            mode: "posterior".into(),
            objective: Objective::Posterior,
            ..Settings::paper()
        }
    }

    /// What makes images a person recognises and that stay classified under crops, flips
    /// and rotations: decorrelated Fourier parameterisation, Adam, transformation
    /// robustness at every step, a light total-variation penalty (docs/synthesis.md).
    pub fn recommended() -> Self {
        Settings {
            mode: "recommended".into(),
            objective: Objective::Score,
            steps: 256,
            optimiser: Optimiser::Adam { lr: 0.05 },
            penalties: Penalties::default(),
            parameterisation: Parameterisation::Fourier { decay: 1.0 },
            transforms: Some(Transforms {
                crop: (0.75, 1.1),
                degrees: 10.0,
                flip: true,
                jitter: 8.0,
            }),
            blur: None,
            octaves: Vec::new(),
            seed: 0,
        }
    }

    /// The preset called `name`: `paper`, `posterior` or `recommended`.
    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "paper" => Ok(Settings::paper()),
            "posterior" => Ok(Settings::posterior()),
            "recommended" => Ok(Settings::recommended()),
            other => Err(SynthesisError::Setting(format!(
                "unknown mode {other:?}: use paper, recommended or posterior"
            ))),
        }
    }

    /// Rejects settings that cannot run or cannot mean anything.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(SynthesisError::Setting(m));
        if self.steps == 0 {
            return bad("steps must be at least 1".into());
        }
        let finite_nonneg = |v: f32| v.is_finite() && v >= 0.0;
        let p = &self.penalties;
        for (name, v) in [("λ (l2)", p.l2), ("tv", p.tv), ("l1", p.l1)] {
            if !finite_nonneg(v) {
                return bad(format!("{name} must be a finite number ≥ 0, got {v}"));
            }
        }
        match self.optimiser {
            Optimiser::Ascent { step: s } | Optimiser::Adam { lr: s }
                if !(s.is_finite() && s > 0.0) =>
            {
                return bad(format!(
                    "the step size must be a finite number > 0, got {s}"
                ));
            }
            _ => {}
        }
        if let Parameterisation::Fourier { decay } = self.parameterisation {
            if !finite_nonneg(decay) {
                return bad(format!("the spectrum decay must be ≥ 0, got {decay}"));
            }
        }
        if let Some(t) = &self.transforms {
            if !(t.crop.0 > 0.0 && t.crop.1 >= t.crop.0 && t.crop.1.is_finite()) {
                return bad(format!(
                    "crop range must satisfy 0 < lo ≤ hi, got {:?}",
                    t.crop
                ));
            }
            if !(finite_nonneg(t.degrees) && finite_nonneg(t.jitter)) {
                return bad("rotation and jitter must be finite and ≥ 0".into());
            }
        }
        if let Some(b) = &self.blur {
            if b.every == 0 || !(b.sigma.is_finite() && b.sigma > 0.0) {
                return bad("blur needs every ≥ 1 and sigma > 0".into());
            }
        }
        if self.octaves.iter().any(|&s| s < 16) {
            return bad(format!(
                "octave sizes must be at least 16 pixels, got {:?}",
                self.octaves
            ));
        }
        if self.octaves.windows(2).any(|w| w[1] < w[0]) {
            return bad(format!(
                "octave sizes must not shrink, got {:?}",
                self.octaves
            ));
        }
        if self.octaves.len() > self.steps {
            return bad("more octaves than steps".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        for name in ["paper", "posterior", "recommended"] {
            Settings::preset(name).unwrap().validate().unwrap();
        }
        assert!(Settings::preset("lucid").is_err());
    }

    #[test]
    fn bad_settings_are_rejected_with_a_reason() {
        let mut s = Settings::paper();
        s.steps = 0;
        assert!(s.validate().unwrap_err().to_string().contains("steps"));
        let mut s = Settings::paper();
        s.penalties.l2 = -1.0;
        assert!(s.validate().unwrap_err().to_string().contains("λ"));
        let mut s = Settings::paper();
        s.optimiser = Optimiser::Ascent { step: f32::NAN };
        assert!(s.validate().is_err());
        let mut s = Settings::paper();
        s.octaves = vec![224, 112];
        assert!(s.validate().is_err());
    }
}
