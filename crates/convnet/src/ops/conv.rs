//! 2-D convolution (dense or depthwise) with constant weights: forward, and an input-only
//! backward. Weight gradients are never computed: attribution and synthesis differentiate
//! with respect to the image only.
use super::activation::{apply_in_place, mask_in_place, ActivationKind, UnitMask};
use super::{depthwise, f32_data, gemm_conv, nchw, on_pool, winograd, ConvAlgorithm};
use candle_core::{bail, CpuStorage, CustomOp1, Layout, Shape, Tensor};
use std::sync::{Arc, OnceLock};

/// Zero padding on each side, possibly asymmetric (TensorFlow "SAME" pads more at the end).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Padding {
    pub left: usize,
    pub right: usize,
    pub top: usize,
    pub bottom: usize,
}

impl Padding {
    /// The same padding on all four sides.
    pub fn symmetric(p: usize) -> Self {
        Padding {
            left: p,
            right: p,
            top: p,
            bottom: p,
        }
    }

    /// TensorFlow "SAME" padding for a square `size` input: out = ceil(size / stride),
    /// total = max((out − 1)·stride + kernel − size, 0), before = total / 2, after = the rest.
    pub fn tf_same(size: usize, kernel: usize, stride: usize) -> Self {
        let out = size.div_ceil(stride);
        let total = ((out - 1) * stride + kernel).saturating_sub(size);
        let before = total / 2;
        Padding {
            left: before,
            right: total - before,
            top: before,
            bottom: total - before,
        }
    }
}

/// Output positions `o` in `[lo, hi)` for which `o·stride + k − pad` falls inside `0..len`.
#[inline]
pub(super) fn valid_range(
    out_len: usize,
    len: usize,
    stride: usize,
    k: usize,
    pad: usize,
) -> (usize, usize) {
    let lo = if k >= pad {
        0
    } else {
        (pad - k).div_ceil(stride)
    };
    if len + pad < k + 1 {
        return (0, 0);
    }
    let hi = ((len - 1 + pad - k) / stride + 1).min(out_len);
    (lo.min(hi), hi)
}

/// Folds an eval-mode batch norm into a convolution's weight `[out, …]` and bias `[out]`,
/// in float64: w' = w·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β.
pub fn fold_batch_norm(
    weight: &mut [f32],
    bias: &mut [f32],
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    eps: f64,
) {
    let out = bias.len();
    let per_out = weight.len() / out.max(1);
    for o in 0..out {
        let scale = gamma[o] as f64 / (var[o] as f64 + eps).sqrt();
        for w in &mut weight[o * per_out..(o + 1) * per_out] {
            *w = (*w as f64 * scale) as f32;
        }
        bias[o] = ((bias[o] as f64 - mean[o] as f64) * scale + beta[o] as f64) as f32;
    }
}

/// The weights and geometry of one convolution layer (square kernel).
#[derive(Clone, Debug)]
pub struct Conv2dParams {
    pub out_channels: usize,
    pub in_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: Padding,
    /// One filter per channel (groups = channels), as in MobileNet/EfficientNet blocks.
    pub depthwise: bool,
    /// `[out, in / groups, k, k]`, row-major.
    pub(super) weight: Vec<f32>,
    pub(super) bias: Option<Vec<f32>>,
    /// A 3 × 3 stride-1 layer's Winograd kernels for the forward pass and for the input
    /// gradient, made from `weight` on first use on the CPU.
    winograd: OnceLock<winograd::Kernels>,
    winograd_adjoint: OnceLock<winograd::Kernels>,
    /// `weight` and the bias (zeros if none) on each CUDA device used.
    #[cfg(feature = "cuda")]
    on_device: super::cuda::LayerCopies,
}

