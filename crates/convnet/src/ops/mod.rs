//! Custom candle operations with their own backward passes.
//!
//! candle's built-in ReLU, clamp, max-pool and convolution gradients differ from PyTorch
//! (ReLU gradient 1 at 0, clamp 0.5 at the bounds, max-pool gradient scaled by 1/k²,
//! no backward for overlapping pools) and compute weight gradients that attribution never
//! needs. Every op here holds its weights as constants and returns only the input gradient.
mod activation;
mod algorithm;
mod buffers;
mod chain;
mod channel_scale;
mod conv;
#[cfg(feature = "cuda")]
pub mod cuda;
mod depthwise;
mod gemm_conv;
mod linear;
mod maxpool;
mod pointwise;
mod winograd;

pub use activation::{activation, ActivationKind};
pub use algorithm::ConvAlgorithm;
pub use chain::{chain, Chain, Stage};
pub use channel_scale::{channel_scale, is_channel_scale};
pub use conv::{conv2d, fold_batch_norm, Conv2dParams, Padding};
pub use linear::{linear, LinearParams};
pub use maxpool::{max_pool2d, MaxPool2d};
pub use pointwise::{leaky_relu, sigmoid, silu};

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

/// Runs `f` on a thread of rayon's pool, so that the parallel loops inside it are split
/// between pool threads that are already awake.
///
/// Called from outside the pool, every parallel loop would hand its work to the pool and
/// put the calling thread to sleep until it is done: one sleep and wake-up per loop, and a
/// third thread competing for the cores. A batch-1 saliency pass of EfficientNet-Lite0
/// runs hundreds of such loops; entering the pool once for the whole pass cut the context
/// switches of its benchmark twelvefold and its time from 18–26 ms to 15 ms on two cores,
/// where the slow end came from processes in which waking a sleeping thread was slow
/// (docs/performance.md, item 8).
pub(crate) fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        f()
    } else {
        rayon::scope(|_| f())
    }
}

/// Number of rayon threads, used to decide between batch- and gemm-level parallelism.
pub(crate) fn threads() -> usize {
    rayon::current_num_threads().max(1)
}

#[cfg(test)]
mod tests {
    use super::on_pool;

    #[test]
    fn on_pool_runs_on_a_pool_thread_and_returns_the_value() {
        assert_eq!(rayon::current_thread_index(), None);
        let (index, value) = on_pool(|| (rayon::current_thread_index(), 6 * 7));
        assert!(index.is_some(), "ran on the calling thread");
        assert_eq!(value, 42);
    }

    #[test]
    fn on_pool_inside_the_pool_stays_on_the_same_thread() {
        let (outer, inner) = on_pool(|| {
            let outer = std::thread::current().id();
            (outer, on_pool(|| std::thread::current().id()))
        });
        assert_eq!(outer, inner);
    }
}
