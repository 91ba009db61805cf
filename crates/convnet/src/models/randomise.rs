//! Cascading weight randomisation (Adebayo et al. 2018, "Sanity checks for saliency maps"):
//! copies of a model whose top weight layers are re-drawn at random, from the logits down.
//! An explanation that is faithful to the model must change as its weights are destroyed;
//! one that stays the same is explaining the input, not the model.
//!
//! Each layer's weights (and biases) are re-drawn from N(0, s²), s the standard deviation of
//! the trained tensor, so that the randomised network keeps the trained one's activation
//! scales (Adebayo et al. re-initialise with the training initialiser, which also keeps
//! scale); batch-norm statistics are kept. Draws are seeded per tensor name, so a layer gets
//! the same random weights at every depth of the cascade.
use crate::error::Result;
use crate::rng::Rng;
use crate::weights::StateDict;
use candle_core::Tensor;
use std::collections::HashMap;

/// One step of the cascade: the layer it is named after and the state-dict key prefixes of
/// the weights it re-draws.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightGroup {
    pub layer: String,
    pub prefixes: Vec<String>,
}

impl WeightGroup {
    pub fn new(layer: impl Into<String>, prefixes: &[&str]) -> Self {
        WeightGroup {
            layer: layer.into(),
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        }
    }
}

/// FNV-1a: a stable per-name seed.
fn name_seed(seed: u64, name: &str) -> u64 {
    name.bytes().fold(0xcbf29ce484222325 ^ seed, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// `sd` with the weights and biases under every prefix of `groups` re-drawn.
pub fn randomise_state_dict(
    sd: &StateDict,
    groups: &[WeightGroup],
    seed: u64,
) -> Result<StateDict> {
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    for key in sd.keys() {
        let t = sd.tensor(key).expect("listed key");
        let hit = groups.iter().any(|g| {
            g.prefixes.iter().any(|p| {
                key.starts_with(p.as_str()) && (key.ends_with("weight") || key.ends_with("bias"))
            })
        });
        let t = if hit {
            let v = t
                .to_dtype(candle_core::DType::F32)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            let n = v.len().max(1) as f64;
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
            let sd_ = (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
            let mut rng = Rng::new(name_seed(seed, key));
            let r: Vec<f32> = (0..v.len()).map(|_| rng.normal() * sd_ as f32).collect();
            Tensor::from_vec(r, t.shape(), t.device())?
        } else {
            t.clone()
        };
        tensors.insert(key.to_string(), t);
    }
    Ok(StateDict::from_tensors(
        format!("{} (randomised)", sd.source().display()),
        tensors,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn only_the_named_weights_change_and_keep_their_scale() {
        let mut t = HashMap::new();
        let w: Vec<f32> = (0..4000).map(|i| ((i as f32) * 0.1).sin() * 0.2).collect();
        t.insert(
            "a.weight".to_string(),
            Tensor::from_vec(w.clone(), 4000, &Device::Cpu).unwrap(),
        );
        t.insert(
            "b.weight".to_string(),
            Tensor::from_vec(w.clone(), 4000, &Device::Cpu).unwrap(),
        );
        t.insert(
            "a_bn.running_var".to_string(),
            Tensor::ones(4, candle_core::DType::F32, &Device::Cpu).unwrap(),
        );
        let sd = StateDict::from_tensors("test", t);
        let g = [WeightGroup::new("a", &["a."])];
        let r = randomise_state_dict(&sd, &g, 0).unwrap();
        let a = r.tensor("a.weight").unwrap().to_vec1::<f32>().unwrap();
        assert_ne!(a, w);
        assert_eq!(r.tensor("b.weight").unwrap().to_vec1::<f32>().unwrap(), w);
        assert_eq!(r.tensor("a_bn.running_var").unwrap().dims(), &[4]);
        let std = |v: &[f32]| {
            (v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
        };
        assert!(
            (std(&a) / std(&w) - 1.0).abs() < 0.1,
            "{} vs {}",
            std(&a),
            std(&w)
        );
        // Same seed, same draw.
        let again = randomise_state_dict(&sd, &g, 0).unwrap();
        assert_eq!(
            again.tensor("a.weight").unwrap().to_vec1::<f32>().unwrap(),
            a
        );
    }
}