impl Conv2dParams {
    /// Builds a convolution from a PyTorch-layout weight `[out, in/groups, k, k]`.
    pub fn new(
        weight: Vec<f32>,
        shape: [usize; 4],
        bias: Option<Vec<f32>>,
        stride: usize,
        padding: Padding,
        depthwise: bool,
    ) -> candle_core::Result<Self> {
        let [out_c, in_per_group, kh, kw] = shape;
        if kh != kw {
            bail!("only square kernels are supported, got {kh}x{kw}");
        }
        if depthwise && in_per_group != 1 {
            bail!("a depthwise convolution has one input channel per filter, got {in_per_group}");
        }
        if weight.len() != out_c * in_per_group * kh * kw {
            bail!(
                "weight has {} values, shape {shape:?} needs {}",
                weight.len(),
                out_c * in_per_group * kh * kw
            );
        }
        if let Some(b) = &bias {
            if b.len() != out_c {
                bail!("bias has {} values for {out_c} output channels", b.len());
            }
        }
        if stride == 0 {
            bail!("stride must be at least 1");
        }
        Ok(Conv2dParams {
            out_channels: out_c,
            in_channels: if depthwise { out_c } else { in_per_group },
            kernel: kh,
            stride,
            padding,
            depthwise,
            weight,
            bias,
            winograd: OnceLock::new(),
            winograd_adjoint: OnceLock::new(),
            #[cfg(feature = "cuda")]
            on_device: Default::default(),
        })
    }

    /// Weights and bias on `dev` (uploaded on first use).
    #[cfg(feature = "cuda")]
    fn device_weights(
        &self,
        dev: &candle_core::cuda_backend::CudaDevice,
    ) -> candle_core::Result<(super::cuda::DeviceBuffer, super::cuda::DeviceBuffer)> {
        self.on_device
            .get(dev, &self.weight, self.bias.as_deref(), self.out_channels)
    }

    /// `n, cin, h, w, cout, ho, wo, k, s, pad top, pad left, depthwise` as the kernels take them.
    #[cfg(feature = "cuda")]
    fn kernel_args(
        &self,
        n: usize,
        h: usize,
        w: usize,
        ho: usize,
        wo: usize,
    ) -> candle_core::Result<[i32; 12]> {
        use super::cuda::int;
        Ok([
            int(n)?,
            int(self.in_channels)?,
            int(h)?,
            int(w)?,
            int(self.out_channels)?,
            int(ho)?,
            int(wo)?,
            int(self.kernel)?,
            int(self.stride)?,
            int(self.padding.top)?,
            int(self.padding.left)?,
            i32::from(self.depthwise),
        ])
    }

    /// Folds an eval-mode batch norm that follows this convolution into its weights and bias:
    /// `y = γ (conv(x) − μ) / √(σ² + ε) + β`.
    pub fn fold_batch_norm(
        &mut self,
        gamma: &[f32],
        beta: &[f32],
        mean: &[f32],
        var: &[f32],
        eps: f64,
    ) {
        let mut bias = self
            .bias
            .take()
            .unwrap_or_else(|| vec![0.0; self.out_channels]);
        fold_batch_norm(&mut self.weight, &mut bias, gamma, beta, mean, var, eps);
        self.bias = Some(bias);
        self.winograd = OnceLock::new();
        self.winograd_adjoint = OnceLock::new();
        #[cfg(feature = "cuda")]
        {
            self.on_device = Default::default();
        }
    }

    /// Output height and width for an `h × w` input.
    pub fn output_size(&self, h: usize, w: usize) -> candle_core::Result<(usize, usize)> {
        let hp = h + self.padding.top + self.padding.bottom;
        let wp = w + self.padding.left + self.padding.right;
        if hp < self.kernel || wp < self.kernel {
            bail!(
                "a {0}x{0} convolution does not fit a {h}x{w} input",
                self.kernel
            );
        }
        Ok((
            (hp - self.kernel) / self.stride + 1,
            (wp - self.kernel) / self.stride + 1,
        ))
    }

    /// Whether this layer runs Winograd: it has the shape and the process chose it.
    fn runs_winograd(&self) -> bool {
        ConvAlgorithm::current() == ConvAlgorithm::Winograd && winograd::applies(self)
    }

