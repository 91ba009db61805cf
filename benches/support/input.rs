//! The benchmarks' input: a smooth deterministic image batch in normalised units, the same
//! values as the peer scripts' `sin((i % 997) · 0.013)`.
use candle_core::{Device, Tensor};

pub fn smooth_batch(batch: usize) -> Tensor {
    let n = batch * 3 * 224 * 224;
    let v: Vec<f32> = (0..n).map(|i| ((i % 997) as f32 * 0.013).sin()).collect();
    Tensor::from_vec(v, (batch, 3, 224, 224), &Device::Cpu).unwrap()
}
