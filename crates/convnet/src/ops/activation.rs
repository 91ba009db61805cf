//! ReLU and ReLU6 whose backward pass follows a [`BackwardRule`].
use super::f32_data;
use crate::rule::BackwardRule;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use multiversion::multiversion;
use rayon::prelude::*;

/// The ReLU-like units the models use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivationKind {
    /// max(x, 0)
    Relu,
    /// min(max(x, 0), 6)
    Relu6,
}

impl ActivationKind {
    #[inline(always)]
    fn value(self, x: f32) -> f32 {
        match self {
            ActivationKind::Relu => x.max(0.0),
            ActivationKind::Relu6 => x.clamp(0.0, 6.0),
        }
    }

    /// `dst = unit(src)`, inlined into the kernel that writes its output through the unit.
    #[inline(always)]
    pub(super) fn write(self, dst: &mut [std::mem::MaybeUninit<f32>], src: &[f32]) {
        assert_eq!(dst.len(), src.len());
        match self {
            ActivationKind::Relu => {
                for (d, &v) in dst.iter_mut().zip(src) {
                    d.write(ActivationKind::Relu.value(v));
                }
            }
            ActivationKind::Relu6 => {
                for (d, &v) in dst.iter_mut().zip(src) {
                    d.write(ActivationKind::Relu6.value(v));
                }
            }
        }
    }

    /// The kernel's code for this unit (`kernels.cu`).
    #[cfg(feature = "cuda")]
    fn code(self) -> i32 {
        match self {
            ActivationKind::Relu => 0,
            ActivationKind::Relu6 => 1,
        }
    }

    /// Whether PyTorch's gradient passes at `x`: ReLU 1[x > 0], ReLU6 1[0 < x < 6].
    #[inline(always)]
    fn passes(self, x: f32) -> bool {
        match self {
            ActivationKind::Relu => x > 0.0,
            ActivationKind::Relu6 => x > 0.0 && x < 6.0,
        }
    }
}

const CHUNK: usize = 1 << 14;

struct ActivationOp {
    kind: ActivationKind,
    rule: BackwardRule,
}

impl CustomOp1 for ActivationOp {
    fn name(&self) -> &'static str {
        "deepinside-activation"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let mut y = f32_data(s, l, self.name())?.to_vec();
        apply_in_place(self.kind, &mut y);
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        use super::cuda::{self, launch};
        use candle_core::cuda_backend::cudarc::driver::PushKernelArg;
        let (x, dev) = cuda::input(s, l, self.name())?;
        let n = l.shape().elem_count();
        let mut y = cuda::output(&dev, n)?;
        let (ni, kind) = (cuda::int(n)?, self.kind.code());
        launch!(&dev, &cuda::OPS, "act_fwd", n; &x, &mut y, &ni, &kind)?;
        Ok((cuda::storage(y, &dev), l.shape().clone()))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        let g = arg.apply_op2_no_bwd(
            &grad,
            &ActivationBackward {
                kind: self.kind,
                rule: self.rule,
            },
        )?;
        Ok(Some(g))
    }
}

struct ActivationBackward {
    kind: ActivationKind,
    rule: BackwardRule,
}

impl CustomOp2 for ActivationBackward {
    fn name(&self) -> &'static str {
        "deepinside-activation-backward"
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
        if x.len() != g.len() {
            candle_core::bail!("{}: input and gradient sizes differ", self.name());
        }
        let mut out = g.to_vec();
        mask_in_place(self.kind, self.rule, x, &mut out);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        use super::cuda::{self, launch};
        use candle_core::cuda_backend::cudarc::driver::PushKernelArg;
        let (x, dev) = cuda::input(s1, l1, self.name())?;
        let (g, _) = cuda::input(s2, l2, self.name())?;
        let n = l1.shape().elem_count();
        if n != l2.shape().elem_count() {
            candle_core::bail!("{}: input and gradient sizes differ", self.name());
        }
        let mut out = cuda::output(&dev, n)?;
        let (ni, kind, rule) = (cuda::int(n)?, self.kind.code(), self.rule.code());
        launch!(&dev, &cuda::OPS, "act_bwd", n; &x, &g, &mut out, &ni, &kind, &rule)?;
        Ok((cuda::storage(out, &dev), l1.shape().clone()))
    }
}

