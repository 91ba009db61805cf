//! One forward pass, then one backward pass per target: the input gradient of every target
//! for every image of a batch. Images of a batch do not interact (eval-mode models), so the
//! per-image scores are summed and differentiated together.
use crate::error::Result;
use crate::reduce::Reduction;
use candle_core::{Tensor, Var};
use convnet::{BackwardRule, ForwardOptions, ForwardOutput, ImageModel};
use convnet::{ResolvedTarget, Target};
use ndarray::{Array2, Array3};

/// The attribution of one target for one image.
#[derive(Clone, Debug)]
pub struct Attribution {
    /// `[3, h, w]` input gradient under the chosen rule, in the model's normalised input space.
    pub raw: Array3<f32>,
    pub target: ResolvedTarget,
    /// The value of the differentiated score for this image.
    pub score: f32,
}

impl Attribution {
    /// The attribution reduced over colour channels.
    pub fn map(&self, reduction: Reduction) -> Array2<f32> {
        reduction.apply(self.raw.view())
    }

    /// ‖self − other‖₂ / ‖other‖₂ of the raw attributions, in float64 (how far one backward
    /// rule is from another on the same target).
    pub fn relative_difference(&self, other: &Attribution) -> f64 {
        let num: f64 = self
            .raw
            .iter()
            .zip(other.raw.iter())
            .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
            .sum();
        let den: f64 = other.raw.iter().map(|y| (*y as f64).powi(2)).sum();
        (num / den).sqrt()
    }
}

/// A forward pass kept for repeated backward passes.
pub(crate) struct Pass<'m> {
    model: &'m dyn ImageModel,
    input: Var,
    out: ForwardOutput,
    /// Logits on the host, `[batch][classes]`.
    pub logits: Vec<Vec<f32>>,
}

impl<'m> Pass<'m> {
    pub fn new(
        model: &'m dyn ImageModel,
        x: &Tensor,
        method: BackwardRule,
        targets: &[Target],
    ) -> Result<Self> {
        for t in targets {
            t.validate(model)?;
        }
        let capture = Target::layers_of(targets);
        let input = Var::from_tensor(x)?;
        let out = model.forward_with(
            input.as_tensor(),
            &ForwardOptions {
                rule: method,
                capture,
                probe: Vec::new(),
            },
        )?;
        let logits = out.logits.to_vec2::<f32>()?;
        Ok(Pass {
            model,
            input,
            out,
            logits,
        })
    }

    pub fn batch(&self) -> usize {
        self.logits.len()
    }

    /// Per-image scores `[batch]` of `target`, with what each one resolved to.
    fn scores(&self, target: &Target) -> Result<(Tensor, Vec<ResolvedTarget>)> {
        Ok(target.scores(self.model, &self.out, &self.logits)?)
    }

    /// Differentiates the per-image scores; one backward pass for the whole batch.
    pub fn attributions(
        &self,
        scores: &Tensor,
        resolved: Vec<ResolvedTarget>,
    ) -> Result<Vec<Attribution>> {
        let values = scores.to_vec1::<f32>()?;
        let grads = scores.sum_all()?.backward()?;
        let (b, c, h, w) = self.input.as_tensor().dims4()?;
        let g = match grads.get(self.input.as_tensor()) {
            Some(g) => g.flatten_all()?.to_vec1::<f32>()?,
            None => vec![0.0; b * c * h * w],
        };
        let per = c * h * w;
        Ok(resolved
            .into_iter()
            .enumerate()
            .map(|(i, target)| Attribution {
                raw: Array3::from_shape_vec((c, h, w), g[i * per..(i + 1) * per].to_vec())
                    .expect("sizes match"),
                target,
                score: values[i],
            })
            .collect())
    }

    /// The attribution of `target` for every image.
    pub fn attribute(&self, target: &Target) -> Result<Vec<Attribution>> {
        let (s, resolved) = self.scores(target)?;
        self.attributions(&s, resolved)
    }
}

/// Attributions of every target for every image of the normalised batch `x`:
/// `result[image][target]`. The forward pass runs once; each target costs one backward pass.
pub fn attribute(
    model: &dyn ImageModel,
    x: &Tensor,
    targets: &[Target],
    method: BackwardRule,
) -> Result<Vec<Vec<Attribution>>> {
    let pass = Pass::new(model, x, method, targets)?;
    let mut out: Vec<Vec<Attribution>> = (0..pass.batch())
        .map(|_| Vec::with_capacity(targets.len()))
        .collect();
    for t in targets {
        for (i, a) in pass.attribute(t)?.into_iter().enumerate() {
            out[i].push(a);
        }
    }
    Ok(out)
}
