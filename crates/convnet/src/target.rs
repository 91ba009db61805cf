//! What to explain or maximise: a class score, the best classes of each image, one unit of any
//! layer, or a channel's mean activation (the paper's point that gradient visualisation
//! works for every layer, not only for class scores).
use crate::error::{ConvnetError, Result};
use crate::models::{ForwardOutput, ImageModel};
use candle_core::Tensor;

/// A scalar of the network's forward pass whose input gradient we want.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The unnormalised score (logit) of a class, by index.
    Class(usize),
    /// The best-scoring class of each image.
    Top1,
    /// The class ranked `k` (0 = best) for each image; `Rank(0..5)` are the top-5.
    Rank(usize),
    /// One unit of a named layer, indexed within one image's activation (`[c, y, x]` for a
    /// feature map, `[i]` for a vector).
    Neuron { layer: String, index: Vec<usize> },
    /// The spatial mean of one channel of a named layer.
    Channel { layer: String, channel: usize },
}

/// The target as it was applied to one image: which class it turned out to be, and a label.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ResolvedTarget {
    /// Class index for class targets.
    pub class: Option<usize>,
    /// Layer name for neuron and channel targets.
    pub layer: Option<String>,
    /// Unit index for neuron targets, `[channel]` for channel targets.
    pub unit: Option<Vec<usize>>,
    /// Human-readable description, e.g. `class 281 (n02123045 tabby)`.
    pub label: String,
}

/// Indices of the `k` largest `scores`, best first (ties keep index order).
pub fn top_k(scores: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    idx.truncate(k);
    idx
}

impl Target {
    /// This target with `Top1`/`Rank(k)` replaced by the class ranked there in `logits`
    /// (one image's scores), so that it means the same class on other views of the image
    /// (crops, scales); other targets are returned as they are.
    pub fn fixed_for(&self, logits: &[f32]) -> Target {
        match self {
            Target::Top1 => Target::Class(top_k(logits, 1)[0]),
            Target::Rank(k) => Target::Class(top_k(logits, k + 1)[*k]),
            other => other.clone(),
        }
    }

    /// Parses a class given as `top1`, an index or a WNID.
    pub fn class(spec: &str, model: &dyn ImageModel) -> Result<Target> {
        if spec.eq_ignore_ascii_case("top1") {
            return Ok(Target::Top1);
        }
        let c = model
            .classes()
            .resolve(spec)
            .map_err(ConvnetError::Target)?;
        Ok(Target::Class(c.index))
    }

    /// The top-k classes of each image, best first.
    pub fn top_k(k: usize) -> Vec<Target> {
        (0..k).map(Target::Rank).collect()
    }

