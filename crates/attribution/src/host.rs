//! One image of a batch on the host, and the batched passes that the multi-pass methods
//! (integrated gradients, SmoothGrad, occlusion, RISE, deletion/insertion) run over many
//! perturbed copies of it. Perturbations are built on the host, where they are cheap, and
//! sent to the model [`BATCH`] at a time, the batch size at which the fused kernels reach
//! their per-image speed.
use crate::attribute::attribute;
use crate::error::{AttributionError, Result};
use candle_core::Tensor;
use convnet::{BackwardRule, ForwardOptions, ImageModel, ResolvedTarget, Target};
use ndarray::Array3;

/// How many perturbed copies go through the model at once.
pub const BATCH: usize = 16;

/// A normalised `[3, h, w]` image on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct HostImage {
    pub data: Vec<f32>,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl HostImage {
    /// Image `index` of the batch `x` (`[n, c, h, w]`).
    pub fn from_batch(x: &Tensor, index: usize) -> Result<Self> {
        let (n, c, h, w) = x.dims4()?;
        if index >= n {
            return Err(AttributionError::Input(format!(
                "image {index} of a batch of {n}"
            )));
        }
        Ok(HostImage {
            data: x.get(index)?.flatten_all()?.to_vec1::<f32>()?,
            channels: c,
            height: h,
            width: w,
        })
    }

    /// An image of the same size holding `data`.
    pub fn with_data(&self, data: Vec<f32>) -> Self {
        debug_assert_eq!(data.len(), self.data.len());
        HostImage {
            data,
            ..self.clone()
        }
    }

    pub fn plane(&self) -> usize {
        self.height * self.width
    }

    pub fn as_array(&self) -> Array3<f32> {
        Array3::from_shape_vec((self.channels, self.height, self.width), self.data.clone())
            .expect("sizes match")
    }
}

/// Stacks host images into one `[n, c, h, w]` tensor on the model's device.
pub(crate) fn stack(
    model: &dyn ImageModel,
    images: &[Vec<f32>],
    like: &HostImage,
) -> Result<Tensor> {
    let data: Vec<f32> = images.iter().flat_map(|v| v.iter().copied()).collect();
    Ok(Tensor::from_vec(
        data,
        (images.len(), like.channels, like.height, like.width),
        model.device(),
    )?)
}

/// What a forward-only method reads off the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Score {
    /// The unnormalised class score, or the unit's value (Captum's occlusion convention).
    Logit,
    /// The class's softmax probability (RISE, deletion and insertion); unit targets keep
    /// their value.
    Probability,
}

/// The target fixed for `image`: `Top1`/`Rank` become the class they pick on the image
/// itself, so that every perturbed copy is scored for the same class.
pub fn fix_target(model: &dyn ImageModel, image: &HostImage, target: &Target) -> Result<Target> {
    target.validate(model)?;
    if !matches!(target, Target::Top1 | Target::Rank(_)) {
        return Ok(target.clone());
    }
    let logits = model.forward(&stack(model, std::slice::from_ref(&image.data), image)?)?;
    Ok(target.fixed_for(&logits.to_vec2::<f32>()?[0]))
}

/// The target's score (fixed targets only) on the `n` inputs that `make(i)` builds, made and
/// run [`BATCH`] at a time so that thousands of perturbations never sit in memory at once.
pub fn scores(
    model: &dyn ImageModel,
    like: &HostImage,
    n: usize,
    mut make: impl FnMut(usize) -> Vec<f32>,
    target: &Target,
    score: Score,
) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(n);
    for start in (0..n).step_by(BATCH) {
        let chunk: Vec<Vec<f32>> = (start..n.min(start + BATCH)).map(&mut make).collect();
        let x = stack(model, &chunk, like)?;
        let fwd = model.forward_with(
            &x,
            &ForwardOptions {
                rule: BackwardRule::Gradient,
                capture: Target::layers_of(std::slice::from_ref(target)),
                probe: Vec::new(),
            },
        )?;
        let logits = fwd.logits.to_vec2::<f32>()?;
        match (target, score) {
            (Target::Class(c), Score::Probability) => {
                out.extend(logits.iter().map(|row| softmax_at(row, *c)))
            }
            _ => {
                let (s, _) = target.scores(model, &fwd, &logits)?;
                out.extend(s.to_vec1::<f32>()?);
            }
        }
    }
    Ok(out)
}

/// `softmax(row)[c]` in float64, stable for any logit range.
pub fn softmax_at(row: &[f32], c: usize) -> f32 {
    let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let z: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
    ((row[c] as f64 - m).exp() / z) as f32
}

/// Input gradients of a fixed `target` under `rule` at the `n` inputs that `make(i)` builds,
/// [`BATCH`] at a time, handed to `each(index, gradient, score)` in order so that callers
/// accumulate without keeping them all.
pub fn gradients(
    model: &dyn ImageModel,
    like: &HostImage,
    n: usize,
    mut make: impl FnMut(usize) -> Vec<f32>,
    target: &Target,
    rule: BackwardRule,
    mut each: impl FnMut(usize, &[f32], f32),
) -> Result<ResolvedTarget> {
    let mut resolved = None;
    let mut i = 0;
    for start in (0..n).step_by(BATCH) {
        let chunk: Vec<Vec<f32>> = (start..n.min(start + BATCH)).map(&mut make).collect();
        let x = stack(model, &chunk, like)?;
        for a in attribute(model, &x, std::slice::from_ref(target), rule)? {
            let a = &a[0];
            each(i, a.raw.as_slice().expect("standard layout"), a.score);
            resolved.get_or_insert_with(|| a.target.clone());
            i += 1;
        }
    }
    resolved.ok_or_else(|| AttributionError::Input("no inputs to differentiate".into()))
}
