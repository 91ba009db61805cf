//! Integrated gradients (Sundararajan et al. 2017): the gradient averaged along the straight
//! path from a baseline x′ to the input x, times x − x′. Unlike the plain gradient it is
//! complete: the attributions sum to S(x) − S(x′) up to the quadrature error, which is
//! reported as the completeness gap so a user can see whether the steps were enough.
use crate::attribute::Attribution;
use crate::baseline::Baseline;
use crate::error::{AttributionError, Result};
use crate::host::{fix_target, gradients, scores, HostImage, Score};
use crate::quadrature::Quadrature;
use convnet::{BackwardRule, ImageModel, Target};
use ndarray::Array3;

/// Settings of integrated gradients (Captum's defaults).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct IntegratedGradients {
    /// Quadrature nodes along the path (50).
    pub steps: usize,
    pub quadrature: Quadrature,
    pub baseline: Baseline,
}

impl Default for IntegratedGradients {
    fn default() -> Self {
        IntegratedGradients {
            steps: 50,
            quadrature: Quadrature::GaussLegendre,
            baseline: Baseline::Zero,
        }
    }
}

impl IntegratedGradients {
    pub fn validate(&self) -> Result<()> {
        if self.steps < self.quadrature.min_steps() {
            return Err(AttributionError::Input(format!(
                "integrated gradients needs --steps ≥ {} with {}, got {}",
                self.quadrature.min_steps(),
                self.quadrature,
                self.steps
            )));
        }
        Ok(())
    }
}

/// An integrated-gradients attribution and its completeness gap.
#[derive(Clone, Debug)]
pub struct IntegratedResult {
    /// `[3, h, w]`; `score` is S(x).
    pub attribution: Attribution,
    /// Σ attribution − (S(x) − S(baseline)) (Captum's convergence delta).
    pub completeness_gap: f32,
    /// S(baseline).
    pub baseline_score: f32,
}

/// Integrated gradients of `target` for one normalised image.
pub fn integrated_gradients(
    model: &dyn ImageModel,
    image: &HostImage,
    target: &Target,
    settings: &IntegratedGradients,
) -> Result<IntegratedResult> {
    settings.validate()?;
    let target = fix_target(model, image, target)?;
    let base = settings.baseline.of(image, model.preprocessing());
    let diff: Vec<f32> = image
        .data
        .iter()
        .zip(&base.data)
        .map(|(x, b)| x - b)
        .collect();
    let (alphas, weights) = settings.quadrature.nodes(settings.steps);
    let mut total = vec![0f32; image.data.len()];
    let resolved = gradients(
        model,
        image,
        alphas.len(),
        |i| {
            let a = alphas[i] as f32;
            base.data
                .iter()
                .zip(&diff)
                .map(|(b, d)| b + a * d)
                .collect()
        },
        &target,
        BackwardRule::Gradient,
        |i, g, _| {
            let w = weights[i] as f32;
            for (t, g) in total.iter_mut().zip(g) {
                *t += w * g;
            }
        },
    )?;
    let raw: Vec<f32> = total.iter().zip(&diff).map(|(g, d)| g * d).collect();
    let ends = scores(
        model,
        image,
        2,
        |i| {
            if i == 0 {
                image.data.clone()
            } else {
                base.data.clone()
            }
        },
        &target,
        Score::Logit,
    )?;
    let sum: f64 = raw.iter().map(|&v| v as f64).sum();
    Ok(IntegratedResult {
        attribution: Attribution {
            raw: Array3::from_shape_vec((image.channels, image.height, image.width), raw)
                .expect("sizes match"),
            target: resolved,
            score: ends[0],
        },
        completeness_gap: (sum - (ends[0] as f64 - ends[1] as f64)) as f32,
        baseline_score: ends[1],
    })
}