/// `y ← unit(y)`, in parallel chunks.
pub(super) fn apply_in_place(kind: ActivationKind, y: &mut [f32]) {
    y.par_chunks_mut(CHUNK)
        .for_each(|y| activate_chunk(kind, y));
}

/// `y ← unit(y)` over one chunk, compiled for AVX2 as well and chosen at run time.
#[multiversion(targets("x86_64+avx2+fma"))]
fn activate_chunk(kind: ActivationKind, y: &mut [f32]) {
    match kind {
        ActivationKind::Relu => y
            .iter_mut()
            .for_each(|v| *v = ActivationKind::Relu.value(*v)),
        ActivationKind::Relu6 => y
            .iter_mut()
            .for_each(|v| *v = ActivationKind::Relu6.value(*v)),
    }
}

/// `g ← rule(g, mask)` where the mask is the unit's at `x`. `x` may be the unit's input or
/// its output: ReLU's `x > 0` and ReLU6's `0 < x < 6` hold for the output exactly when they
/// hold for the input (NaN fails both), which lets fused layers keep only their output.
pub(super) fn mask_in_place(kind: ActivationKind, rule: BackwardRule, x: &[f32], g: &mut [f32]) {
    g.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(g, x)| mask_chunk(kind, rule, x, g));
}

/// Evaluates `$body` with `$k` and `$r` bound to `$kind` and `$rule` as constants, one match
/// arm per (unit, rule), so that each loop in `$body` is compiled with both known and
/// vectorises (a rule chosen inside the loop kept it scalar).
macro_rules! per_unit_and_rule {
    ($kind:expr, $rule:expr, |$k:ident, $r:ident| $body:expr) => {{
        use ActivationKind::{Relu, Relu6};
        use BackwardRule::{DeconvNet, Gradient, GuidedBackprop};
        match ($kind, $rule) {
            (Relu, Gradient) => {
                let ($k, $r) = (Relu, Gradient);
                $body
            }
            (Relu, DeconvNet) => {
                let ($k, $r) = (Relu, DeconvNet);
                $body
            }
            (Relu, GuidedBackprop) => {
                let ($k, $r) = (Relu, GuidedBackprop);
                $body
            }
            (Relu6, Gradient) => {
                let ($k, $r) = (Relu6, Gradient);
                $body
            }
            (Relu6, DeconvNet) => {
                let ($k, $r) = (Relu6, DeconvNet);
                $body
            }
            (Relu6, GuidedBackprop) => {
                let ($k, $r) = (Relu6, GuidedBackprop);
                $body
            }
        }
    }};
}

/// [`mask_in_place`] over one chunk, compiled for AVX2 as well and chosen at run time.
#[multiversion(targets("x86_64+avx2+fma"))]
fn mask_chunk(kind: ActivationKind, rule: BackwardRule, x: &[f32], g: &mut [f32]) {
    per_unit_and_rule!(kind, rule, |k, r| for (g, &x) in g.iter_mut().zip(x) {
        *g = r.apply(*g, k.passes(x));
    })
}

/// A ReLU-like unit's backward rule and the values the unit was applied at, for a kernel
/// that applies it while it reads the gradient: the depthwise convolution's input gradient
/// masks each plane as it copies it into its scratch, which saves a pass over the whole
/// gradient (the separate pass was 9 % of a batch-16 saliency pass on EfficientNet-Lite0).
#[derive(Clone, Copy)]
pub(super) struct UnitMask<'a> {
    pub kind: ActivationKind,
    pub rule: BackwardRule,
    /// The unit's input or output (see [`mask_in_place`]), laid out as the gradient.
    pub at: &'a [f32],
}

