//! The loader and interpreter on small graphs built here, node by node, against values
//! computed by direct loops: what the seven exported models of `tests/onnx_models.rs` do
//! not exercise (dilation, groups, count_include_pad, ceil_mode, the error messages), and
//! without `shared/`.
use super::proto::{
    data_type, AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TensorTypeProto, TypeProto,
    ValueInfoProto,
};
use super::run::Fusion;
use super::{OnnxModel, OnnxOptions};
use crate::{BackwardRule, ForwardOptions, ImageModel, Preprocessing, Resize};
use candle_core::{Device, Tensor, Var};
use prost::Message;
use std::path::PathBuf;

/// A graph under construction: input `x` of `[1, 3, side, side]`.
struct Builder {
    graph: GraphProto,
    opset: i64,
}

enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Str(&'static str),
}

impl Builder {
    fn new(side: i64) -> Self {
        let dims = [1, 3, side, side];
        let graph = GraphProto {
            name: "test".into(),
            input: vec![value_info("x", &dims)],
            ..Default::default()
        };
        Builder { graph, opset: 17 }
    }

    fn init(&mut self, name: &str, dims: &[i64], data: Vec<f32>) -> &mut Self {
        assert_eq!(dims.iter().product::<i64>() as usize, data.len());
        self.graph.initializer.push(TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: data_type::FLOAT,
            float_data: data,
            ..Default::default()
        });
        self
    }

    fn init_i64(&mut self, name: &str, data: Vec<i64>) -> &mut Self {
        let dims = [data.len() as i64];
        self.init_i64_shaped(name, &dims, data)
    }

    fn init_i64_shaped(&mut self, name: &str, dims: &[i64], data: Vec<i64>) -> &mut Self {
        self.graph.initializer.push(TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: data_type::INT64,
            int64_data: data,
            ..Default::default()
        });
        self
    }

    fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        output: &str,
        attrs: Vec<(&str, Attr)>,
    ) -> &mut Self {
        let attribute = attrs
            .into_iter()
            .map(|(name, a)| {
                let mut p = AttributeProto {
                    name: name.into(),
                    ..Default::default()
                };
                match a {
                    Attr::Int(i) => (p.r#type, p.i) = (2, i),
                    Attr::Ints(v) => (p.r#type, p.ints) = (7, v),
                    Attr::Str(v) => (p.r#type, p.s) = (3, v.as_bytes().to_vec()),
                }
                p
            })
            .collect();
        self.graph.node.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            name: format!("{op}_{}", self.graph.node.len()),
            op_type: op.into(),
            attribute,
            ..Default::default()
        });
        self
    }

    fn output(&mut self, name: &str) -> &mut Self {
        self.graph.output.push(value_info(name, &[]));
        self
    }

    fn bytes(&self) -> Vec<u8> {
        ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: self.opset,
            }],
            producer_name: "deepinside tests".into(),
            graph: Some(self.graph.clone()),
            ..Default::default()
        }
        .encode_to_vec()
    }

    /// Writes the model under a fresh temporary folder and returns its path.
    fn save(&self, test: &str) -> PathBuf {
        let path = temp_dir(test).join("model.onnx");
        std::fs::write(&path, self.bytes()).unwrap();
        path
    }
}

