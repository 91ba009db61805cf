//! `x · s` for an NCHW tensor `x` and one scale per image and channel `s` `[n, c, 1, 1]`:
//! the excitation of a squeeze-excitation block (EfficientNet, MobileNetV3), which the
//! exporters write as a broadcasting Mul.
//!
//! candle's broadcast product runs on candle's own thread pool and differentiates through a
//! broadcast and a sum; with two cores that pool's idle workers take the cores from the next
//! kernel (docs/onnx.md). Here the product and both gradients (`g · s`, and `Σ_hw g · x` for
//! the scale, which squeeze-excitation needs since `s` depends on the input) are single
//! passes on rayon's pool, as the other kernels.
use super::{f32_data, nchw};
use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

/// Whether `x · s` has the form this op computes: `x` `[n, c, h, w]`, `s` `[n, c, 1, 1]`,
/// both float32 on the CPU.
pub fn is_channel_scale(x: &Tensor, s: &Tensor) -> bool {
    match (x.dims(), s.dims()) {
        (&[n, c, _, _], &[sn, sc, 1, 1]) => {
            n == sn
                && c == sc
                && x.device().is_cpu()
                && s.device().is_cpu()
                && x.dtype() == candle_core::DType::F32
                && s.dtype() == candle_core::DType::F32
        }
        _ => false,
    }
}

/// `x · s` broadcast over each channel's plane (see [`is_channel_scale`] for the shapes).
pub fn channel_scale(x: &Tensor, s: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op2(&s.contiguous()?, Scale)
}

/// The forward product; also the input gradient, `g · s`.
struct Scale;

fn scale(x: &[f32], s: &[f32], plane: usize) -> Vec<f32> {
    let mut y = vec![0f32; x.len()];
    y.par_chunks_mut(plane.max(1))
        .zip(x.par_chunks(plane.max(1)))
        .zip(s.par_iter())
        .for_each(|((y, x), &s)| y.iter_mut().zip(x).for_each(|(y, x)| *y = x * s));
    y
}

impl CustomOp2 for Scale {
    fn name(&self) -> &'static str {
        "deepinside-channel-scale"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = nchw(l1, self.name())?;
        let x = f32_data(s1, l1, self.name())?;
        let s = f32_data(s2, l2, self.name())?;
        if s.len() != n * c {
            candle_core::bail!("{}: {} scales for {n} × {c} channels", self.name(), s.len());
        }
        Ok((CpuStorage::F32(scale(x, s, h * w)), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        s: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let gx = grad.apply_op2_no_bwd(s, &Scale)?;
        let gs = grad.apply_op2_no_bwd(x, &PlaneDot)?;
        Ok((Some(gx), Some(gs)))
    }
}

/// `Σ_hw g · x` per image and channel, `[n, c, 1, 1]`: the scale's gradient.
struct PlaneDot;

impl CustomOp2 for PlaneDot {
    fn name(&self) -> &'static str {
        "deepinside-channel-scale-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = nchw(l1, self.name())?;
        let g = f32_data(s1, l1, self.name())?;
        let x = f32_data(s2, l2, self.name())?;
        if g.len() != x.len() {
            candle_core::bail!("{}: gradient and input sizes differ", self.name());
        }
        let plane = (h * w).max(1);
        let dots: Vec<f32> = g
            .par_chunks(plane)
            .zip(x.par_chunks(plane))
            .map(|(g, x)| g.iter().zip(x).map(|(g, x)| g * x).sum())
            .collect();
        Ok((CpuStorage::F32(dots), Shape::from((n, c, 1, 1))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn product_and_both_gradients_equal_candles_broadcast() {
        let dev = Device::Cpu;
        let xs: Vec<f32> = (0..2 * 3 * 4 * 5)
            .map(|i| ((i * 37) % 23) as f32 / 7.0 - 1.5)
            .collect();
        let ss: Vec<f32> = (0..6).map(|i| i as f32 * 0.4 - 1.0).collect();
        let ws: Vec<f32> = (0..xs.len())
            .map(|i| ((i * 11) % 13) as f32 / 5.0 - 1.2)
            .collect();
        let w = Tensor::from_slice(&ws, (2, 3, 4, 5), &dev).unwrap();
        let run = |f: &dyn Fn(&Tensor, &Tensor) -> Tensor| {
            let x = Var::from_slice(&xs, (2, 3, 4, 5), &dev).unwrap();
            let s = Var::from_slice(&ss, (2, 3, 1, 1), &dev).unwrap();
            assert!(is_channel_scale(x.as_tensor(), s.as_tensor()));
            let y = f(x.as_tensor(), s.as_tensor());
            let g = (&y * &w).unwrap().sum_all().unwrap().backward().unwrap();
            let v = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            (
                v(&y),
                v(g.get(x.as_tensor()).unwrap()),
                v(g.get(s.as_tensor()).unwrap()),
            )
        };
        let ours = run(&|x, s| channel_scale(x, s).unwrap());
        let candle = run(&|x, s| x.broadcast_mul(s).unwrap());
        let close = |a: &[f32], b: &[f32], what: &str| {
            assert_eq!(a.len(), b.len());
            for (p, q) in a.iter().zip(b) {
                assert!(
                    (p - q).abs() <= 1e-5 * q.abs().max(1.0),
                    "{what}: {p} vs {q}"
                );
            }
        };
        close(&ours.0, &candle.0, "product");
        close(&ours.1, &candle.1, "input gradient");
        close(&ours.2, &candle.2, "scale gradient");
        assert!(!is_channel_scale(
            &Tensor::zeros((2, 3, 4, 5), candle_core::DType::F32, &dev).unwrap(),
            &Tensor::zeros((1, 3, 1, 1), candle_core::DType::F32, &dev).unwrap()
        ));
    }
}