    /// The forward pass on `n` CPU images `[in, h, w]` giving `[out, ho, wo]` each.
    pub(super) fn forward_cpu(
        &self,
        x: &[f32],
        n: usize,
        h: usize,
        w: usize,
        ho: usize,
        wo: usize,
    ) -> Vec<f32> {
        if self.depthwise {
            depthwise::forward(self, x, None, n, h, w, ho, wo)
        } else if self.runs_winograd() {
            let k = self
                .winograd
                .get_or_init(|| winograd::Kernels::forward(self));
            winograd::forward(self, k, x, n, h, w, ho, wo)
        } else {
            gemm_conv::forward(self, x, n, h, w, ho, wo)
        }
    }

    /// [`Self::forward_cpu`] followed by the ReLU-like unit `act`; a depthwise convolution
    /// applies it as it writes each plane.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward_through_unit_cpu(
        &self,
        x: &[f32],
        act: ActivationKind,
        n: usize,
        h: usize,
        w: usize,
        ho: usize,
        wo: usize,
    ) -> Vec<f32> {
        if self.depthwise {
            return depthwise::forward(self, x, Some(act), n, h, w, ho, wo);
        }
        let mut y = self.forward_cpu(x, n, h, w, ho, wo);
        apply_in_place(act, &mut y);
        y
    }

    /// The input gradient on the CPU: the adjoint of [`Self::forward_cpu`].
    pub(super) fn input_grad_cpu(
        &self,
        g: &[f32],
        n: usize,
        h: usize,
        w: usize,
        ho: usize,
        wo: usize,
    ) -> Vec<f32> {
        if self.depthwise {
            depthwise::input_grad(self, g, None, n, h, w, ho, wo)
        } else if self.runs_winograd() {
            let k = self
                .winograd_adjoint
                .get_or_init(|| winograd::Kernels::adjoint(self));
            winograd::input_grad(self, k, g, n, h, w, ho, wo)
        } else {
            gemm_conv::input_grad(self, g, n, h, w, ho, wo)
        }
    }

    /// Whether [`Self::input_grad_through_unit_cpu`] saves the masked copy of the gradient.
    pub(super) fn masks_as_it_reads(&self) -> bool {
        self.depthwise
    }

    /// The input gradient when a ReLU-like unit followed the convolution: `g` is the
    /// gradient at the unit's output and `mask` the unit's rule and values. A depthwise
    /// convolution applies the rule as it reads each plane (see [`Self::masks_as_it_reads`]);
    /// the others take a masked copy.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn input_grad_through_unit_cpu(
        &self,
        g: &[f32],
        mask: UnitMask,
        n: usize,
        h: usize,
        w: usize,
        ho: usize,
        wo: usize,
    ) -> Vec<f32> {
        if self.depthwise {
            return depthwise::input_grad(self, g, Some(mask), n, h, w, ho, wo);
        }
        let mut masked = g.to_vec();
        mask_in_place(mask.kind, mask.rule, mask.at, &mut masked);
        self.input_grad_cpu(&masked, n, h, w, ho, wo)
    }

    /// Number of multiply-adds of the forward pass for an `h × w` input (one image).
    pub fn macs(&self, h: usize, w: usize) -> usize {
        let (ho, wo) = self.output_size(h, w).unwrap_or((0, 0));
        let per_out = if self.depthwise { 1 } else { self.in_channels };
        self.out_channels * ho * wo * per_out * self.kernel * self.kernel
    }
}

/// Applies `params` to an NCHW tensor; its backward pass gives the input gradient only.
pub fn conv2d(x: &Tensor, params: &Arc<Conv2dParams>) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(Conv2dOp(params.clone()))
}

struct Conv2dOp(Arc<Conv2dParams>);

impl Conv2dOp {
    /// Batch, input height and width, output height and width of an NCHW input.
    fn input_dims(&self, l: &Layout) -> candle_core::Result<(usize, usize, usize, usize, usize)> {
        let p = &*self.0;
        let (n, c, h, w) = nchw(l, self.name())?;
        if c != p.in_channels {
            bail!(
                "convolution expects {} input channels, got {c}",
                p.in_channels
            );
        }
        let (ho, wo) = p.output_size(h, w)?;
        Ok((n, h, w, ho, wo))
    }
}