fn value_info(name: &str, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            dim_value: d,
                            dim_param: String::new(),
                        })
                        .collect(),
                }),
            }),
        }),
    }
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deepinside-onnx-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Deterministic values in [−1, 1).
fn pseudo(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let v = (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(seed.wrapping_mul(97));
            ((v >> 8) % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

fn options(side: u32) -> OnnxOptions {
    OnnxOptions {
        preprocessing: Some(Preprocessing {
            width: side,
            height: side,
            resize: Resize::Squash,
            pixel_scale: 1.0,
            mean: [0.0; 3],
            std: [1.0; 3],
        }),
        ..Default::default()
    }
}

fn load(b: &Builder, test: &str, side: u32) -> OnnxModel {
    OnnxModel::load_with(&b.save(test), &options(side)).unwrap_or_else(|e| panic!("{e}"))
}

fn input(side: usize, seed: u32) -> (Vec<f32>, Tensor) {
    let v = pseudo(3 * side * side, seed);
    let t = Tensor::from_slice(&v, (1, 3, side, side), &Device::Cpu).unwrap();
    (v, t)
}

fn logits(m: &OnnxModel, x: &Tensor) -> Vec<f32> {
    m.forward(x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// The input gradient of `Σ w_k · logit_k` under `rule`, by the node-by-node interpreter
/// (a capture forces it).
fn input_grad(m: &OnnxModel, x: &Tensor, w: &[f32], rule: BackwardRule) -> Vec<f32> {
    let v = Var::from_tensor(x).unwrap();
    let out = m
        .forward_with(v.as_tensor(), &ForwardOptions::with_rule(rule))
        .unwrap();
    let wt = Tensor::from_slice(w, out.logits.shape(), &Device::Cpu).unwrap();
    let s = (&out.logits * wt).unwrap().sum_all().unwrap();
    let g = s.backward().unwrap().remove(v.as_tensor()).unwrap();
    g.flatten_all().unwrap().to_vec1().unwrap()
}

fn assert_close(got: &[f32], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (*a as f64 - b).abs() <= tol * (1.0 + b.abs()),
            "{what}[{i}]: {a} vs {b}"
        );
    }
}

/// Direct loops: ONNX Conv on `[1, c, h, w]` with groups, dilation, stride and
/// `[top, left, bottom, right]` pads, weight `[o, c/groups, kh, kw]`.
#[allow(clippy::too_many_arguments)]
fn conv_direct(
    x: &[f64],
    (c, h, w): (usize, usize, usize),
    wt: &[f32],
    (o, kh, kw): (usize, usize, usize),
    bias: &[f32],
    groups: usize,
    stride: usize,
    dil: usize,
    pads: [usize; 4],
) -> (Vec<f64>, usize, usize) {
    let ho = (h + pads[0] + pads[2] - dil * (kh - 1) - 1) / stride + 1;
    let wo = (w + pads[1] + pads[3] - dil * (kw - 1) - 1) / stride + 1;
    let (cg, og) = (c / groups, o / groups);
    let mut y = vec![0f64; o * ho * wo];
    for oc in 0..o {
        let g = oc / og;
        for oy in 0..ho {
            for ox in 0..wo {
                let mut s = bias[oc] as f64;
                for ic in 0..cg {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy * stride + ky * dil) as isize - pads[0] as isize;
                            let ix = (ox * stride + kx * dil) as isize - pads[1] as isize;
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                continue;
                            }
                            let xv = x[((g * cg + ic) * h + iy as usize) * w + ix as usize];
                            s += wt[((oc * cg + ic) * kh + ky) * kw + kx] as f64 * xv;
                        }
                    }
                }
                y[(oc * ho + oy) * wo + ox] = s;
            }
        }
    }
    (y, ho, wo)
}

/// A Conv → Flatten graph on a `side`² input: every output equals the direct loops, and the
/// input gradient is their adjoint (d/dx_i Σ w·y = Σ w·(conv(e_i) − bias)).
struct ConvCase {
    side: usize,
    /// `(out, in / groups, kh, kw)`.
    dims: (usize, usize, usize, usize),
    groups: usize,
    stride: usize,
    dilation: usize,
    pads: [usize; 4],
}

