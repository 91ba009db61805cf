//! Fully connected layer with constant weights and an input-only backward pass. candle's
//! matmul backward also forms the weight gradient: for VGG16's first classifier layer
//! that is a 25088×4096 outer product (400 MB) per backward pass, for nothing.
use super::f32_data;
use super::gemm_conv::{matmul, MatRef};
use candle_core::{bail, CpuStorage, CustomOp1, Layout, Shape, Tensor};
use std::sync::Arc;

/// Weights `[out, in]` (PyTorch layout) and bias `[out]` of a linear layer.
#[derive(Clone, Debug)]
pub struct LinearParams {
    pub in_features: usize,
    pub out_features: usize,
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
    /// `weight` and the bias (zeros if none) on each CUDA device used.
    #[cfg(feature = "cuda")]
    on_device: super::cuda::LayerCopies,
}

impl LinearParams {
    pub fn new(
        weight: Vec<f32>,
        out_features: usize,
        in_features: usize,
        bias: Option<Vec<f32>>,
    ) -> candle_core::Result<Self> {
        if weight.len() != out_features * in_features {
            bail!(
                "linear weight has {} values, [{out_features}, {in_features}] needs {}",
                weight.len(),
                out_features * in_features
            );
        }
        if bias.as_ref().is_some_and(|b| b.len() != out_features) {
            bail!("linear bias does not have {out_features} values");
        }
        Ok(LinearParams {
            in_features,
            out_features,
            weight,
            bias,
            #[cfg(feature = "cuda")]
            on_device: Default::default(),
        })
    }

    /// Weights and bias on `dev` (uploaded on first use), and `n, in, out` as i32.
    #[cfg(feature = "cuda")]
    fn on(
        &self,
        dev: &candle_core::cuda_backend::CudaDevice,
        n: usize,
    ) -> candle_core::Result<(
        super::cuda::DeviceBuffer,
        super::cuda::DeviceBuffer,
        [i32; 3],
    )> {
        use super::cuda::int;
        let (w, b) =
            self.on_device
                .get(dev, &self.weight, self.bias.as_deref(), self.out_features)?;
        Ok((
            w,
            b,
            [int(n)?, int(self.in_features)?, int(self.out_features)?],
        ))
    }
}

impl LinearParams {
    /// `y [n × out] = x [n × in] · Wᵀ + b` on the CPU.
    pub(super) fn forward_cpu(&self, x: &[f32], n: usize) -> Vec<f32> {
        let mut y = vec![0f32; n * self.out_features];
        if let Some(b) = &self.bias {
            for row in y.chunks_mut(self.out_features) {
                row.copy_from_slice(b);
            }
        }
        matmul(
            &mut y,
            n,
            self.out_features,
            self.in_features,
            MatRef::rows(x, self.in_features),
            MatRef::transposed(&self.weight, self.in_features),
            self.bias.is_some(),
            true,
        );
        y
    }

    /// `dx [n × in] = g [n × out] · W` on the CPU.
    pub(super) fn input_grad_cpu(&self, g: &[f32], n: usize) -> Vec<f32> {
        let mut dx = vec![0f32; n * self.in_features];
        matmul(
            &mut dx,
            n,
            self.in_features,
            self.out_features,
            MatRef::rows(g, self.out_features),
            MatRef::rows(&self.weight, self.in_features),
            false,
            true,
        );
        dx
    }
}

/// `x W^T + b` for `x` of shape `[n, in]`.
pub fn linear(x: &Tensor, params: &Arc<LinearParams>) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(LinearOp(params.clone()))
}

struct LinearOp(Arc<LinearParams>);

fn rows(l: &Layout, width: usize, op: &str) -> candle_core::Result<usize> {
    match l.shape().dims() {
        &[n, f] if f == width => Ok(n),
        d => bail!("{op} expects [batch, {width}], got {d:?}"),
    }
}

impl CustomOp1 for LinearOp {
    fn name(&self) -> &'static str {
        "deepinside-linear"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let p = &*self.0;
        let x = f32_data(s, l, self.name())?;
        let n = rows(l, p.in_features, self.name())?;
        let y = p.forward_cpu(x, n);
        Ok((CpuStorage::F32(y), Shape::from((n, p.out_features))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        use super::cuda::{self, launch};
        use candle_core::cuda_backend::cudarc::driver::PushKernelArg;
        let p = &*self.0;
        let (x, dev) = cuda::input(s, l, self.name())?;
        let n = rows(l, p.in_features, self.name())?;
        let (wt, bias, a) = p.on(&dev, n)?;
        let len = n * p.out_features;
        let mut y = cuda::output(&dev, len)?;
        launch!(&dev, &cuda::OPS, "linear_fwd", len; &x, &*wt, &*bias, &mut y, &a[0], &a[1], &a[2])?;
        Ok((cuda::storage(y, &dev), Shape::from((n, p.out_features))))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(
            grad.contiguous()?
                .apply_op1_no_bwd(&LinearInputGrad(self.0.clone()))?,
        ))
    }
}

struct LinearInputGrad(Arc<LinearParams>);

impl CustomOp1 for LinearInputGrad {
    fn name(&self) -> &'static str {
        "deepinside-linear-input-grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let p = &*self.0;
        let g = f32_data(s, l, self.name())?;
        let n = rows(l, p.out_features, self.name())?;
        let dx = p.input_grad_cpu(g, n);
        Ok((CpuStorage::F32(dx), Shape::from((n, p.in_features))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        use super::cuda::{self, launch};
        use candle_core::cuda_backend::cudarc::driver::PushKernelArg;
        let p = &*self.0;
        let (g, dev) = cuda::input(s, l, self.name())?;
        let n = rows(l, p.out_features, self.name())?;
        let (wt, _, a) = p.on(&dev, n)?;
        let len = n * p.in_features;
        let mut dx = cuda::output(&dev, len)?;
        launch!(&dev, &cuda::OPS, "linear_bwd_input", len; &g, &*wt, &mut dx, &a[0], &a[1], &a[2])?;
        Ok((cuda::storage(dx, &dev), Shape::from((n, p.in_features))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn forward_and_input_gradient_match_candle_matmul() {
        let (n, i, o) = (3, 5, 4);
        let w: Vec<f32> = (0..o * i).map(|k| (k as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..o).map(|k| k as f32 * 0.1).collect();
        let x: Vec<f32> = (0..n * i).map(|k| (k as f32 * 0.11).cos()).collect();
        let p = Arc::new(LinearParams::new(w.clone(), o, i, Some(b.clone())).unwrap());
        let dev = Device::Cpu;
        let xv = Var::from_tensor(&Tensor::from_slice(&x, (n, i), &dev).unwrap()).unwrap();
        let y = linear(xv.as_tensor(), &p).unwrap();
        let wt = Tensor::from_slice(&w, (o, i), &dev).unwrap();
        let bt = Tensor::from_slice(&b, o, &dev).unwrap();
        let want = xv
            .as_tensor()
            .matmul(&wt.t().unwrap())
            .unwrap()
            .broadcast_add(&bt)
            .unwrap();
        let diff = (&y - &want)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-5);
        let g: Vec<f32> = (0..n * o).map(|k| k as f32 - 5.0).collect();
        let gt = Tensor::from_slice(&g, (n, o), &dev).unwrap();
        let dx = (&y * &gt).unwrap().sum_all().unwrap().backward().unwrap();
        let dx = dx.get(xv.as_tensor()).unwrap();
        let want_dx = gt.matmul(&wt).unwrap();
        let diff = (dx - want_dx)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-4);
    }
}