impl CustomOp1 for Conv2dOp {
    fn name(&self) -> &'static str {
        "deepinside-conv2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let p = &*self.0;
        let x = f32_data(s, l, self.name())?;
        let (n, h, w, ho, wo) = self.input_dims(l)?;
        // On a pool thread: im2col and gemm are two parallel loops (see `on_pool`).
        let y = on_pool(|| p.forward_cpu(x, n, h, w, ho, wo));
        Ok((CpuStorage::F32(y), Shape::from((n, p.out_channels, ho, wo))))
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
        let (n, h, w, ho, wo) = self.input_dims(l)?;
        let (wt, bias) = p.device_weights(&dev)?;
        let len = n * p.out_channels * ho * wo;
        let mut y = cuda::output(&dev, len)?;
        let a = p.kernel_args(n, h, w, ho, wo)?;
        launch!(&dev, &cuda::OPS, "conv_fwd", len; &x, &*wt, &*bias, &mut y, &a[0], &a[1], &a[2], &a[3],
            &a[4], &a[5], &a[6], &a[7], &a[8], &a[9], &a[10], &a[11])?;
        Ok((
            cuda::storage(y, &dev),
            Shape::from((n, p.out_channels, ho, wo)),
        ))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let (_, _, h, w) = arg.dims4()?;
        let g = grad.contiguous()?.apply_op1_no_bwd(&Conv2dInputGrad {
            params: self.0.clone(),
            h,
            w,
        })?;
        Ok(Some(g))
    }
}

/// The adjoint of [`Conv2dOp`] with respect to its input.
struct Conv2dInputGrad {
    params: Arc<Conv2dParams>,
    h: usize,
    w: usize,
}