impl ConvCase {
    fn check(&self, test: &str, seed: u32) {
        let ConvCase {
            side,
            dims: (o, ig, kh, kw),
            groups,
            stride,
            dilation,
            pads,
        } = *self;
        let wt = pseudo(o * ig * kh * kw, seed);
        let bias = pseudo(o, seed + 1);
        let mut b = Builder::new(side as i64);
        b.init(
            "w",
            &[o as i64, ig as i64, kh as i64, kw as i64],
            wt.clone(),
        )
        .init("b", &[o as i64], bias.clone())
        .node(
            "Conv",
            &["x", "w", "b"],
            "y",
            vec![
                ("group", Attr::Int(groups as i64)),
                ("dilations", Attr::Ints(vec![dilation as i64; 2])),
                ("strides", Attr::Ints(vec![stride as i64; 2])),
                ("pads", Attr::Ints(pads.iter().map(|&p| p as i64).collect())),
                ("kernel_shape", Attr::Ints(vec![kh as i64, kw as i64])),
            ],
        )
        .node("Flatten", &["y"], "logits", vec![])
        .output("logits");
        let m = load(&b, test, side as u32);
        let (xv, x) = input(side, seed + 2);
        let x64: Vec<f64> = xv.iter().map(|&v| v as f64).collect();
        let direct = |x: &[f64], bias: &[f32]| {
            let shape = (3, side, side);
            conv_direct(
                x,
                shape,
                &wt,
                (o, kh, kw),
                bias,
                groups,
                stride,
                dilation,
                pads,
            )
            .0
        };
        let want = direct(&x64, &bias);
        assert_close(&logits(&m, &x), &want, 1e-5, &format!("{test} {kh}×{kw}"));
        let w = pseudo(want.len(), seed + 3);
        let zero = vec![0f32; o];
        let grad_want: Vec<f64> = (0..x64.len())
            .map(|i| {
                let mut e = vec![0f64; x64.len()];
                e[i] = 1.0;
                let col = direct(&e, &zero);
                col.iter().zip(&w).map(|(a, b)| a * *b as f64).sum()
            })
            .collect();
        let g = input_grad(&m, &x, &w, BackwardRule::Gradient);
        assert_close(
            &g,
            &grad_want,
            1e-5,
            &format!("{test} {kh}×{kw} input gradient"),
        );
    }
}

/// Conv with groups 3, dilation 2, stride 2, asymmetric pads and a rectangular kernel:
/// 6 output channels over 3 groups, weight [6, 1, 3, 2] reading one input channel each.
#[test]
fn dilated_grouped_rectangular_convolution_matches_direct_loops() {
    ConvCase {
        side: 11,
        dims: (6, 1, 3, 2),
        groups: 3,
        stride: 2,
        dilation: 2,
        pads: [1, 2, 0, 1],
    }
    .check("conv", 3);
}

/// Dense stride-1 kernels one tap high or wide (1 × 3 and 3 × 1, dilation 2, asymmetric
/// pads on both axes), which run as one 1 × 1 convolution of shifted copies.
#[test]
fn one_tap_high_or_wide_kernels_match_direct_loops() {
    for (kh, kw) in [(1, 3), (3, 1)] {
        ConvCase {
            side: 7,
            dims: (4, 3, kh, kw),
            groups: 1,
            stride: 1,
            dilation: 2,
            pads: [1, 3, 2, 0],
        }
        .check("strip", 7);
    }
}

/// AveragePool 3×3 / 2 with pads 1, with and without count_include_pad, against the
/// window sums divided by 9 or by the number of pixels inside.
#[test]
fn average_pool_counts_padding_only_when_asked() {
    let side = 6;
    for include in [0, 1] {
        let mut b = Builder::new(side as i64);
        b.node(
            "AveragePool",
            &["x"],
            "y",
            vec![
                ("kernel_shape", Attr::Ints(vec![3, 3])),
                ("strides", Attr::Ints(vec![2, 2])),
                ("pads", Attr::Ints(vec![1, 1, 1, 1])),
                ("count_include_pad", Attr::Int(include)),
            ],
        )
        .node("Flatten", &["y"], "logits", vec![])
        .output("logits");
        let m = load(&b, &format!("avgpool{include}"), side as u32);
        let (xv, x) = input(side, 8);
        let mut want = Vec::new();
        for c in 0..3 {
            for oy in 0..3 {
                for ox in 0..3 {
                    let (mut s, mut n) = (0f64, 0);
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (iy, ix) = (oy * 2 + ky, ox * 2 + kx);
                            if (1..=side).contains(&iy) && (1..=side).contains(&ix) {
                                s += xv[(c * side + iy - 1) * side + ix - 1] as f64;
                                n += 1;
                            }
                        }
                    }
                    want.push(s / if include == 1 { 9.0 } else { n as f64 });
                }
            }
        }
        assert_close(
            &logits(&m, &x),
            &want,
            1e-6,
            &format!("count_include_pad={include}"),
        );
    }
}

