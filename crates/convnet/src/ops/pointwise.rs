//! Element-wise units that candle either lacks or differentiates unsafely, each with its
//! own backward: the logistic sigmoid (candle-core has none, and 1/(1+e^−x) built from its
//! primitives gives ∞/∞ = NaN gradients where e^−x overflows) and the leaky ReLU, whose
//! backward follows a [`BackwardRule`].
use super::f32_data;
use crate::rule::BackwardRule;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

const CHUNK: usize = 1 << 14;

/// Which element-wise unit.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Unit {
    /// σ(x) = 1 / (1 + e^−x), PyTorch's float32 formula; its gradient σ(1 − σ) is plain
    /// under every rule.
    Sigmoid,
    /// x for x > 0, αx otherwise.
    Leaky { alpha: f32, rule: BackwardRule },
}

impl Unit {
    #[inline(always)]
    fn value(self, x: f32) -> f32 {
        match self {
            Unit::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Unit::Leaky { alpha, .. } => {
                if x > 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
        }
    }

    /// The input gradient from the output gradient `g`, the input `x` and output `y`.
    #[inline(always)]
    fn grad(self, g: f32, x: f32, y: f32) -> f32 {
        match self {
            Unit::Sigmoid => g * y * (1.0 - y),
            // The rules of docs/onnx.md: the gradient scales by the slope at x; DeconvNet
            // keeps the positive part of g whatever x (the reverse unit of a rectifier);
            // guided backprop keeps the positive part of g scaled by the slope at x.
            Unit::Leaky { alpha, rule } => {
                let slope = if x > 0.0 { 1.0 } else { alpha };
                match rule {
                    BackwardRule::Gradient => g * slope,
                    BackwardRule::DeconvNet => g.max(0.0),
                    BackwardRule::GuidedBackprop => g.max(0.0) * slope,
                }
            }
        }
    }
}

struct Forward(Unit);

impl CustomOp1 for Forward {
    fn name(&self) -> &'static str {
        "deepinside-pointwise"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_data(s, l, self.name())?;
        let mut y = vec![0f32; x.len()];
        let unit = self.0;
        y.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK))
            .for_each(|(y, x)| y.iter_mut().zip(x).for_each(|(y, &x)| *y = unit.value(x)));
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let both = Tensor::stack(&[arg.contiguous()?, res.contiguous()?], 0)?;
        Ok(Some(both.apply_op2_no_bwd(
            &grad.contiguous()?,
            &Backward(self.0),
        )?))
    }
}

/// The backward pass: input and output stacked as the first argument, the gradient second.
struct Backward(Unit);

impl CustomOp2 for Backward {
    fn name(&self) -> &'static str {
        "deepinside-pointwise-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let xy = f32_data(s1, l1, self.name())?;
        let g = f32_data(s2, l2, self.name())?;
        let n = g.len();
        if xy.len() != 2 * n {
            candle_core::bail!("{}: input and gradient sizes differ", self.name());
        }
        let (x, y) = xy.split_at(n);
        let unit = self.0;
        let mut out = vec![0f32; n];
        out.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(x.par_chunks(CHUNK).zip(y.par_chunks(CHUNK)))
            .for_each(|((o, g), (x, y))| {
                for i in 0..o.len() {
                    o[i] = unit.grad(g[i], x[i], y[i]);
                }
            });
        Ok((CpuStorage::F32(out), l2.shape().clone()))
    }
}

/// The logistic sigmoid, differentiated as σ(1 − σ).
pub fn sigmoid(x: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(Forward(Unit::Sigmoid))
}

/// The leaky ReLU with negative slope `alpha`, its backward pass following `rule`.
pub fn leaky_relu(x: &Tensor, alpha: f32, rule: BackwardRule) -> candle_core::Result<Tensor> {
    x.contiguous()?
        .apply_op1(Forward(Unit::Leaky { alpha, rule }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn grad(f: impl Fn(&Tensor) -> Tensor, xs: &[f32], gs: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let x = Var::new(xs, &Device::Cpu).unwrap();
        let y = f(x.as_tensor());
        let w = Tensor::new(gs, &Device::Cpu).unwrap();
        let g = (&y * w).unwrap().sum_all().unwrap().backward().unwrap();
        (
            y.to_vec1().unwrap(),
            g.get(x.as_tensor()).unwrap().to_vec1().unwrap(),
        )
    }

    #[test]
    fn sigmoid_is_finite_where_the_exponential_overflows() {
        let (y, g) = grad(|x| sigmoid(x).unwrap(), &[-200.0, 0.0, 200.0], &[1.0; 3]);
        assert_eq!(y, vec![0.0, 0.5, 1.0]);
        assert_eq!(g, vec![0.0, 0.25, 0.0]);
    }

    #[test]
    fn leaky_relu_rules() {
        let xs = [-2.0, 3.0, -1.0, 4.0];
        let gs = [1.0, 1.0, -1.0, -1.0];
        let run = |rule| grad(|x| leaky_relu(x, 0.1, rule).unwrap(), &xs, &gs).1;
        let close = |a: Vec<f32>, b: [f32; 4]| {
            assert!(
                a.iter().zip(b).all(|(u, v)| (u - v).abs() < 1e-7),
                "{a:?} vs {b:?}"
            )
        };
        close(run(BackwardRule::Gradient), [0.1, 1.0, -0.1, -1.0]);
        close(run(BackwardRule::DeconvNet), [1.0, 1.0, 0.0, 0.0]);
        close(run(BackwardRule::GuidedBackprop), [0.1, 1.0, 0.0, 0.0]);
        let (y, _) = grad(
            |x| leaky_relu(x, 0.1, BackwardRule::Gradient).unwrap(),
            &xs,
            &gs,
        );
        close(y, [-0.2, 3.0, -0.1, 4.0]);
    }
}
