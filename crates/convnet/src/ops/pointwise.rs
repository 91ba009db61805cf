//! Element-wise units that candle either lacks or differentiates unsafely, each with its
//! own backward: the logistic sigmoid (candle-core has none, and 1/(1+e^−x) built from its
//! primitives gives ∞/∞ = NaN gradients where e^−x overflows), SiLU x·σ(x) as one op (as
//! candle's Sigmoid and Mul it costs four passes over the tensor forward and five back,
//! where it needs one each), and the leaky ReLU, whose backward follows a [`BackwardRule`].
//!
//! The backward passes recompute σ from the input rather than keeping the output: one
//! exponential per element costs less than copying the input and output side by side.
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
    /// x · σ(x) (SiLU, swish), the same σ; its gradient σ(1 + x(1 − σ)) is plain under every
    /// rule.
    Silu,
    /// x for x > 0, αx otherwise.
    Leaky { alpha: f32, rule: BackwardRule },
}

impl Unit {
    #[inline(always)]
    fn value(self, x: f32) -> f32 {
        match self {
            Unit::Sigmoid => sigma(x),
            Unit::Silu => x * sigma(x),
            Unit::Leaky { alpha, .. } => {
                if x > 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
        }
    }

    /// The input gradient from the output gradient `g` and the input `x`.
    #[inline(always)]
    fn grad(self, g: f32, x: f32) -> f32 {
        match self {
            Unit::Sigmoid => {
                let y = sigma(x);
                g * y * (1.0 - y)
            }
            Unit::Silu => {
                let s = sigma(x);
                g * (s * (1.0 + x * (1.0 - s)))
            }
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

/// σ(x) = 1 / (1 + e^−x): 0 where e^−x overflows, never NaN.
#[inline(always)]
fn sigma(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
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
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(arg.contiguous()?.apply_op2_no_bwd(
            &grad.contiguous()?,
            &Backward(self.0),
        )?))
    }
}

/// The backward pass: the input as the first argument, the gradient second.
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
        let x = f32_data(s1, l1, self.name())?;
        let g = f32_data(s2, l2, self.name())?;
        let n = g.len();
        if x.len() != n {
            candle_core::bail!("{}: input and gradient sizes differ", self.name());
        }
        let unit = self.0;
        let mut out = vec![0f32; n];
        out.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK).zip(x.par_chunks(CHUNK)))
            .for_each(|(o, (g, x))| {
                for i in 0..o.len() {
                    o[i] = unit.grad(g[i], x[i]);
                }
            });
        Ok((CpuStorage::F32(out), l2.shape().clone()))
    }
}

/// The logistic sigmoid, differentiated as σ(1 − σ).
pub fn sigmoid(x: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(Forward(Unit::Sigmoid))
}

/// SiLU x · σ(x) in one pass, differentiated as σ(1 + x(1 − σ)).
pub fn silu(x: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(Forward(Unit::Silu))
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
    fn silu_is_x_times_sigmoid_forward_and_back() {
        let xs = [-200.0, -3.0, -0.5, 0.0, 0.7, 2.5, 200.0];
        let gs = [1.0, -2.0, 0.5, 1.0, 3.0, -1.0, 1.0];
        let (y, g) = grad(|x| silu(x).unwrap(), &xs, &gs);
        let (y_ref, g_ref) = grad(|x| (x * sigmoid(x).unwrap()).unwrap(), &xs, &gs);
        for i in 0..xs.len() {
            assert!(
                (y[i] - y_ref[i]).abs() <= 1e-6 * y_ref[i].abs().max(1.0),
                "{i}"
            );
            assert!(
                (g[i] - g_ref[i]).abs() <= 1e-6 * g_ref[i].abs().max(1.0),
                "{i}"
            );
            assert!(y[i].is_finite() && g[i].is_finite());
        }
        // The closed form at 0: σ = ½, derivative ½.
        assert_eq!(g[3], 0.5);
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