/// `dst = rule(g, mask(x))` elementwise: [`mask_in_place`] into another buffer, inlined
/// into the kernel that reads the gradient.
#[inline(always)]
pub(super) fn masked_copy(
    kind: ActivationKind,
    rule: BackwardRule,
    x: &[f32],
    g: &[f32],
    dst: &mut [f32],
) {
    per_unit_and_rule!(
        kind,
        rule,
        |k, r| for ((d, &g), &x) in dst.iter_mut().zip(g).zip(x) {
            *d = r.apply(g, k.passes(x));
        }
    )
}

/// Applies a ReLU-like unit whose backward pass follows `rule`.
pub fn activation(
    x: &Tensor,
    kind: ActivationKind,
    rule: BackwardRule,
) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(ActivationOp { kind, rule })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn grad_of(kind: ActivationKind, rule: BackwardRule, xs: &[f32], gs: &[f32]) -> Vec<f32> {
        let x = Var::new(xs, &Device::Cpu).unwrap();
        let y = activation(x.as_tensor(), kind, rule).unwrap();
        let w = Tensor::new(gs, &Device::Cpu).unwrap();
        let loss = (y * w).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        grads.get(x.as_tensor()).unwrap().to_vec1().unwrap()
    }

    #[test]
    fn forward_values() {
        let x = Tensor::new(&[-1f32, 0.0, 3.0, 6.0, 7.5], &Device::Cpu).unwrap();
        let r = activation(&x, ActivationKind::Relu, BackwardRule::Gradient).unwrap();
        assert_eq!(r.to_vec1::<f32>().unwrap(), vec![0.0, 0.0, 3.0, 6.0, 7.5]);
        let r6 = activation(&x, ActivationKind::Relu6, BackwardRule::Gradient).unwrap();
        assert_eq!(r6.to_vec1::<f32>().unwrap(), vec![0.0, 0.0, 3.0, 6.0, 6.0]);
    }

    #[test]
    fn gradient_is_pytorch_subgradient_at_the_kinks() {
        let xs = [-1.0, 0.0, 3.0, 6.0, 7.5];
        let gs = [1.0, 1.0, -2.0, 1.0, 1.0];
        // ReLU: 1[x > 0] (0 at x = 0, unlike candle's built-in).
        assert_eq!(
            grad_of(ActivationKind::Relu, BackwardRule::Gradient, &xs, &gs),
            vec![0.0, 0.0, -2.0, 1.0, 1.0]
        );
        // ReLU6: 1[0 < x < 6] (0 at both bounds, not candle clamp's 0.5).
        assert_eq!(
            grad_of(ActivationKind::Relu6, BackwardRule::Gradient, &xs, &gs),
            vec![0.0, 0.0, -2.0, 0.0, 0.0]
        );
    }

    #[test]
    fn deconvnet_ignores_the_input_and_guided_combines_both() {
        let xs = [-1.0, 0.0, 3.0, 6.0, 2.0];
        let gs = [1.0, 1.0, -2.0, 1.0, 0.5];
        for kind in [ActivationKind::Relu, ActivationKind::Relu6] {
            assert_eq!(
                grad_of(kind, BackwardRule::DeconvNet, &xs, &gs),
                vec![1.0, 1.0, 0.0, 1.0, 0.5]
            );
        }
        assert_eq!(
            grad_of(ActivationKind::Relu, BackwardRule::GuidedBackprop, &xs, &gs),
            vec![0.0, 0.0, 0.0, 1.0, 0.5]
        );
        assert_eq!(
            grad_of(
                ActivationKind::Relu6,
                BackwardRule::GuidedBackprop,
                &xs,
                &gs
            ),
            vec![0.0, 0.0, 0.0, 0.0, 0.5]
        );
    }
}
