//! CUDA twins of the custom ops (built with `--features cuda`), and the helpers other crates'
//! custom ops use for theirs (`convnet::ops::cuda`). Kernel sources are compiled once per
//! process with NVRTC ([`KernelModule`]), so our own kernels need no nvcc at build time;
//! constant weights are uploaded once per device and kept with their parameters. Every
//! kernel mirrors its CPU loop (same tie rule, same summation order where the CPU fixes
//! one) so the two devices give the same numbers up to float rounding.
use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::{CudaSlice, LaunchConfig};
use candle_core::cuda_backend::{cudarc, CudaDevice, WrapErr};
use candle_core::{bail, CudaStorage, Layout, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// A CUDA C source compiled to PTX with NVRTC on first use and loaded per device under
/// its name.
pub struct KernelModule {
    pub name: &'static str,
    source: &'static str,
    ptx: OnceLock<std::result::Result<String, String>>,
}

impl KernelModule {
    pub const fn new(name: &'static str, source: &'static str) -> Self {
        KernelModule {
            name,
            source,
            ptx: OnceLock::new(),
        }
    }

    /// The PTX (compiled once per process).
    pub fn ptx(&self) -> Result<&str> {
        match self.ptx.get_or_init(|| {
            cudarc::nvrtc::compile_ptx(self.source)
                .map(|p| p.to_src())
                .map_err(|e| e.to_string())
        }) {
            Ok(p) => Ok(p.as_str()),
            Err(e) => bail!(
                "compiling the CUDA kernels of {} with NVRTC failed: {e}",
                self.name
            ),
        }
    }
}

/// The kernels of this folder's ops.
pub static OPS: KernelModule = KernelModule::new("deepinside-ops", include_str!("kernels.cu"));

/// The f32 data of a contiguous CUDA tensor, and its device.
pub fn input<'a>(
    s: &'a CudaStorage,
    l: &Layout,
    op: &str,
) -> Result<(cudarc::driver::CudaView<'a, f32>, CudaDevice)> {
    let data = s
        .as_cuda_slice::<f32>()
        .map_err(|_| candle_core::Error::Msg(format!("{op} expects f32 tensors")))?;
    match l.contiguous_offsets() {
        Some((start, end)) => Ok((data.slice(start..end), s.device().clone())),
        None => bail!("{op} expects a contiguous tensor"),
    }
}

/// A zeroed output buffer.
pub fn output(dev: &CudaDevice, len: usize) -> Result<CudaSlice<f32>> {
    dev.alloc_zeros::<f32>(len)
}

/// Wraps a result buffer as candle storage.
pub fn storage(slice: CudaSlice<f32>, dev: &CudaDevice) -> CudaStorage {
    CudaStorage::wrap_cuda_slice(slice, dev.clone())
}

/// One thread per element of `n`.
fn config(n: usize) -> Result<LaunchConfig> {
    let n = u32::try_from(n)
        .map_err(|_| candle_core::Error::Msg(format!("{n} elements is too many for one launch")))?;
    Ok(LaunchConfig::for_num_elems(n))
}

/// `i32` kernel argument from a size.
pub fn int(v: usize) -> Result<i32> {
    i32::try_from(v).map_err(|_| candle_core::Error::Msg(format!("{v} does not fit an i32")))
}

/// Launches a kernel whose arguments were pushed, one thread per element of `n`.
pub fn run(mut builder: cudarc::driver::LaunchArgs<'_>, n: usize) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    // SAFETY: every kernel in kernels.cu bounds-checks its thread index against the element
    // count it is given, and each call site pushes the arguments of its kernel's signature.
    unsafe { builder.launch(config(n)?) }.w()?;
    Ok(())
}

/// `launch!(dev, MODULE, "kernel", n; &a, &mut b, &k)`: load the kernel of a
/// [`KernelModule`], push the arguments, run one thread per element of `n`. The call site
/// needs `PushKernelArg` in scope.
#[macro_export]
macro_rules! cuda_launch {
    ($dev:expr, $module:expr, $name:expr, $n:expr; $($arg:expr),* $(,)?) => {{
        let module: &$crate::ops::cuda::KernelModule = $module;
        let func = $dev.get_or_load_custom_func($name, module.name, module.ptx()?)?;
        #[allow(unused_mut)]
        let mut builder = func.builder();
        $( builder.arg($arg); )*
        $crate::ops::cuda::run(builder, $n)
    }};
}
pub use crate::cuda_launch as launch;

/// A constant buffer on a device, shared by the ops that use it.
pub type DeviceBuffer = Arc<CudaSlice<f32>>;

/// Constant host data (weights, biases) copied to each device on first use.
#[derive(Default)]
pub struct DeviceCopies {
    copies: Mutex<HashMap<candle_core::cuda_backend::DeviceId, Arc<CudaSlice<f32>>>>,
}

impl DeviceCopies {
    /// `host` on `dev`, uploaded the first time.
    pub fn get(&self, dev: &CudaDevice, host: &[f32]) -> Result<DeviceBuffer> {
        let mut copies = self.copies.lock().expect("device copies lock");
        if let Some(c) = copies.get(&dev.id()) {
            return Ok(c.clone());
        }
        let slice = Arc::new(dev.cuda_stream().clone_htod(host).w()?);
        copies.insert(dev.id(), slice.clone());
        Ok(slice)
    }
}

/// A layer's weights and bias (zeros when it has none) on each device used.
#[derive(Clone, Debug, Default)]
pub struct LayerCopies {
    weight: DeviceCopies,
    bias: DeviceCopies,
}

impl LayerCopies {
    /// `weight` and `bias` (or `outputs` zeros) on `dev`, uploaded the first time.
    pub fn get(
        &self,
        dev: &CudaDevice,
        weight: &[f32],
        bias: Option<&[f32]>,
        outputs: usize,
    ) -> Result<(DeviceBuffer, DeviceBuffer)> {
        let zeros;
        let bias = match bias {
            Some(b) => b,
            None => {
                zeros = vec![0f32; outputs];
                &zeros
            }
        };
        Ok((self.weight.get(dev, weight)?, self.bias.get(dev, bias)?))
    }
}

impl Clone for DeviceCopies {
    /// A clone starts empty: copies belong to one set of host values.
    fn clone(&self) -> Self {
        DeviceCopies::default()
    }
}

impl std::fmt::Debug for DeviceCopies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceCopies")
    }
}
