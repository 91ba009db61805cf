//! The differentiable per-image quantities of one step: the target value (score, posterior,
//! neuron or channel mean) and the penalties on the image.
use crate::error::{Result, SynthesisError};
use crate::settings::{Objective, Penalties};
use candle_core::{Tensor, D};
use convnet::Target;
use convnet::{ForwardOutput, ImageModel};

/// Checks that `target` can be optimised under `objective`.
pub(crate) fn check_target(
    target: &Target,
    objective: Objective,
    model: &dyn ImageModel,
) -> Result<()> {
    target.validate(model)?;
    match target {
        Target::Top1 | Target::Rank(_) => Err(SynthesisError::Target(
            "top1/rank targets depend on an image; name a class, neuron or channel to synthesise"
                .into(),
        )),
        Target::Neuron { .. } | Target::Channel { .. } if objective == Objective::Posterior => {
            Err(SynthesisError::Target(
                "the posterior objective needs a class target (a softmax exists only over classes)"
                    .into(),
            ))
        }
        _ => Ok(()),
    }
}

/// Softmax posterior of class `classes[i]` for image `i`, `[batch]`, differentiable
/// (candle-nn's softmax over core ops, which subtracts the row maximum first).
pub(crate) fn posterior(logits: &Tensor, classes: &[usize]) -> Result<Tensor> {
    let p = candle_nn::ops::softmax(logits, D::Minus1)?;
    let idx = Tensor::from_vec(
        classes.iter().map(|&c| c as u32).collect::<Vec<_>>(),
        (classes.len(), 1),
        logits.device(),
    )?;
    Ok(p.gather(&idx, 1)?.squeeze(1)?)
}

/// Value of `targets[i]` on image `i` of a forward pass, `[batch]`.
pub(crate) fn target_values(
    targets: &[Target],
    objective: Objective,
    model: &dyn ImageModel,
    out: &ForwardOutput,
    logits: &[Vec<f32>],
) -> Result<Tensor> {
    if objective == Objective::Posterior {
        let classes: Vec<usize> = targets
            .iter()
            .map(|t| match t {
                Target::Class(c) => *c,
                _ => unreachable!("checked by check_target"),
            })
            .collect();
        return posterior(&out.logits, &classes);
    }
    let per: Vec<Tensor> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| Ok(t.scores(model, out, logits)?.0.narrow(0, i, 1)?))
        .collect::<Result<_>>()?;
    Ok(Tensor::cat(&per, 0)?)
}

/// Weighted penalties λ‖I‖²₂ + tv·TV(I) + l1·‖I‖₁ per image, `[batch]`, and each term's
/// unweighted value per image.
pub(crate) fn penalties(img: &Tensor, p: &Penalties) -> Result<(Tensor, PenaltyValues)> {
    let (_, _, h, w) = img.dims4()?;
    let per_image = |t: Tensor| -> Result<Tensor> { Ok(t.flatten_from(1)?.sum(1)?) };
    let l2 = per_image(img.sqr()?)?;
    let mut total = (&l2 * p.l2 as f64)?;
    let mut values = PenaltyValues {
        l2: l2.to_vec1()?,
        ..PenaltyValues::default()
    };
    if p.l1 > 0.0 {
        let l1 = per_image(img.abs()?)?;
        values.l1 = l1.to_vec1()?;
        total = (total + (l1 * p.l1 as f64)?)?;
    }
    if p.tv > 0.0 && h > 1 && w > 1 {
        let dx = (img.narrow(3, 1, w - 1)? - img.narrow(3, 0, w - 1)?)?.abs()?;
        let dy = (img.narrow(2, 1, h - 1)? - img.narrow(2, 0, h - 1)?)?.abs()?;
        let tv = (per_image(dx)? + per_image(dy)?)?;
        values.tv = tv.to_vec1()?;
        total = (total + (tv * p.tv as f64)?)?;
    }
    Ok((total, values))
}

/// Unweighted penalty terms per image (empty when the term is off).
#[derive(Clone, Debug, Default)]
pub(crate) struct PenaltyValues {
    pub l2: Vec<f32>,
    pub tv: Vec<f32>,
    pub l1: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn posterior_is_the_softmax() {
        let l = Tensor::new(&[[1f32, 2.0, 3.0], [0.0, 0.0, 1000.0]], &Device::Cpu).unwrap();
        let p = posterior(&l, &[2, 0]).unwrap().to_vec1::<f32>().unwrap();
        let want = 3f32.exp() / (1f32.exp() + 2f32.exp() + 3f32.exp());
        assert!((p[0] - want).abs() < 1e-6);
        assert!(p[1] < 1e-30);
    }

    #[test]
    fn penalties_by_hand() {
        // One 1×2×2 image per channel: [[1, -2], [0, 3]] in each of 3 channels.
        let one = [1f32, -2.0, 0.0, 3.0];
        let v: Vec<f32> = one.iter().cycle().take(12).copied().collect();
        let img = Tensor::from_vec(v, (1, 3, 2, 2), &Device::Cpu).unwrap();
        let p = Penalties {
            l2: 0.5,
            tv: 2.0,
            l1: 1.0,
        };
        let (total, vals) = penalties(&img, &p).unwrap();
        assert_eq!(vals.l2, vec![3.0 * 14.0]);
        assert_eq!(vals.l1, vec![3.0 * 6.0]);
        // |−2−1| + |3−0| across, |0−1| + |3+2| down = 12 per channel.
        assert_eq!(vals.tv, vec![3.0 * 12.0]);
        let t = total.to_vec1::<f32>().unwrap()[0];
        assert!((t - (0.5 * 42.0 + 2.0 * 36.0 + 18.0)).abs() < 1e-4);
    }
}