/// MaxPool 3×3 / 2, ceil_mode, pads [0, 0, 1, 1]: padding never wins (−∞), the extra
/// ceil-mode window exists, and the gradient goes whole to each window's arg-max.
#[test]
fn max_pool_pads_with_minus_infinity_and_honours_ceil_mode() {
    let side = 6;
    let mut b = Builder::new(side as i64);
    b.node(
        "MaxPool",
        &["x"],
        "y",
        vec![
            ("kernel_shape", Attr::Ints(vec![3, 3])),
            ("strides", Attr::Ints(vec![2, 2])),
            ("pads", Attr::Ints(vec![0, 0, 1, 1])),
            ("ceil_mode", Attr::Int(1)),
        ],
    )
    .node("Flatten", &["y"], "logits", vec![])
    .output("logits");
    let m = load(&b, "maxpool", side as u32);
    // All inputs negative, so a zero-padded pool would give 0 on the border windows.
    let xv: Vec<f32> = pseudo(3 * side * side, 9).iter().map(|v| v - 2.0).collect();
    let x = Tensor::from_slice(&xv, (1, 3, side, side), &Device::Cpu).unwrap();
    // ceil((6 + 1 − 3) / 2) + 1 = 3 windows a side.
    let (mut want, mut arg) = (Vec::new(), Vec::new());
    for c in 0..3 {
        for oy in 0..3 {
            for ox in 0..3 {
                let mut best = (f32::NEG_INFINITY, 0);
                for ky in 0..3 {
                    for kx in 0..3 {
                        let (iy, ix) = (oy * 2 + ky, ox * 2 + kx);
                        if iy < side && ix < side {
                            let i = (c * side + iy) * side + ix;
                            if xv[i] > best.0 {
                                best = (xv[i], i);
                            }
                        }
                    }
                }
                want.push(best.0 as f64);
                arg.push(best.1);
            }
        }
    }
    assert_close(&logits(&m, &x), &want, 0.0, "max-pool");
    let w = pseudo(want.len(), 10);
    let mut grad_want = vec![0f64; xv.len()];
    for (i, &a) in arg.iter().enumerate() {
        grad_want[a] += w[i] as f64;
    }
    for rule in BackwardRule::ALL {
        // No ReLU: every rule is the gradient, and max-pool routes to the arg-max under all.
        let g = input_grad(&m, &x, &w, rule);
        assert_close(&g, &grad_want, 1e-6, &format!("max-pool {rule:?}"));
    }
}

/// Conv → Clip(0, 6) → GlobalAveragePool → Flatten → Gemm (transB) → Softmax: the
/// softmax is removed and reported, Clip from 0 counts as a rule unit, the fused chain and
/// the node-by-node interpreter agree, and the rules differ from the gradient exactly at
/// the Clip.
#[test]
fn relu6_chain_strips_softmax_counts_rule_units_and_runs_fused() {
    let side = 8;
    let mut b = Builder::new(side as i64);
    b.init("w", &[4, 3, 3, 3], pseudo(4 * 27, 11))
        .init("b", &[4], pseudo(4, 12))
        .init("lo", &[], vec![0.0])
        .init("hi", &[], vec![6.0])
        .init("fc", &[5, 4], pseudo(20, 13))
        .init("fcb", &[5], pseudo(5, 14))
        .node(
            "Conv",
            &["x", "w", "b"],
            "c",
            vec![("pads", Attr::Ints(vec![1, 1, 1, 1]))],
        )
        .node("Clip", &["c", "lo", "hi"], "r", vec![])
        .node("GlobalAveragePool", &["r"], "p", vec![])
        .node("Flatten", &["p"], "f", vec![])
        .node(
            "Gemm",
            &["f", "fc", "fcb"],
            "z",
            vec![("transB", Attr::Int(1))],
        )
        .node("Softmax", &["z"], "logits", vec![])
        .output("logits");
    let m = load(&b, "chain", side as u32);
    let summary = m.info().graph.clone().unwrap();
    assert_eq!(summary.stripped_output.as_deref(), Some("Softmax"));
    assert_eq!((summary.rule_units, summary.plain_units), (1, 0));
    assert!(
        summary.fused,
        "a chain-shaped graph runs on the fused CPU chain"
    );
    let (_, x) = input(side, 15);
    let fused = logits(&m, &x);
    let interpreted: Vec<f32> = m
        .forward_with(&x, &ForwardOptions::with_rule(BackwardRule::Gradient))
        .unwrap()
        .logits
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let want: Vec<f64> = interpreted.iter().map(|&v| v as f64).collect();
    assert_close(&fused, &want, 1e-6, "fused vs interpreted");
    assert_eq!(fused.len(), 5, "the logits before the softmax");
    let w = [0.0, 1.0, 0.0, 0.0, 0.0];
    let grad = input_grad(&m, &x, &w, BackwardRule::Gradient);
    let deconv = input_grad(&m, &x, &w, BackwardRule::DeconvNet);
    assert!(grad.iter().zip(&deconv).any(|(a, b)| (a - b).abs() > 1e-6));
}

