//! SmoothGrad (Smilkov et al. 2017) and its variants: the gradient averaged over noisy
//! copies of the input, x + N(0, σ²) with σ a fraction of the input's range. The noise
//! averages out the gradient's high-frequency fluctuations, which are a property of the
//! piecewise-linear network rather than of the object. Any backward rule can be smoothed.
use crate::attribute::Attribution;
use crate::error::{AttributionError, Result};
use crate::host::{fix_target, gradients, HostImage};
use convnet::rng::Rng;
use convnet::{BackwardRule, ImageModel, Target};
use ndarray::Array3;

/// What is averaged over the noisy gradients g_i.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmoothVariant {
    /// mean(g).
    #[default]
    Mean,
    /// mean(g²) (Hooker et al.'s SmoothGrad-Squared).
    Squared,
    /// mean(g²) − mean(g)², the variance (Adebayo et al.'s VarGrad; Captum's formula).
    Variance,
}

impl SmoothVariant {
    /// The method name on the command line.
    pub fn method_name(self) -> &'static str {
        match self {
            SmoothVariant::Mean => "smoothgrad",
            SmoothVariant::Squared => "smoothgrad-sq",
            SmoothVariant::Variance => "vargrad",
        }
    }
}

/// Settings of SmoothGrad.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct SmoothGrad {
    /// Noisy copies (50).
    pub samples: usize,
    /// σ as a fraction of the image's value range, max(x) − min(x) (0.15, Smilkov et al.'s
    /// recommended 10–20 %).
    pub noise: f32,
    pub seed: u64,
    pub variant: SmoothVariant,
    /// The backward rule under the noise.
    pub rule: BackwardRule,
}

impl Default for SmoothGrad {
    fn default() -> Self {
        SmoothGrad {
            samples: 50,
            noise: 0.15,
            seed: 0,
            variant: SmoothVariant::Mean,
            rule: BackwardRule::Gradient,
        }
    }
}

impl SmoothGrad {
    pub fn validate(&self) -> Result<()> {
        if self.samples == 0 {
            return Err(AttributionError::Input(
                "SmoothGrad needs --samples ≥ 1, got 0".into(),
            ));
        }
        if !(self.noise >= 0.0 && self.noise.is_finite()) {
            return Err(AttributionError::Input(format!(
                "SmoothGrad needs a noise level --noise ≥ 0 (a fraction of the input's range), got {}",
                self.noise
            )));
        }
        Ok(())
    }
}

/// SmoothGrad of `target` for one normalised image: `[3, h, w]`, with `score` the mean of
/// the noisy copies' scores.
pub fn smooth_grad(
    model: &dyn ImageModel,
    image: &HostImage,
    target: &Target,
    settings: &SmoothGrad,
) -> Result<Attribution> {
    settings.validate()?;
    let target = fix_target(model, image, target)?;
    let (lo, hi) = image
        .data
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let sigma = settings.noise * (hi - lo);
    let mut rng = Rng::new(settings.seed);
    let n = settings.samples;
    let mut sum = vec![0f64; image.data.len()];
    let mut sum_sq = vec![0f64; image.data.len()];
    let mut score = 0f64;
    let resolved = gradients(
        model,
        image,
        n,
        |_| {
            let mut v = vec![0f32; image.data.len()];
            rng.fill_normal(&mut v, sigma);
            for (n, &x) in v.iter_mut().zip(&image.data) {
                *n += x;
            }
            v
        },
        &target,
        settings.rule,
        |_, g, s| {
            score += s as f64;
            for ((a, b), &g) in sum.iter_mut().zip(sum_sq.iter_mut()).zip(g) {
                *a += g as f64;
                *b += (g as f64) * (g as f64);
            }
        },
    )?;
    let nf = n as f64;
    let raw: Vec<f32> = sum
        .iter()
        .zip(&sum_sq)
        .map(|(&s, &q)| {
            (match settings.variant {
                SmoothVariant::Mean => s / nf,
                SmoothVariant::Squared => q / nf,
                SmoothVariant::Variance => (q / nf - (s / nf).powi(2)).max(0.0),
            }) as f32
        })
        .collect();
    Ok(Attribution {
        raw: Array3::from_shape_vec((image.channels, image.height, image.width), raw)
            .expect("sizes match"),
        target: resolved,
        score: (score / nf) as f32,
    })
}
