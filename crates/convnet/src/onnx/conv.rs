//! ONNX Conv (and AveragePool, which is a depthwise convolution with constant weights) on
//! the convolution kernels the built-in models use. Those kernels take square kernels,
//! one stride and dense or depthwise filters; the rest of ONNX's Conv is rewritten into
//! that form exactly: a dilated kernel becomes the equivalent kernel with zeros between its
//! taps, a rectangular one is embedded in a square with zero rows or columns and the
//! padding widened to match, and other group counts run as one dense convolution a group.
//!
//! A dense stride-1 kernel that is one tap high or wide (Inception's 1 × 7 and 7 × 1) would
//! do k times its work embedded in a k × k square. It runs instead as one 1 × 1 convolution
//! of the k shifted copies of its input stacked along the channels: im2col along one axis,
//! so the product is exactly the kernel's own size.
use crate::ops::{conv2d, Conv2dParams, Padding};
use candle_core::Tensor;
use std::sync::Arc;

/// A convolution ready to run: one set of parameters, or one per group.
#[derive(Debug)]
pub struct OnnxConv {
    groups: Vec<Arc<Conv2dParams>>,
    /// Input channels per group (when `groups.len() > 1`).
    per_group: usize,
    /// Set when `groups[0]` is the 1 × 1 convolution of a one-tap-high or -wide kernel.
    strip: Option<Strip>,
}

/// A 1 × k or k × 1 kernel as shifted copies of the padded input.
#[derive(Debug)]
struct Strip {
    /// The axis the taps run along: 2 (rows, a k × 1 kernel) or 3 (columns, 1 × k).
    axis: usize,
    taps: usize,
    /// The dilation: tap j reads the input shifted by j · step.
    step: usize,
    /// `[top, left, bottom, right]`.
    pads: [usize; 4],
}

/// What an ONNX Conv node says, with its constant weight `[out, in/g, kh, kw]`.
pub struct ConvSpec<'a> {
    pub weight: &'a [f32],
    pub dims: [usize; 4],
    pub bias: Option<&'a [f32]>,
    pub group: usize,
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// Explicit pads `[top, left, bottom, right]`, or `auto_pad`.
    pub pads: [usize; 4],
    pub auto_pad: String,
}

/// SAME_UPPER / SAME_LOWER padding of one axis.
fn same_pad(len: usize, k: usize, s: usize, upper: bool) -> (usize, usize) {
    let out = len.div_ceil(s);
    let total = ((out - 1) * s + k).saturating_sub(len);
    let small = total / 2;
    if upper {
        (small, total - small)
    } else {
        (total - small, small)
    }
}

impl OnnxConv {
    /// Builds the kernels for an input of `h × w`.
    pub fn new(spec: &ConvSpec<'_>, h: usize, w: usize) -> Result<OnnxConv, String> {
        let [out_c, in_g, kh, kw] = spec.dims;
        let [sh, sw] = spec.strides;
        if sh != sw {
            return Err(format!(
                "strides {sh}×{sw} differ; only equal strides are supported"
            ));
        }
        if spec.group == 0 || out_c % spec.group != 0 {
            return Err(format!("{out_c} output channels in {} groups", spec.group));
        }
        // The dilated kernel's extent, and its taps spread with zeros between them.
        let [dh, dw] = spec.dilations;
        let (eh, ew) = ((kh - 1) * dh + 1, (kw - 1) * dw + 1);
        let mut pads = spec.pads;
        match spec.auto_pad.as_str() {
            "" | "NOTSET" => {}
            "VALID" => pads = [0; 4],
            "SAME_UPPER" | "SAME_LOWER" => {
                let upper = spec.auto_pad == "SAME_UPPER";
                let (t, b) = same_pad(h, eh, sh, upper);
                let (l, r) = same_pad(w, ew, sw, upper);
                pads = [t, l, b, r];
            }
            other => return Err(format!("auto_pad {other} is not an ONNX value")),
        }
        if spec.group == 1 && sh == 1 && (kh == 1) != (kw == 1) {
            return Self::strip(spec, pads);
        }
        let k = eh.max(ew);
        // Embedding the kernel at rows/cols offset (oy, ox) of the k × k square shifts
        // every window by that offset, which the extra padding before cancels.
        let (oy, ox) = ((k - eh) / 2, (k - ew) / 2);
        let padding = Padding {
            top: pads[0] + oy,
            left: pads[1] + ox,
            bottom: pads[2] + (k - eh - oy),
            right: pads[3] + (k - ew - ox),
        };
        let mut square = vec![0f32; out_c * in_g * k * k];
        for o in 0..out_c * in_g {
            for y in 0..kh {
                for x in 0..kw {
                    square[o * k * k + (oy + y * dh) * k + ox + x * dw] =
                        spec.weight[o * kh * kw + y * kw + x];
                }
            }
        }
        let err = |e: candle_core::Error| e.to_string();
        let in_c = in_g * spec.group;
        // Dense (one group) and depthwise (one input channel a filter) are one kernel call.
        let depthwise = spec.group != 1 && in_g == 1 && out_c == in_c;
        if spec.group == 1 || depthwise {
            let p = Conv2dParams::new(
                square,
                [out_c, in_g, k, k],
                spec.bias.map(<[f32]>::to_vec),
                sh,
                padding,
                depthwise,
            )
            .map_err(err)?;
            return Ok(OnnxConv {
                groups: vec![Arc::new(p)],
                per_group: in_g,
                strip: None,
            });
        }
        let out_g = out_c / spec.group;
        let per = out_g * in_g * k * k;
        let groups = (0..spec.group)
            .map(|g| {
                Conv2dParams::new(
                    square[g * per..(g + 1) * per].to_vec(),
                    [out_g, in_g, k, k],
                    spec.bias.map(|b| b[g * out_g..(g + 1) * out_g].to_vec()),
                    sh,
                    padding,
                    false,
                )
                .map(Arc::new)
                .map_err(err)
            })
            .collect::<Result<_, _>>()?;
        Ok(OnnxConv {
            groups,
            per_group: in_g,
            strip: None,
        })
    }