/// A stage input that two shortcuts read (`d + r + r`) is not a chain the fused pass can
/// run, which hands a kept input to one reader: the graph stays on the interpreter and
/// computes the right values.
#[test]
fn two_shortcuts_from_one_value_stay_on_the_interpreter() {
    let side = 6;
    let (w1, b1, w2, b2) = (
        pseudo(4 * 27, 21),
        pseudo(4, 22),
        pseudo(4 * 36, 23),
        pseudo(4, 24),
    );
    let (fc, fcb) = (pseudo(3 * 4, 25), pseudo(3, 26));
    let pads = || vec![("pads", Attr::Ints(vec![1, 1, 1, 1]))];
    let mut b = Builder::new(side as i64);
    b.init("w1", &[4, 3, 3, 3], w1.clone())
        .init("b1", &[4], b1.clone())
        .init("w2", &[4, 4, 3, 3], w2.clone())
        .init("b2", &[4], b2.clone())
        .init("fc", &[3, 4], fc.clone())
        .init("fcb", &[3], fcb.clone())
        .node("Conv", &["x", "w1", "b1"], "c", pads())
        .node("Relu", &["c"], "r", vec![])
        .node("Conv", &["r", "w2", "b2"], "d", pads())
        .node("Add", &["d", "r"], "s1", vec![])
        .node("Add", &["s1", "r"], "s2", vec![])
        .node("GlobalAveragePool", &["s2"], "p", vec![])
        .node("Flatten", &["p"], "f", vec![])
        .node(
            "Gemm",
            &["f", "fc", "fcb"],
            "logits",
            vec![("transB", Attr::Int(1))],
        )
        .output("logits");
    let m = load(&b, "two-shortcuts", side as u32);
    assert!(!m.info().graph.as_ref().unwrap().fused);
    let (_, x) = input(side, 27);
    let dev = Device::Cpu;
    let t = |v: &[f32], shape: &[usize]| Tensor::from_slice(v, shape, &dev).unwrap();
    let conv = |x: &Tensor, w: &[f32], b: &[f32], cin: usize| {
        x.conv2d(&t(w, &[4, cin, 3, 3]), 1, 1, 1, 1)
            .unwrap()
            .broadcast_add(&t(b, &[1, 4, 1, 1]))
            .unwrap()
    };
    let r = conv(&x, &w1, &b1, 3).relu().unwrap();
    let s2 = ((conv(&r, &w2, &b2, 4) + &r).unwrap() + &r).unwrap();
    let z = s2
        .mean((2, 3))
        .unwrap()
        .matmul(&t(&fc, &[3, 4]).t().unwrap())
        .unwrap()
        .broadcast_add(&t(&fcb, &[1, 3]))
        .unwrap();
    let want: Vec<f64> = z
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|&v| v as f64)
        .collect();
    assert_close(&logits(&m, &x), &want, 1e-5, "logits");
}