    /// Checks the target against the model, with an error that lists what exists.
    pub fn validate(&self, model: &dyn ImageModel) -> Result<()> {
        let n = model.classes().len();
        match self {
            Target::Class(c) if *c >= n => Err(ConvnetError::Target(format!(
                "class index {c} is out of range: {} has classes 0..={}",
                model.name(),
                n - 1
            ))),
            Target::Rank(k) if *k >= n => Err(ConvnetError::Target(format!(
                "rank {k} is out of range: {n} classes"
            ))),
            Target::Neuron { layer, index } => {
                let info = model.layer(layer)?;
                if index.len() != info.shape.len()
                    || index.iter().zip(&info.shape).any(|(i, s)| i >= s)
                {
                    return Err(ConvnetError::Target(format!(
                        "neuron {index:?} is outside layer {layer}, whose shape per image is {:?}",
                        info.shape
                    )));
                }
                Ok(())
            }
            Target::Channel { layer, channel } => {
                let info = model.layer(layer)?;
                if *channel >= info.shape[0] {
                    return Err(ConvnetError::Target(format!(
                        "channel {channel} is out of range: layer {layer} has channels 0..={}",
                        info.shape[0] - 1
                    )));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Per-image values `[batch]` of this target in a forward pass (which must have captured
    /// [`Target::layer`]), differentiable, with what each one resolved to. `logits` are the
    /// pass's logits on the host, used to rank classes for `Top1`/`Rank`.
    pub fn scores(
        &self,
        model: &dyn ImageModel,
        out: &ForwardOutput,
        logits: &[Vec<f32>],
    ) -> Result<(Tensor, Vec<ResolvedTarget>)> {
        let batch = out.logits.dim(0)?;
        let classes = match self {
            Target::Class(c) => Some(vec![*c; batch]),
            Target::Top1 | Target::Rank(_) => Some(
                logits
                    .iter()
                    .map(|row| match self.fixed_for(row) {
                        Target::Class(c) => c,
                        _ => unreachable!("rank targets become classes"),
                    })
                    .collect(),
            ),
            _ => None,
        };
        if let Some(classes) = classes {
            return class_scores(model, &out.logits, &classes);
        }
        let layer = self.layer().expect("unit targets name a layer");
        let act = out
            .activations
            .get(layer)
            .ok_or_else(|| ConvnetError::Target(format!("layer {layer} was not captured")))?;
        let s = match self {
            Target::Neuron { index, .. } => {
                let mut t = act.clone();
                for &i in index {
                    // Index dimension 1 each time: dimension 0 stays the batch.
                    t = t.narrow(1, i, 1)?.squeeze(1)?;
                }
                t
            }
            Target::Channel { channel, .. } => {
                act.narrow(1, *channel, 1)?.flatten_from(1)?.mean(1)?
            }
            _ => unreachable!(),
        };
        Ok((s, vec![self.resolve_unit(); batch]))
    }

    /// The layers a forward pass must capture for `targets`, sorted, each once.
    pub fn layers_of(targets: &[Target]) -> Vec<String> {
        let mut layers: Vec<String> = targets
            .iter()
            .filter_map(|t| t.layer().map(str::to_string))
            .collect();
        layers.sort();
        layers.dedup();
        layers
    }

    /// The layer whose activation this target needs captured, if any.
    pub fn layer(&self) -> Option<&str> {
        match self {
            Target::Neuron { layer, .. } | Target::Channel { layer, .. } => Some(layer),
            _ => None,
        }
    }

    /// The class target as applied: its index and a label with WNID and name.
    pub fn resolve_class(class: usize, model: &dyn ImageModel) -> ResolvedTarget {
        let label = match model.classes().get(class) {
            Some(c) if c.name == class.to_string() => format!("class {class}"),
            Some(c) => format!("class {class} ({})", c.describe()),
            None => format!("class {class}"),
        };
        ResolvedTarget {
            class: Some(class),
            layer: None,
            unit: None,
            label,
        }
    }

    /// What a fixed target (a class, neuron or channel) resolves to; `Top1`/`Rank` need an
    /// image's logits first ([`Target::fixed_for`]) and resolve to themselves here.
    pub fn resolved(&self, model: &dyn ImageModel) -> ResolvedTarget {
        match self {
            Target::Class(c) => Target::resolve_class(*c, model),
            Target::Top1 | Target::Rank(_) => ResolvedTarget {
                class: None,
                layer: None,
                unit: None,
                label: format!("{self:?}"),
            },
            _ => self.resolve_unit(),
        }
    }

    fn resolve_unit(&self) -> ResolvedTarget {
        match self {
            Target::Neuron { layer, index } => ResolvedTarget {
                class: None,
                layer: Some(layer.clone()),
                unit: Some(index.clone()),
                label: format!("{layer} unit {index:?}"),
            },
            Target::Channel { layer, channel } => ResolvedTarget {
                class: None,
                layer: Some(layer.clone()),
                unit: Some(vec![*channel]),
                label: format!("{layer} channel {channel} (mean)"),
            },
            _ => unreachable!("only unit targets resolve without a class"),
        }
    }
}

/// Per-image scores of one class per image, gathered from `[batch, classes]` logits.
fn class_scores(
    model: &dyn ImageModel,
    logits: &Tensor,
    classes: &[usize],
) -> Result<(Tensor, Vec<ResolvedTarget>)> {
    let idx = Tensor::from_vec(
        classes.iter().map(|&c| c as u32).collect::<Vec<_>>(),
        (classes.len(), 1),
        logits.device(),
    )?;
    let s = logits.gather(&idx, 1)?.squeeze(1)?;
    Ok((
        s,
        classes
            .iter()
            .map(|&c| Target::resolve_class(c, model))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_targets_are_fixed_to_the_class_ranked_there() {
        let logits = [0.1f32, 3.0, -1.0, 2.0, 3.0];
        assert_eq!(top_k(&logits, 3), vec![1, 4, 3]);
        assert_eq!(Target::Top1.fixed_for(&logits), Target::Class(1));
        assert_eq!(Target::Rank(2).fixed_for(&logits), Target::Class(3));
        let unit = Target::Channel {
            layer: "head".into(),
            channel: 3,
        };
        assert_eq!(unit.fixed_for(&logits), unit);
    }
}