impl CustomOp1 for Conv2dInputGrad {
    fn name(&self) -> &'static str {
        "deepinside-conv2d-input-grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let p = &*self.params;
        let g = f32_data(s, l, self.name())?;
        let (n, _, ho, wo) = nchw(l, self.name())?;
        let dx = on_pool(|| p.input_grad_cpu(g, n, self.h, self.w, ho, wo));
        Ok((
            CpuStorage::F32(dx),
            Shape::from((n, p.in_channels, self.h, self.w)),
        ))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        use super::cuda::{self, launch};
        use candle_core::cuda_backend::cudarc::driver::PushKernelArg;
        let p = &*self.params;
        let (g, dev) = cuda::input(s, l, self.name())?;
        let (n, _, ho, wo) = nchw(l, self.name())?;
        let (wt, _) = p.device_weights(&dev)?;
        let len = n * p.in_channels * self.h * self.w;
        let mut dx = cuda::output(&dev, len)?;
        let a = p.kernel_args(n, self.h, self.w, ho, wo)?;
        launch!(&dev, &cuda::OPS, "conv_bwd_input", len; &g, &*wt, &mut dx, &a[0], &a[1], &a[2], &a[3],
            &a[4], &a[5], &a[6], &a[7], &a[8], &a[9], &a[10], &a[11])?;
        Ok((
            cuda::storage(dx, &dev),
            Shape::from((n, p.in_channels, self.h, self.w)),
        ))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Direct-loop reference convolution in f64.
    fn naive(p: &Conv2dParams, x: &[f32], n: usize, h: usize, w: usize) -> Vec<f64> {
        let (ho, wo) = p.output_size(h, w).unwrap();
        let k = p.kernel;
        let cin_g = if p.depthwise { 1 } else { p.in_channels };
        let mut y = vec![0f64; n * p.out_channels * ho * wo];
        for b in 0..n {
            for o in 0..p.out_channels {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let mut acc = p.bias.as_ref().map_or(0.0, |bb| bb[o] as f64);
                        for ci in 0..cin_g {
                            let c = if p.depthwise { o } else { ci };
                            for ky in 0..k {
                                for kx in 0..k {
                                    let iy = (oy * p.stride + ky) as isize - p.padding.top as isize;
                                    let ix =
                                        (ox * p.stride + kx) as isize - p.padding.left as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                        continue;
                                    }
                                    let xv = x[((b * p.in_channels + c) * h + iy as usize) * w
                                        + ix as usize];
                                    let wv = p.weight[((o * cin_g + ci) * k + ky) * k + kx];
                                    acc += xv as f64 * wv as f64;
                                }
                            }
                        }
                        y[((b * p.out_channels + o) * ho + oy) * wo + ox] = acc;
                    }
                }
            }
        }
        y
    }

    /// Deterministic values in [−1, 1], for the kernels' tests.
    pub(in crate::ops) fn pseudo(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) % 2001) as f32
                    / 1000.0
                    - 1.0
            })
            .collect()
    }

    fn cases() -> Vec<(Conv2dParams, usize, usize, usize)> {
        let mk = |o: usize, i: usize, k: usize, s: usize, pad: Padding, dw: bool, seed: u32| {
            let ipg = if dw { 1 } else { i };
            Conv2dParams::new(
                pseudo(o * ipg * k * k, seed),
                [o, ipg, k, k],
                Some(pseudo(o, seed + 7)),
                s,
                pad,
                dw,
            )
            .unwrap()
        };
        let uneven = Padding {
            left: 3,
            right: 0,
            top: 1,
            bottom: 2,
        };
        vec![
            (mk(5, 3, 3, 1, Padding::symmetric(1), false, 1), 2, 7, 6),
            (mk(4, 3, 3, 2, Padding::tf_same(8, 3, 2), false, 2), 2, 8, 8),
            (mk(4, 6, 1, 1, Padding::default(), false, 3), 3, 5, 4),
            (mk(3, 2, 5, 2, Padding::tf_same(9, 5, 2), false, 4), 1, 9, 7),
            (mk(6, 6, 3, 1, Padding::symmetric(1), true, 5), 2, 6, 5),
            (
                mk(
                    6,
                    6,
                    5,
                    2,
                    Padding {
                        left: 1,
                        right: 2,
                        top: 1,
                        bottom: 2,
                    },
                    true,
                    6,
                ),
                3,
                8,
                6,
            ),
            (
                mk(
                    4,
                    4,
                    3,
                    2,
                    Padding {
                        left: 0,
                        right: 1,
                        top: 0,
                        bottom: 1,
                    },
                    true,
                    7,
                ),
                1,
                6,
                9,
            ),
            // Stride 3 with a 7×7 kernel, uneven padding; and padding wider than the kernel
            // reaches (outputs whose taps all fall in the padding).
            (mk(3, 3, 7, 3, uneven, true, 8), 2, 11, 13),
            (mk(2, 2, 3, 1, Padding::symmetric(3), true, 9), 1, 4, 5),
            // Stride-2 depthwise rows split and merge as one de-interleaving loop where both
            // column phases read the image: odd and even sides, padding 0 to 3 (wider than
            // the kernel), a 1×1 kernel, and rows two pixels wide.
            (mk(3, 3, 3, 2, Padding::symmetric(1), true, 12), 1, 7, 7),
            (mk(2, 2, 5, 2, Padding::symmetric(2), true, 13), 2, 5, 4),
            (mk(2, 2, 3, 2, Padding::symmetric(3), true, 14), 1, 3, 2),
            (mk(2, 2, 1, 2, Padding::default(), true, 15), 1, 5, 5),
            // Dense strided convolutions take the polyphase im2col: a ResNet stem (7×7,
            // stride 2, pad 3) on odd and even sides, and stride 3 with uneven padding.
            (mk(4, 3, 7, 2, Padding::symmetric(3), false, 10), 1, 13, 10),
            (mk(3, 2, 7, 3, uneven, false, 11), 2, 11, 13),
        ]
    }

    #[test]
    fn forward_matches_direct_loops() {
        for (p, n, h, w) in cases() {
            let x = pseudo(n * p.in_channels * h * w, 11);
            let xt = Tensor::from_slice(&x, (n, p.in_channels, h, w), &Device::Cpu).unwrap();
            let y = conv2d(&xt, &Arc::new(p.clone())).unwrap();
            let got: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
            let want = naive(&p, &x, n, h, w);
            for (a, b) in got.iter().zip(&want) {
                assert!((*a as f64 - b).abs() < 1e-4, "{p:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn input_gradient_is_the_adjoint() {
        // <g, conv(x) - bias> = <conv^T(g), x> for every x and g, checked against the
        // direct loops (so the test does not trust the op it checks).
        for (p, n, h, w) in cases() {
            let x = pseudo(n * p.in_channels * h * w, 13);
            let xv = Var::from_tensor(
                &Tensor::from_slice(&x, (n, p.in_channels, h, w), &Device::Cpu).unwrap(),
            )
            .unwrap();
            let y = conv2d(xv.as_tensor(), &Arc::new(p.clone())).unwrap();
            let g = pseudo(y.elem_count(), 17);
            let gt = Tensor::from_slice(&g, y.shape(), &Device::Cpu).unwrap();
            let grads = (&y * &gt).unwrap().sum_all().unwrap().backward().unwrap();
            let dx: Vec<f32> = grads
                .get(xv.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            // Each unit vector e_i: d/dx_i <g, naive(x)> = <g, naive(e_i) - bias>.
            let mut zero_bias = p.clone();
            zero_bias.bias = None;
            for i in (0..x.len()).step_by(3) {
                let mut e = vec![0f32; x.len()];
                e[i] = 1.0;
                let col = naive(&zero_bias, &e, n, h, w);
                let want: f64 = col.iter().zip(&g).map(|(a, b)| a * *b as f64).sum();
                assert!(
                    (dx[i] as f64 - want).abs() < 1e-4,
                    "{p:?} element {i}: {} vs {want}",
                    dx[i]
                );
            }
        }
    }

    #[test]
    fn batch_norm_folding_keeps_the_math() {
        let (p, n, h, w) = cases().remove(1);
        let x = pseudo(n * p.in_channels * h * w, 19);
        let gamma = pseudo(p.out_channels, 3);
        let beta = pseudo(p.out_channels, 4);
        let mean = pseudo(p.out_channels, 5);
        let var: Vec<f32> = pseudo(p.out_channels, 6)
            .iter()
            .map(|v| v.abs() + 0.1)
            .collect();
        let mut folded = p.clone();
        folded.fold_batch_norm(&gamma, &beta, &mean, &var, 1e-3);
        let plain = naive(&p, &x, n, h, w);
        let fused = naive(&folded, &x, n, h, w);
        let (ho, wo) = p.output_size(h, w).unwrap();
        for (i, (a, b)) in plain.iter().zip(&fused).enumerate() {
            let o = (i / (ho * wo)) % p.out_channels;
            let bn = gamma[o] as f64 * (a - mean[o] as f64) / (var[o] as f64 + 1e-3).sqrt()
                + beta[o] as f64;
            assert!((bn - b).abs() < 1e-5, "{bn} vs {b}");
        }
    }

    #[test]
    fn tf_same_padding_matches_the_reference_table() {
        assert_eq!(
            Padding::tf_same(112, 3, 2),
            Padding {
                left: 0,
                right: 1,
                top: 0,
                bottom: 1
            }
        );
        assert_eq!(
            Padding::tf_same(56, 5, 2),
            Padding {
                left: 1,
                right: 2,
                top: 1,
                bottom: 2
            }
        );
        assert_eq!(Padding::tf_same(14, 5, 1), Padding::symmetric(2));
        assert_eq!(Padding::tf_same(7, 1, 1), Padding::default());
    }

    #[test]
    fn valid_range_bounds() {
        // out 4, len 8, stride 2, k 0, pad 1: o·2 − 1 in 0..8 → o in 1..4
        assert_eq!(valid_range(4, 8, 2, 0, 1), (1, 4));
        assert_eq!(valid_range(4, 8, 2, 2, 1), (0, 4));
        assert_eq!(valid_range(3, 1, 1, 0, 2), (2, 3));
    }
}