/// Sigmoid and Tanh pass the plain gradient under every rule, and the JSON-facing summary
/// says that no unit obeys the rule.
#[test]
fn smooth_units_pass_the_plain_gradient_under_every_rule() {
    let side = 4;
    let mut b = Builder::new(side as i64);
    b.init("s", &[1, 3, 1, 1], vec![0.5, -1.0, 2.0])
        .node("Mul", &["x", "s"], "m", vec![])
        .node("Sigmoid", &["m"], "a", vec![])
        .node("Tanh", &["a"], "t", vec![])
        .node(
            "ReduceMean",
            &["t"],
            "r",
            vec![("axes", Attr::Ints(vec![2, 3]))],
        )
        .node("Flatten", &["r"], "logits", vec![])
        .output("logits");
    let m = load(&b, "smooth", side as u32);
    let summary = m.info().graph.clone().unwrap();
    assert_eq!((summary.rule_units, summary.plain_units), (0, 2));
    assert!(summary
        .notes
        .iter()
        .any(|n| n.contains("no ReLU-like unit")));
    let (xv, x) = input(side, 16);
    let w = [1.0, 1.0, 1.0];
    let grad = input_grad(&m, &x, &w, BackwardRule::Gradient);
    // d/dx mean(tanh(σ(s·x))) = s·σ'(s·x)·(1 − tanh²(σ(s·x))) / 16.
    let scale = [0.5, -1.0, 2.0];
    let want: Vec<f64> = xv
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let s = scale[i / (side * side)];
            let z = s * v as f64;
            let sg = 1.0 / (1.0 + (-z).exp());
            s * sg * (1.0 - sg) * (1.0 - sg.tanh().powi(2)) / 16.0
        })
        .collect();
    assert_close(&grad, &want, 1e-5, "plain gradient");
    for rule in [BackwardRule::DeconvNet, BackwardRule::GuidedBackprop] {
        assert_eq!(input_grad(&m, &x, &w, rule), grad, "{rule:?}");
    }
}

/// `Mul(x, Sigmoid(x))` runs as one SiLU op when nothing observes the sigmoid, and gives
/// what the two nodes give when a capture makes the pass go node by node; a Sigmoid that
/// scales another tensor (squeeze-excitation) is not taken for one.
#[test]
fn silu_pairs_fuse_and_equal_the_two_nodes() {
    let side = 4;
    let mut b = Builder::new(side as i64);
    b.init("s", &[1, 3, 1, 1], vec![3.0, -2.0, 5.0])
        .node("Mul", &["x", "s"], "m", vec![])
        .node("Sigmoid", &["m"], "g", vec![])
        .node("Mul", &["g", "m"], "silu", vec![])
        .node("Sigmoid", &["x"], "gate", vec![])
        .node("Mul", &["silu", "gate"], "scaled", vec![])
        .node(
            "ReduceMean",
            &["scaled"],
            "r",
            vec![("axes", Attr::Ints(vec![2, 3]))],
        )
        .node("Flatten", &["r"], "logits", vec![])
        .output("logits");
    let m = load(&b, "silu", side as u32);
    assert!(
        m.program
            .fusion
            .iter()
            .filter(|f| **f == Fusion::Skip)
            .count()
            == 1
    );
    let (xv, x) = input(side, 5);
    let w = [1.0, -0.5, 2.0];
    let fused = input_grad(&m, &x, &w, BackwardRule::GuidedBackprop);
    let v = Var::from_tensor(&x).unwrap();
    let opts = ForwardOptions {
        capture: vec!["g".into()],
        ..ForwardOptions::with_rule(BackwardRule::GuidedBackprop)
    };
    let out = m.forward_with(v.as_tensor(), &opts).unwrap();
    assert!(out.activations.contains_key("g"));
    let wt = Tensor::from_slice(&w, out.logits.shape(), &Device::Cpu).unwrap();
    let s = (&out.logits * wt).unwrap().sum_all().unwrap();
    let plain: Vec<f32> = s
        .backward()
        .unwrap()
        .remove(v.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let plain: Vec<f64> = plain.iter().map(|&v| v as f64).collect();
    assert_close(&fused, &plain, 1e-6, "fused against node by node");
    // d/dx of w_c · mean(silu(s·x) · σ(x)) in closed form.
    let scale = [3.0, -2.0, 5.0];
    let sig = |z: f64| 1.0 / (1.0 + (-z).exp());
    let want: Vec<f64> = xv
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = i / (side * side);
            let (x, z) = (v as f64, scale[c] * v as f64);
            let silu = z * sig(z);
            let dsilu = scale[c] * sig(z) * (1.0 + z * (1.0 - sig(z)));
            w[c] as f64 * (dsilu * sig(x) + silu * sig(x) * (1.0 - sig(x))) / 16.0
        })
        .collect();
    assert_close(&fused, &want, 1e-5, "closed form");
}