    /// A dense stride-1 `1 × k` or `k × 1` kernel: tap j of input channel i becomes input
    /// channel `j · c + i` of a 1 × 1 convolution.
    fn strip(spec: &ConvSpec<'_>, pads: [usize; 4]) -> Result<OnnxConv, String> {
        let [out_c, in_c, kh, kw] = spec.dims;
        let (axis, taps, step) = if kh == 1 {
            (3, kw, spec.dilations[1])
        } else {
            (2, kh, spec.dilations[0])
        };
        let mut weight = vec![0f32; out_c * taps * in_c];
        for o in 0..out_c {
            for i in 0..in_c {
                for j in 0..taps {
                    weight[(o * taps + j) * in_c + i] = spec.weight[(o * in_c + i) * taps + j];
                }
            }
        }
        let p = Conv2dParams::new(
            weight,
            [out_c, taps * in_c, 1, 1],
            spec.bias.map(<[f32]>::to_vec),
            1,
            Padding::default(),
            false,
        )
        .map_err(|e| e.to_string())?;
        Ok(OnnxConv {
            groups: vec![Arc::new(p)],
            per_group: in_c,
            strip: Some(Strip {
                axis,
                taps,
                step,
                pads,
            }),
        })
    }

    /// AveragePool as a depthwise convolution of weight 1/(kh·kw) on `channels` channels
    /// (count_include_pad = 1; the caller divides by the window counts otherwise).
    pub fn average(
        channels: usize,
        kernel: [usize; 2],
        strides: [usize; 2],
        pads: [usize; 4],
    ) -> Result<OnnxConv, String> {
        let [kh, kw] = kernel;
        let weight = vec![1.0 / (kh * kw) as f32; channels * kh * kw];
        let spec = ConvSpec {
            weight: &weight,
            dims: [channels, 1, kh, kw],
            bias: None,
            group: channels,
            strides,
            dilations: [1, 1],
            pads,
            auto_pad: String::new(),
        };
        OnnxConv::new(&spec, 0, 0)
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if let Some(s) = &self.strip {
            let [t, l, b, r] = s.pads;
            let x = x.pad_with_zeros(2, t, b)?.pad_with_zeros(3, l, r)?;
            let len = x.dims()[s.axis]
                .checked_sub((s.taps - 1) * s.step)
                .filter(|&n| n > 0)
                .ok_or_else(|| {
                    candle_core::Error::Msg(format!(
                        "a {}-tap kernel is longer than its padded input {:?}",
                        s.taps,
                        x.dims()
                    ))
                })?;
            let shifted = (0..s.taps)
                .map(|j| x.narrow(s.axis, j * s.step, len))
                .collect::<candle_core::Result<Vec<_>>>()?;
            return conv2d(&Tensor::cat(&shifted, 1)?, &self.groups[0]);
        }
        match self.groups.as_slice() {
            [one] => conv2d(x, one),
            many => {
                let parts = many
                    .iter()
                    .enumerate()
                    .map(|(g, p)| conv2d(&x.narrow(1, g * self.per_group, self.per_group)?, p))
                    .collect::<candle_core::Result<Vec<_>>>()?;
                Tensor::cat(&parts, 1)
            }
        }
    }

    /// The single set of parameters, when the convolution is one kernel call (for fusing).
    pub fn single(&self) -> Option<&Arc<Conv2dParams>> {
        match self.groups.as_slice() {
            [one] if self.strip.is_none() => Some(one),
            _ => None,
        }
    }
}
