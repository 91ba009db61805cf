//! Custom candle operations with their own backward passes.
//!
//! candle's built-in ReLU, clamp, max-pool and convolution gradients differ from PyTorch
//! (ReLU gradient 1 at 0, clamp 0.5 at the bounds, max-pool gradient scaled by 1/k²,
//! no backward for overlapping pools) and compute weight gradients that attribution never
//! needs. Every op here holds its weights as constants and returns only the input gradient.
mod activation;
mod chain;
mod conv;
#[cfg(feature = "cuda")]
pub mod cuda;
mod depthwise;
mod gemm_conv;
mod linear;
mod maxpool;

pub use activation::{activation, ActivationKind};
pub use chain::{chain, Chain, Stage};
pub use conv::{conv2d, Conv2dParams, Padding};
pub use linear::{linear, LinearParams};
pub use maxpool::{max_pool2d, MaxPool2d};

use candle_core::{bail, CpuStorage, Layout};

/// The f32 data of a contiguous CPU tensor.
pub fn f32_data<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
) -> candle_core::Result<&'a [f32]> {
    let data = match storage {
        CpuStorage::F32(d) => d,
        _ => bail!("{op} expects f32 tensors"),
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("{op} expects a contiguous tensor"),
    }
}

/// The four dimensions of an NCHW layout.
pub(crate) fn nchw(layout: &Layout, op: &str) -> candle_core::Result<(usize, usize, usize, usize)> {
    match layout.shape().dims() {
        &[n, c, h, w] => Ok((n, c, h, w)),
        d => bail!("{op} expects an NCHW tensor, got shape {d:?}"),
    }
}

/// Number of rayon threads, used to decide between batch- and gemm-level parallelism.
pub(crate) fn threads() -> usize {
    rayon::current_num_threads().max(1)
}
