//! VGG16 with closed-form weights, so the VGG16 reference outputs can be checked without a
//! 500 MB download (see `shared/reference/vgg16-formula/README.md`): parameter `i` in
//! state-dict order, flat index `k`, weights `(2 / √fan_in) · sin(0.7 k + 1.3 i)`,
//! biases `0.01 · cos(0.3 k + i)`, computed in float64 and rounded to float32.
use super::StateDict;
use crate::error::Result;
use crate::models::vgg16::parameter_shapes;
use candle_core::{Device, Tensor};
use rayon::prelude::*;
use std::collections::HashMap;

/// The formula's state dict for torchvision's VGG16 layout.
pub fn vgg16_formula_state_dict() -> Result<StateDict> {
    let mut m = HashMap::new();
    for (i, (name, shape)) in parameter_shapes().into_iter().enumerate() {
        let n: usize = shape.iter().product();
        let i = i as f64;
        let values: Vec<f32> = if shape.len() > 1 {
            let fan_in: usize = shape[1..].iter().product();
            let scale = 2.0 / (fan_in as f64).sqrt();
            (0..n)
                .into_par_iter()
                .map(|k| (scale * (0.7 * k as f64 + 1.3 * i).sin()) as f32)
                .collect()
        } else {
            (0..n)
                .map(|k| (0.01 * (0.3 * k as f64 + i).cos()) as f32)
                .collect()
        };
        m.insert(
            name,
            Tensor::from_vec(values, shape.as_slice(), &Device::Cpu)?,
        );
    }
    Ok(StateDict::from_tensors("vgg16 closed-form weights", m))
}