/// Shape → Gather → Concat computes a Reshape target from the input's batch size: it is
/// evaluated on the host for the batch in use, so one model runs any batch.
#[test]
fn shape_arithmetic_follows_the_batch_size() {
    let side = 4;
    let mut b = Builder::new(side as i64);
    b.init_i64("zero", vec![0])
        .init_i64("minus_one", vec![-1])
        .node("Shape", &["x"], "shape", vec![])
        .node(
            "Gather",
            &["shape", "zero"],
            "batch",
            vec![("axis", Attr::Int(0))],
        )
        .node(
            "Concat",
            &["batch", "minus_one"],
            "target",
            vec![("axis", Attr::Int(0))],
        )
        .node("Reshape", &["x", "target"], "logits", vec![])
        .output("logits");
    let m = load(&b, "shape", side as u32);
    let v = pseudo(2 * 3 * side * side, 17);
    let x = Tensor::from_slice(&v, (2, 3, side, side), &Device::Cpu).unwrap();
    let y = m.forward(&x).unwrap();
    assert_eq!(y.dims(), &[2, 3 * side * side]);
    let want: Vec<f64> = v.iter().map(|&v| v as f64).collect();
    assert_close(
        &y.flatten_all().unwrap().to_vec1().unwrap(),
        &want,
        0.0,
        "reshape",
    );
}

/// Attention-style graphs: a mask made by ScatterND into a ConstantOfShape (slice
/// assignment, as in shifted-window attention), shape arithmetic through Mod (negative
/// dividends take the divisor's sign, as ONNX's integer Mod), and a Gram matrix by Einsum,
/// all folded or run so that the logits and the input gradient are the closed forms.
#[test]
fn scatter_mod_and_einsum_run_with_exact_gradients() {
    let side = 4;
    let mut b = Builder::new(side as i64);
    b.init_i64("shape", vec![1, 3, 4, 4])
        .init_i64_shaped("where", &[2, 4], vec![0, 1, 2, 3, 0, 2, 0, 0])
        .init("updates", &[2], vec![2.0, -3.0])
        .init("one", &[1], vec![1.0])
        .init_i64("rows", vec![1, 3, 16])
        // Python's modulo: [-8 mod 9, 27 mod 18] = [1, 9]; C's fmod would give -8.
        .init_i64("dividend", vec![-8, 27])
        .init_i64("divisor", vec![9, 18])
        .node("ConstantOfShape", &["shape"], "zeros", vec![])
        .node("ScatterND", &["zeros", "where", "updates"], "marks", vec![])
        .node("Add", &["marks", "one"], "scale", vec![])
        .node("Mul", &["x", "scale"], "m", vec![])
        .node("Reshape", &["m", "rows"], "m3", vec![])
        .node(
            "Einsum",
            &["m3", "m3"],
            "gram",
            vec![("equation", Attr::Str("b c n, b d n -> b c d"))],
        )
        .node("Mod", &["dividend", "divisor"], "flat", vec![])
        .node("Reshape", &["gram", "flat"], "logits", vec![])
        .output("logits");
    let m = load(&b, "einsum", side as u32);
    let (xv, x) = input(side, 23);
    let n = side * side;
    let scale: Vec<f64> = (0..3 * n)
        .map(|i| match i {
            i if i == n + 2 * side + 3 => 3.0,
            i if i == 2 * n => -2.0,
            _ => 1.0,
        })
        .collect();
    let mv: Vec<f64> = xv.iter().zip(&scale).map(|(&x, s)| x as f64 * s).collect();
    let gram = |c: usize, d: usize| (0..n).map(|k| mv[c * n + k] * mv[d * n + k]).sum::<f64>();
    let want: Vec<f64> = (0..9).map(|i| gram(i / 3, i % 3)).collect();
    assert_close(&logits(&m, &x), &want, 1e-5, "Gram logits");
    let w = pseudo(9, 5);
    // d/dx_cn Σ w_cd G_cd = scale_cn Σ_d (w_cd + w_dc) m_dn.
    let want: Vec<f64> = (0..3 * n)
        .map(|i| {
            let (c, k) = (i / n, i % n);
            let s: f64 = (0..3)
                .map(|d| (w[c * 3 + d] + w[d * 3 + c]) as f64 * mv[d * n + k])
                .sum();
            scale[i] * s
        })
        .collect();
    assert_close(
        &input_grad(&m, &x, &w, BackwardRule::Gradient),
        &want,
        1e-5,
        "Gram gradient",
    );
}

