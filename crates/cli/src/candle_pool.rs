//! candle's CPU thread pool, told to park its idle workers sooner.
//!
//! candle 0.11 runs its own ops (elementwise, broadcast, reductions) on a pool of worker
//! threads that spin 25 000 times after each op before parking. deepinside's kernels run
//! on rayon's pool, so on a machine with as many cores as threads (2 here) the spinning
//! workers take the cores the next convolution needs. An ONNX graph with many small
//! candle ops between kernels lost a third of its time this way: EfficientNet-B0's
//! squeeze-excitation and SiLU nodes put 32 % of a batch-1 gradient pass in that spin loop,
//! and a limit of 1 000 spins took the pass from 85 to 62 ms (docs/performance.md).

/// Spins before an idle candle worker parks (candle's default is 25 000).
const SPIN_LIMIT: &str = "1000";

/// Sets candle's spin limit unless the user set `CANDLE_BARRIER_POOL_SPIN_LIMIT`. Call at
/// the start of `main`, before any tensor op (the pool reads it once, when it starts).
pub fn park_idle_workers_sooner() {
    const VAR: &str = "CANDLE_BARRIER_POOL_SPIN_LIMIT";
    if std::env::var_os(VAR).is_none() {
        std::env::set_var(VAR, SPIN_LIMIT);
    }
}