/// Weights in a file beside the model (`external_data`) read as inline ones do.
#[test]
fn external_weights_read_from_the_file_beside_the_model() {
    let side = 4;
    let wt = pseudo(2 * 3, 18);
    let mut b = Builder::new(side as i64);
    b.init("w", &[2, 3, 1, 1], wt.clone())
        .node("Conv", &["x", "w"], "c", vec![])
        .node("GlobalAveragePool", &["c"], "p", vec![])
        .node("Flatten", &["p"], "logits", vec![])
        .output("logits");
    let inline = load(&b, "inline", side as u32);
    let dir = temp_dir("external");
    let bytes: Vec<u8> = wt.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join("weights.bin"), [vec![0u8; 8], bytes].concat()).unwrap();
    let t = &mut b.graph.initializer[0];
    t.float_data.clear();
    t.data_location = 1;
    let entry = |k: &str, v: &str| StringStringEntryProto {
        key: k.into(),
        value: v.into(),
    };
    t.external_data = vec![
        entry("location", "weights.bin"),
        entry("offset", "8"),
        entry("length", "24"),
    ];
    let path = dir.join("model.onnx");
    std::fs::write(&path, b.bytes()).unwrap();
    let external = OnnxModel::load_with(&path, &options(side as u32)).unwrap();
    let (_, x) = input(side, 19);
    assert_eq!(logits(&inline, &x), logits(&external, &x));
    // A missing external file is an error naming it.
    std::fs::remove_file(dir.join("weights.bin")).unwrap();
    let e = OnnxModel::load_with(&path, &options(side as u32))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("weights.bin"), "{e}");
}

/// Bad models are errors that name the file and say what is wrong: an unsupported op
/// (with its node, op type, opset and the supported list), a truncated file, a file that
/// is not ONNX, and an input of the wrong size.
#[test]
fn bad_models_are_errors_that_say_what_is_wrong() {
    let side = 4;
    let mut b = Builder::new(side as i64);
    b.node("GridSample", &["x", "x"], "g", vec![])
        .node("Flatten", &["g"], "logits", vec![])
        .output("logits");
    let path = b.save("unsupported");
    let e = OnnxModel::load_with(&path, &options(side as u32))
        .err()
        .unwrap()
        .to_string();
    for part in [
        "GridSample_0",
        "GridSample",
        "opset 17",
        "Conv",
        "model.onnx",
    ] {
        assert!(e.contains(part), "`{part}` missing from: {e}");
    }
    let mut ok = Builder::new(side as i64);
    ok.node("Flatten", &["x"], "logits", vec![])
        .output("logits");
    let bytes = ok.bytes();
    let dir = temp_dir("bad");
    for (name, data) in [
        ("truncated.onnx", bytes[..bytes.len() / 2].to_vec()),
        ("text.onnx", b"not a model at all\n".to_vec()),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        let e = OnnxModel::load_with(&p, &options(side as u32))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains(name), "{name}: {e}");
    }
    let p = ok.save("size");
    let e = OnnxModel::load_with(&p, &options(8))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("[batch, 3, 8, 8]"), "{e}");
}
