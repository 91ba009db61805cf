//! Running a normalised ONNX graph on candle tensors. Convolutions, linear layers, pooling
//! and every ReLU-like unit run on the same custom ops as the built-in models, so they share
//! their kernels and their [`BackwardRule`]s; the remaining differentiable ops (additions,
//! products, transposes, layer norm, …) are candle's, whose gradients are exact for them.
use super::conv::{ConvSpec, OnnxConv};
use super::graph::{Graph, Node};
use super::host::{axis, reshape_dims, slice_axes, Host};
use super::host_ops::{
    self, axes_of, flatten_dims, shape_of, slice_spec, squeeze_dims, unsqueeze_dims,
};
use crate::ops::{self, ActivationKind, LinearParams, MaxPool2d};
use crate::rule::BackwardRule;
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// A value during a pass: a tensor on the model's device, or host shape arithmetic.
#[derive(Clone, Debug)]
pub enum Value {
    T(Tensor),
    H(Host),
}

/// A node's input: borrowed from the pass's values or the graph's constants, so that a
/// pass never copies a weight.
#[derive(Clone, Copy)]
enum Arg<'a> {
    T(&'a Tensor),
    H(&'a Host),
}

/// The ops that pass gradients under the chosen rule (ReLU-like units).
pub const RULE_OPS: &[&str] = &["Relu", "Clip", "LeakyRelu"];
/// Nonlinear ops that pass the plain gradient under every rule.
pub const PLAIN_NONLINEAR_OPS: &[&str] = &[
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "Tanh",
    "Erf",
    "Gelu",
    "Softplus",
    "Exp",
    "Log",
    "Sqrt",
    "Reciprocal",
    "Pow",
    "PRelu",
    "Softmax",
    "LogSoftmax",
    "Abs",
    "Max",
    "Min",
    "MaxPool",
    "GlobalMaxPool",
    "ReduceMax",
];

/// Every op a forward pass can run (host ops included).
pub const SUPPORTED_OPS: &[&str] = &[
    "Conv",
    "Gemm",
    "MatMul",
    "Einsum",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Sum",
    "Mean",
    "Max",
    "Min",
    "Pow",
    "Mod",
    "Relu",
    "Clip",
    "LeakyRelu",
    "PRelu",
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "Tanh",
    "Erf",
    "Gelu",
    "Softplus",
    "Exp",
    "Log",
    "Sqrt",
    "Neg",
    "Abs",
    "Reciprocal",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "ReduceMean",
    "ReduceSum",
    "ReduceMax",
    "Flatten",
    "Reshape",
    "Transpose",
    "Concat",
    "Split",
    "Slice",
    "Pad",
    "Squeeze",
    "Unsqueeze",
    "Gather",
    "Expand",
    "LayerNormalization",
    "BatchNormalization",
    "Softmax",
    "LogSoftmax",
    "Shape",
    "Size",
    "Cast",
    "ConstantOfShape",
    "Range",
    "Equal",
    "Less",
    "Greater",
    "Where",
    "Not",
    "Floor",
    "Ceil",
    "ReduceProd",
    "ScatterND",
    "Constant",
    "Identity",
    "Dropout",
];

/// Per-node state built on first use (it needs the input's shape).
#[derive(Debug, Default)]
struct Prepared {
    conv: OnceLock<Result<OnnxConv, String>>,
    linear: OnceLock<Option<Arc<LinearParams>>>,
    /// AveragePool without counted padding: output scaled by k² / (window count).
    counts: OnceLock<Option<Tensor>>,
}

/// How a node runs when no observer needs its output.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Fusion {
    /// As its op says.
    Plain,
    /// A Sigmoid whose only reader is a SiLU product: computed there instead.
    Skip,
    /// `Mul(x, Sigmoid(x))` (either order), the SiLU of the exporters (PyTorch writes
    /// `nn.SiLU` so): one pass forward and one back instead of candle's four and five.
    Silu { x: String },
}

/// A graph ready to run.
pub struct Program {
    pub graph: Graph,
    prepared: Vec<Prepared>,
    /// Per node, the fused form it takes in a pass without an observer.
    pub(super) fusion: Vec<Fusion>,
    /// For each node, the values whose last reader it is (freed after it runs).
    frees: Vec<Vec<String>>,
    /// Constants uploaded as float32 tensors, by name (CPU).
    uploads: Mutex<HashMap<String, Tensor>>,
}

type R<T> = Result<T, String>;

/// Sees each node's output tensor during a pass and returns the tensor to continue with.
pub type Observer<'a> = &'a mut dyn FnMut(&str, Tensor) -> R<Tensor>;

fn c<T>(r: candle_core::Result<T>) -> R<T> {
    r.map_err(|e| e.to_string())
}

impl Program {
    pub fn new(graph: Graph) -> R<Program> {
        for n in &graph.nodes {
            if !SUPPORTED_OPS.contains(&n.op.as_str()) {
                return Err(format!(
                    "node `{}`: op {} (opset {}) is not supported. Supported ops: {}. \
                     docs/onnx.md says how to re-export without it or add it",
                    n.name,
                    n.op,
                    graph.opset,
                    SUPPORTED_OPS.join(", ")
                ));
            }
        }
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (k, n) in graph.nodes.iter().enumerate() {
            for i in &n.inputs {
                last.insert(i.as_str(), k);
            }
        }
        let mut frees = vec![Vec::new(); graph.nodes.len()];
        for (name, k) in last {
            if name != graph.output && !name.is_empty() && !graph.consts.contains_key(name) {
                frees[k].push(name.to_string());
            }
        }
        let prepared = graph.nodes.iter().map(|_| Prepared::default()).collect();
        let fusion = silu_pairs(&graph);
        Ok(Program {
            graph,
            prepared,
            fusion,
            frees,
            uploads: Mutex::new(HashMap::new()),
        })
    }

    /// Node `k`'s convolution as one kernel call, once a pass has prepared it.
    pub fn conv_at(&self, k: usize) -> Option<Arc<crate::ops::Conv2dParams>> {
        self.prepared[k]
            .conv
            .get()?
            .as_ref()
            .ok()?
            .single()
            .cloned()
    }

    /// Node `k`'s Gemm as a linear layer, once a pass has prepared it.
    pub fn linear_at(&self, k: usize) -> Option<Arc<LinearParams>> {
        self.prepared[k].linear.get()?.clone()
    }

    /// A constant as a float32 tensor on `dev` (cached for the CPU).
    fn upload(&self, name: &str, h: &Host, dev: &Device) -> R<Tensor> {
        let make = || {
            let a = h.to_f32();
            let data: Vec<f32> = a.iter().copied().collect();
            c(Tensor::from_vec(data, a.shape(), dev))
        };
        if !dev.is_cpu() {
            return make();
        }
        let mut cache = self.uploads.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = cache.get(name) {
            return Ok(t.clone());
        }
        let t = make()?;
        cache.insert(name.to_string(), t.clone());
        Ok(t)
    }

    /// Runs the graph on `x`; every tensor a node computes is passed through `observe`
    /// (with the value's name), which returns what the graph continues with.
    pub fn run(
        &self,
        x: &Tensor,
        rule: BackwardRule,
        mut observe: Option<Observer<'_>>,
    ) -> R<Tensor> {
        let dev = x.device().clone();
        let mut values: HashMap<String, Value> = HashMap::new();
        values.insert(self.graph.input.clone(), Value::T(x.clone()));
        let fuse = observe.is_none();
        for (k, n) in self.graph.nodes.iter().enumerate() {
            match (&self.fusion[k], fuse) {
                (Fusion::Skip, true) => continue,
                (Fusion::Silu { x }, true) => {
                    let arg = match (values.get(x), self.graph.consts.get(x)) {
                        (Some(Value::T(t)), _) => t.clone(),
                        (Some(Value::H(h)), _) | (None, Some(h)) => self.upload(x, h, &dev)?,
                        (None, None) => return Err(format!("`{x}` is not computed")),
                    };
                    let y =
                        c(ops::silu(&arg)).map_err(|e| format!("node `{}` (SiLU): {e}", n.name))?;
                    values.insert(n.outputs[0].clone(), Value::T(y));
                    for f in &self.frees[k] {
                        values.remove(f);
                    }
                    continue;
                }
                _ => {}
            }
            let args: Vec<Option<Arg<'_>>> = n
                .inputs
                .iter()
                .map(|i| {
                    if i.is_empty() {
                        return Ok(None);
                    }
                    match (values.get(i), self.graph.consts.get(i)) {
                        (Some(Value::T(t)), _) => Ok(Some(Arg::T(t))),
                        (Some(Value::H(h)), _) | (None, Some(h)) => Ok(Some(Arg::H(h))),
                        (None, None) => Err(format!(
                            "node `{}` reads `{i}`, which nothing computes",
                            n.name
                        )),
                    }
                })
                .collect::<R<_>>()?;
            let outs = self
                .node(k, n, &args, rule, &dev)
                .map_err(|e| format!("node `{}` ({}): {e}", n.name, n.op))?;
            drop(args);
            for (name, v) in n.outputs.iter().zip(outs) {
                let v = match (v, observe.as_deref_mut()) {
                    (Value::T(t), Some(f)) => Value::T(f(name, t)?),
                    (v, _) => v,
                };
                values.insert(name.clone(), v);
            }
            for f in &self.frees[k] {
                values.remove(f);
            }
        }
        match values.remove(&self.graph.output) {
            Some(Value::T(t)) => Ok(t),
            Some(Value::H(_)) => Err("the output does not depend on the input".into()),
            None => Err(format!(
                "nothing computes the output `{}`",
                self.graph.output
            )),
        }
    }

    fn tensor(&self, n: &Node, args: &[Option<Arg<'_>>], i: usize, dev: &Device) -> R<Tensor> {
        match args.get(i) {
            Some(Some(Arg::T(t))) => Ok((*t).clone()),
            Some(Some(Arg::H(h))) => self.upload(n.input(i).unwrap_or_default(), h, dev),
            _ => Err(format!("input {i} is missing")),
        }
    }

    fn host<'a>(&self, args: &[Option<Arg<'a>>], i: usize) -> Option<&'a Host> {
        match args.get(i) {
            Some(Some(Arg::H(h))) => Some(h),
            _ => None,
        }
    }

    /// Evaluates node `k`.
    fn node(
        &self,
        k: usize,
        n: &Node,
        args: &[Option<Arg<'_>>],
        rule: BackwardRule,
        dev: &Device,
    ) -> R<Vec<Value>> {
        let all_host = args.iter().all(|a| !matches!(a, Some(Arg::T(_))));
        if all_host && host_ops::is_host_op(&n.op) {
            let hosts: Vec<Option<&Host>> = (0..args.len()).map(|i| self.host(args, i)).collect();
            return Ok(vec![Value::H(host_ops::eval(n, &hosts, self.graph.opset)?)]);
        }
        let x = || self.tensor(n, args, 0, dev);
        let t = |t: candle_core::Result<Tensor>| c(t).map(|t| vec![Value::T(t)]);
        let opset = self.graph.opset;
        match n.op.as_str() {
            "Shape" => Ok(vec![Value::H(shape_of(n, x()?.dims())?)]),
            "Size" => Ok(vec![Value::H(Host::ints(
                &[],
                vec![x()?.elem_count() as i64],
            )?)]),
            "Cast" => match n.int("to") {
                Some(1) | Some(10) | Some(11) => Ok(vec![Value::T(x()?)]),
                other => Err(format!("Cast of a tensor to data type {other:?}")),
            },
            "Conv" => {
                let x = x()?;
                let p = self.prepared[k]
                    .conv
                    .get_or_init(|| self.prepare_conv(n, x.dims()))
                    .as_ref()
                    .map_err(Clone::clone)?;
                t(p.forward(&x))
            }
            "Gemm" => self.gemm(k, n, args, dev).map(|t| vec![Value::T(t)]),
            "MatMul" => {
                let (a, b) = (x()?, self.tensor(n, args, 1, dev)?);
                super::einsum::matmul(&a, &b).map(|t| vec![Value::T(t)])
            }
            "Einsum" => {
                let operands = (0..n.inputs.len())
                    .map(|i| self.tensor(n, args, i, dev))
                    .collect::<R<Vec<_>>>()?;
                let eq = n.string("equation").ok_or("Einsum without an equation")?;
                super::einsum::einsum(&eq, &operands).map(|t| vec![Value::T(t)])
            }
            "Add" | "Sub" | "Mul" | "Div" | "Sum" | "Mean" | "Max" | "Min" | "Pow" => {
                let mut acc = x()?;
                let count = args.iter().flatten().count();
                for i in 1..args.len() {
                    if args[i].is_none() {
                        continue;
                    }
                    let b = self.tensor(n, args, i, dev)?;
                    acc = c(match n.op.as_str() {
                        "Add" | "Sum" | "Mean" => acc.broadcast_add(&b),
                        "Sub" => acc.broadcast_sub(&b),
                        // A squeeze-excitation's per-channel scale: one pass each way.
                        "Mul" if ops::is_channel_scale(&acc, &b) => ops::channel_scale(&acc, &b),
                        "Mul" if ops::is_channel_scale(&b, &acc) => ops::channel_scale(&b, &acc),
                        "Mul" => acc.broadcast_mul(&b),
                        "Div" => acc.broadcast_div(&b),
                        "Max" => acc.broadcast_maximum(&b),
                        "Min" => acc.broadcast_minimum(&b),
                        _ => match self.host(args, i).map(Host::scalar_f32) {
                            Some(Ok(e)) => acc.powf(e as f64),
                            _ => return Err("Pow needs a constant scalar exponent".into()),
                        },
                    })?;
                }
                if n.op == "Mean" {
                    acc = c(acc.affine(1.0 / count as f64, 0.0))?;
                }
                Ok(vec![Value::T(acc)])
            }
            "Relu" => t(ops::activation(&x()?, ActivationKind::Relu, rule)),
            "Clip" => {
                let (lo, hi) = self.graph.clip_bounds(n)?;
                t(clip(&x()?, lo, hi, rule))
            }
            "LeakyRelu" => t(ops::leaky_relu(
                &x()?,
                n.float("alpha").unwrap_or(0.01),
                rule,
            )),
            "PRelu" => {
                let (x, slope) = (x()?, self.tensor(n, args, 1, dev)?);
                let slope = c(unidirectional(&slope, x.rank()))?;
                t(x.minimum(0f32)
                    .and_then(|neg| neg.broadcast_mul(&slope))
                    .and_then(|neg| x.relu()?.broadcast_add(&neg)))
            }
            "Sigmoid" => t(ops::sigmoid(&x()?)),
            "HardSigmoid" => {
                let (a, b) = (
                    n.float("alpha").unwrap_or(0.2),
                    n.float("beta").unwrap_or(0.5),
                );
                t(hard_sigmoid(&x()?, 6.0 * a as f64, 6.0 * b as f64))
            }
            "HardSwish" => {
                let x = x()?;
                t(hard_sigmoid(&x, 1.0, 3.0).and_then(|s| x.mul(&s)))
            }
            "Tanh" => t(x()?.tanh()),
            "Erf" => t(x()?.erf()),
            "Gelu" => match n.string("approximate").as_deref() {
                Some("tanh") => t(x()?.gelu()),
                _ => t(x()?.gelu_erf()),
            },
            "Softplus" => t(x()?
                .exp()
                .and_then(|e| e.affine(1.0, 1.0))
                .and_then(|e| e.log())),
            "Exp" => t(x()?.exp()),
            "Log" => t(x()?.log()),
            "Sqrt" => t(x()?.sqrt()),
            "Neg" => t(x()?.neg()),
            "Abs" => t(x()?.abs()),
            "Reciprocal" => t(x()?.recip()),
            "MaxPool" => t(self.max_pool(n, &x()?)?),
            "AveragePool" => self.average_pool(k, n, &x()?).map(|t| vec![Value::T(t)]),
            "GlobalAveragePool" => {
                let x = x()?;
                let d = x.dims().to_vec();
                let spatial: usize = d[2..].iter().product();
                let (nn, ch) = (d[0], d[1]);
                let mut out = vec![nn, ch];
                out.extend(std::iter::repeat_n(1, d.len() - 2));
                t(x.reshape((nn, ch, spatial))
                    .and_then(|v| v.mean_keepdim(2))
                    .and_then(|v| v.reshape(out)))
            }
            "GlobalMaxPool" => {
                let x = x()?;
                let d = x.dims().to_vec();
                let spatial: usize = d[2..].iter().product();
                let mut out = vec![d[0], d[1]];
                out.extend(std::iter::repeat_n(1, d.len() - 2));
                t(x.reshape((d[0], d[1], spatial))
                    .and_then(|v| v.max_keepdim(2))
                    .and_then(|v| v.reshape(out)))
            }
            "ReduceMean" | "ReduceSum" | "ReduceMax" => {
                let x = x()?;
                let rank = x.rank();
                // Axes moved from an attribute to an input in opset 18 (ReduceSum: 13).
                let axes = axes_of(n, self.host(args, 1));
                let mut dims: Vec<usize> = match axes {
                    Some(a) if !a.is_empty() => {
                        a.iter().map(|&a| axis(a, rank)).collect::<R<_>>()?
                    }
                    _ if n.int("noop_with_empty_axes") == Some(1) => return Ok(vec![Value::T(x)]),
                    _ => (0..rank).collect(),
                };
                dims.sort_unstable();
                dims.dedup();
                let mut y = x;
                for &d in dims.iter().rev() {
                    y = c(match n.op.as_str() {
                        "ReduceMean" => y.mean_keepdim(d),
                        "ReduceSum" => y.sum_keepdim(d),
                        _ => y.max_keepdim(d),
                    })?;
                }
                if n.int("keepdims").unwrap_or(1) == 0 {
                    let kept: Vec<usize> = (0..rank)
                        .filter(|d| !dims.contains(d))
                        .map(|d| y.dims()[d])
                        .collect();
                    y = c(y.reshape(kept))?;
                }
                Ok(vec![Value::T(y)])
            }
            "Flatten" => {
                let x = x()?;
                t(x.reshape(flatten_dims(x.dims(), n.int("axis").unwrap_or(1))?.to_vec()))
            }
            "Reshape" => {
                let x = x()?;
                let spec = self
                    .host(args, 1)
                    .ok_or("Reshape's shape must be computable before the pass")?;
                let dims = reshape_dims(x.dims(), &spec.to_i64(), n.int("allowzero") == Some(1))?;
                t(x.reshape(dims))
            }
            "Squeeze" | "Unsqueeze" => {
                let x = x()?;
                let axes = axes_of(n, self.host(args, 1));
                let dims = if n.op == "Squeeze" {
                    squeeze_dims(x.dims(), axes.as_deref())?
                } else {
                    unsqueeze_dims(x.dims(), &axes.ok_or("Unsqueeze without axes")?)?
                };
                t(x.reshape(dims))
            }
            "Transpose" => {
                let x = x()?;
                let perm: Vec<usize> = match n.ints("perm") {
                    Some(p) => p.iter().map(|&a| axis(a, x.rank())).collect::<R<_>>()?,
                    None => (0..x.rank()).rev().collect(),
                };
                t(x.permute(perm).and_then(|y| y.contiguous()))
            }
            "Concat" => {
                let parts: Vec<Tensor> = (0..args.len())
                    .filter(|&i| args[i].is_some())
                    .map(|i| self.tensor(n, args, i, dev))
                    .collect::<R<_>>()?;
                let rank = parts.first().map_or(0, Tensor::rank);
                t(Tensor::cat(&parts, axis(n.int("axis").unwrap_or(0), rank)?))
            }
            "Split" => {
                let x = x()?;
                let a = axis(n.int("axis").unwrap_or(0), x.rank())?;
                let len = x.dims()[a];
                let sizes: Vec<usize> = match self
                    .host(args, 1)
                    .map(Host::to_i64)
                    .or_else(|| n.ints("split").map(<[i64]>::to_vec))
                {
                    Some(s) => s.iter().map(|&v| v.max(0) as usize).collect(),
                    None => {
                        let parts = n.outputs.len().max(1);
                        let each = len.div_ceil(parts);
                        (0..parts)
                            .map(|p| each.min(len.saturating_sub(p * each)))
                            .collect()
                    }
                };
                if sizes.iter().sum::<usize>() != len {
                    return Err(format!("split sizes {sizes:?} do not add up to {len}"));
                }
                let mut start = 0;
                sizes
                    .iter()
                    .map(|&s| {
                        let part = c(x.narrow(a, start, s))?;
                        start += s;
                        Ok(Value::T(part))
                    })
                    .collect()
            }
            "Slice" => {
                let x = x()?;
                let hs: Vec<Option<&Host>> = (0..args.len()).map(|i| self.host(args, i)).collect();
                let (s, e, a, st) = slice_spec(n, &hs, opset)?;
                let mut y = x.clone();
                for ax in slice_axes(x.dims(), &s, &e, a.as_deref(), st.as_deref())? {
                    y = c(if ax.step == 1 {
                        y.narrow(
                            ax.axis,
                            ax.start as usize,
                            (ax.end - ax.start).max(0) as usize,
                        )
                    } else {
                        let idx: Vec<u32> = (0..)
                            .map(|i| ax.start + i * ax.step)
                            .take_while(|&v| if ax.step > 0 { v < ax.end } else { v > ax.end })
                            .map(|v| v as u32)
                            .collect();
                        Tensor::from_vec(idx.clone(), idx.len(), dev)
                            .and_then(|i| y.index_select(&i, ax.axis))
                    })?;
                }
                Ok(vec![Value::T(y)])
            }
            "Pad" => self.pad(n, args, &x()?).map(|t| vec![Value::T(t)]),
            "Gather" => {
                let x = x()?;
                let a = axis(n.int("axis").unwrap_or(0), x.rank())?;
                let ih = self
                    .host(args, 1)
                    .ok_or("Gather indices must be constants")?;
                let len = x.dims()[a] as i64;
                let idx: Vec<u32> = ih
                    .to_i64()
                    .iter()
                    .map(|&i| (if i < 0 { i + len } else { i }) as u32)
                    .collect();
                if idx.iter().any(|&i| i as i64 >= len) {
                    return Err(format!("Gather index out of range for length {len}"));
                }
                let mut dims = x.dims()[..a].to_vec();
                dims.extend_from_slice(ih.shape());
                dims.extend_from_slice(&x.dims()[a + 1..]);
                let it = c(Tensor::from_vec(idx.clone(), idx.len(), dev))?;
                t(x.index_select(&it, a).and_then(|y| y.reshape(dims)))
            }
            "Expand" => {
                let x = x()?;
                let dims: Vec<usize> = self
                    .host(args, 1)
                    .ok_or("Expand's shape must be a constant")?
                    .to_i64()
                    .iter()
                    .map(|&d| d.max(0) as usize)
                    .collect();
                let shape = super::host::broadcast(x.dims(), &dims)?;
                t(x.broadcast_as(shape).and_then(|y| y.contiguous()))
            }
            "LayerNormalization" => {
                let x = x()?;
                let first = axis(n.int("axis").unwrap_or(-1), x.rank())?;
                let eps = n.float("epsilon").unwrap_or(1e-5) as f64;
                let dims: Vec<usize> = (first..x.rank()).collect();
                let scale = self.tensor(n, args, 1, dev)?;
                let y = c(layer_norm(&x, &dims, eps, &scale))?;
                match n.input(2) {
                    Some(_) => t(y.broadcast_add(&self.tensor(n, args, 2, dev)?)),
                    None => Ok(vec![Value::T(y)]),
                }
            }
            "BatchNormalization" => {
                let x = x()?;
                let p = |i: usize| -> R<Vec<f32>> {
                    let v = self
                        .host(args, i)
                        .ok_or("batch norm parameters must be constants")?;
                    Ok(v.to_f32().iter().copied().collect())
                };
                let (g, b, m, v) = (p(1)?, p(2)?, p(3)?, p(4)?);
                let eps = n.float("epsilon").unwrap_or(1e-5);
                let ch = g.len();
                if [&b, &m, &v].iter().any(|p| p.len() != ch) {
                    return Err("batch norm parameters differ in length".into());
                }
                let scale: Vec<f32> = (0..ch).map(|i| g[i] / (v[i] + eps).sqrt()).collect();
                let shift: Vec<f32> = (0..ch).map(|i| b[i] - m[i] * scale[i]).collect();
                let mut shape = vec![1, ch];
                shape.extend(std::iter::repeat_n(1, x.rank().saturating_sub(2)));
                let s = c(Tensor::from_vec(scale, shape.clone(), dev))?;
                let sh = c(Tensor::from_vec(shift, shape, dev))?;
                t(x.broadcast_mul(&s).and_then(|y| y.broadcast_add(&sh)))
            }
            "Softmax" | "LogSoftmax" => {
                let x = x()?;
                let default = if opset >= 13 { -1 } else { 1 };
                let a = axis(n.int("axis").unwrap_or(default), x.rank())?;
                if opset < 13 && a != x.rank() - 1 {
                    return Err("Softmax before opset 13 over more than the last axis".into());
                }
                let m = c(x.max_keepdim(a))?.detach();
                let z = c(x.broadcast_sub(&m))?;
                let lse = c(z.exp().and_then(|e| e.sum_keepdim(a)).and_then(|s| s.log()))?;
                let log = c(z.broadcast_sub(&lse))?;
                if n.op == "LogSoftmax" {
                    Ok(vec![Value::T(log)])
                } else {
                    t(log.exp())
                }
            }
            "Equal" | "Less" | "Greater" | "Where" | "Not" | "Floor" | "Ceil" | "Range"
            | "ConstantOfShape" | "ReduceProd" | "Mod" | "ScatterND" => {
                Err("this op on a tensor computed from the image is not differentiable".into())
            }
            other => Err(format!("op {other} is not implemented for tensors")),
        }
    }

    fn prepare_conv(&self, n: &Node, x: &[usize]) -> R<OnnxConv> {
        let wname = n.input(1).ok_or("Conv without a weight")?;
        let w = self
            .graph
            .consts
            .get(wname)
            .ok_or("Conv weights computed from the input are not supported (the weight must be an initialiser)")?
            .to_f32();
        let dims: [usize; 4] = w.shape().try_into().map_err(|_| {
            format!(
                "Conv weight of shape {:?}; only 2-D convolutions are supported",
                w.shape()
            )
        })?;
        let bias = match n.input(2) {
            Some(b) => Some(
                self.graph
                    .consts
                    .get(b)
                    .ok_or("Conv bias must be an initialiser")?
                    .to_f32(),
            ),
            None => None,
        };
        let two = |k: &str| -> R<[usize; 2]> {
            match n.ints(k) {
                None => Ok([1, 1]),
                Some([a, b]) => Ok([*a as usize, *b as usize]),
                Some(v) => Err(format!("{k} {v:?}: only 2-D convolutions are supported")),
            }
        };
        let pads = match n.ints("pads") {
            None => [0; 4],
            Some([t, l, b, r]) => [*t as usize, *l as usize, *b as usize, *r as usize],
            Some(v) => return Err(format!("pads {v:?}: only 2-D convolutions are supported")),
        };
        if x.len() != 4 {
            return Err(format!(
                "Conv input of shape {x:?}: only NCHW inputs are supported"
            ));
        }
        let wdata: Vec<f32> = w.iter().copied().collect();
        let bdata: Option<Vec<f32>> = bias.map(|b| b.iter().copied().collect());
        let spec = ConvSpec {
            weight: &wdata,
            dims,
            bias: bdata.as_deref(),
            group: n.int("group").unwrap_or(1).max(1) as usize,
            strides: two("strides")?,
            dilations: two("dilations")?,
            pads,
            auto_pad: n.string("auto_pad").unwrap_or_default(),
        };
        if dims[1] * spec.group != x[1] {
            return Err(format!(
                "weight {dims:?} in {} groups does not fit {} input channels",
                spec.group, x[1]
            ));
        }
        OnnxConv::new(&spec, x[2], x[3])
    }

    fn gemm(&self, k: usize, n: &Node, args: &[Option<Arg<'_>>], dev: &Device) -> R<Tensor> {
        let a = self.tensor(n, args, 0, dev)?;
        let a = if n.int("transA") == Some(1) {
            c(a.t().and_then(|a| a.contiguous()))?
        } else {
            a
        };
        let lin = self.prepared[k]
            .linear
            .get_or_init(|| self.prepare_linear(n));
        if let Some(p) = lin {
            return c(ops::linear(&a, p));
        }
        let b = self.tensor(n, args, 1, dev)?;
        let b = if n.int("transB") == Some(1) {
            c(b.t())?
        } else {
            b
        };
        let mut y = c(a.matmul(&b.contiguous().map_err(|e| e.to_string())?))?;
        let alpha = n.float("alpha").unwrap_or(1.0) as f64;
        if alpha != 1.0 {
            y = c(y.affine(alpha, 0.0))?;
        }
        if n.input(2).is_some() {
            let cc = self.tensor(n, args, 2, dev)?;
            let beta = n.float("beta").unwrap_or(1.0) as f64;
            y = c(y.broadcast_add(&c(cc.affine(beta, 0.0))?))?;
        }
        Ok(y)
    }

    /// Gemm with constant B and a bias-shaped C as a linear layer.
    fn prepare_linear(&self, n: &Node) -> Option<Arc<LinearParams>> {
        let b = self.graph.consts.get(n.input(1)?)?.to_f32();
        let [r, cc]: [usize; 2] = b.shape().try_into().ok()?;
        let alpha = n.float("alpha").unwrap_or(1.0);
        let (out, inp, weight): (usize, usize, Vec<f32>) = if n.int("transB") == Some(1) {
            (r, cc, b.iter().map(|v| v * alpha).collect())
        } else {
            (cc, r, b.t().iter().map(|v| v * alpha).collect())
        };
        let bias = match n.input(2) {
            None => None,
            Some(name) => {
                let cv = self.graph.consts.get(name)?.to_f32();
                if cv.len() != out || cv.shape().iter().rev().skip(1).any(|&d| d != 1) {
                    return None;
                }
                let beta = n.float("beta").unwrap_or(1.0);
                Some(cv.iter().map(|v| v * beta).collect())
            }
        };
        LinearParams::new(weight, out, inp, bias).ok().map(Arc::new)
    }

    fn max_pool(&self, n: &Node, x: &Tensor) -> R<candle_core::Result<Tensor>> {
        let (k, s, pads) = pool_geometry(n)?;
        if n.ints("dilations")
            .is_some_and(|d| d.iter().any(|&v| v != 1))
        {
            return Err("MaxPool with dilations is not supported".into());
        }
        let [_, _, h, w] = dims4(x)?;
        let extra =
            |len: usize, before: usize, after: usize| ceil_extra(n, len, before, after, k, s);
        let (eh, ew) = (extra(h, pads[0], pads[2])?, extra(w, pads[1], pads[3])?);
        if pads.iter().all(|&p| p == pads[0]) && eh == 0 && ew == 0 {
            return Ok(ops::max_pool2d(
                x,
                MaxPool2d {
                    kernel: k,
                    stride: s,
                    padding: pads[0],
                },
            ));
        }
        // Asymmetric or ceil-mode windows: the −∞ padding made explicit.
        let ninf = f32::NEG_INFINITY;
        let y = c(pad_axis(x, 2, pads[0], pads[2] + eh, ninf)
            .and_then(|y| pad_axis(&y, 3, pads[1], pads[3] + ew, ninf)))?;
        Ok(ops::max_pool2d(
            &y,
            MaxPool2d {
                kernel: k,
                stride: s,
                padding: 0,
            },
        ))
    }

    fn average_pool(&self, k_: usize, n: &Node, x: &Tensor) -> R<Tensor> {
        let (k, s, pads) = pool_geometry(n)?;
        let [_, ch, h, w] = dims4(x)?;
        if ceil_extra(n, h, pads[0], pads[2], k, s)? + ceil_extra(n, w, pads[1], pads[3], k, s)? > 0
        {
            return Err("AveragePool whose ceil_mode adds windows is not supported".into());
        }
        let conv = self.prepared[k_]
            .conv
            .get_or_init(|| OnnxConv::average(ch, [k, k], [s, s], pads))
            .as_ref()
            .map_err(Clone::clone)?;
        let y = c(conv.forward(x))?;
        let counts = self.prepared[k_].counts.get_or_init(|| {
            if n.int("count_include_pad") == Some(1) || pads.iter().all(|&p| p == 0) {
                return None;
            }
            let [_, _, ho, wo] = y.dims().try_into().ok()?;
            let count = |o: usize, len: usize, before: usize| {
                let start = (o * s) as isize - before as isize;
                let (lo, hi) = (start.max(0), (start + k as isize).min(len as isize));
                (hi - lo).max(1) as f32
            };
            let scale: Vec<f32> = (0..ho * wo)
                .map(|i| (k * k) as f32 / (count(i / wo, h, pads[0]) * count(i % wo, w, pads[1])))
                .collect();
            Tensor::from_vec(scale, (1, 1, ho, wo), x.device()).ok()
        });
        match counts {
            Some(sc) => c(y.broadcast_mul(sc)),
            None => Ok(y),
        }
    }

    fn pad(&self, n: &Node, args: &[Option<Arg<'_>>], x: &Tensor) -> R<Tensor> {
        let mode = n.string("mode").unwrap_or_else(|| "constant".into());
        let (pads, value) = if self.graph.opset >= 11 {
            let p = self
                .host(args, 1)
                .ok_or("Pad amounts must be computable before the pass")?
                .to_i64();
            let v = match n.input(2) {
                Some(_) => self
                    .host(args, 2)
                    .ok_or("Pad value must be a constant")?
                    .scalar_f32()?,
                None => 0.0,
            };
            (p, v)
        } else {
            (
                n.ints("pads").unwrap_or_default().to_vec(),
                n.float("value").unwrap_or(0.0),
            )
        };
        let rank = x.rank();
        let axes: Vec<usize> = match self.host(args, 3) {
            Some(a) => a
                .to_i64()
                .iter()
                .map(|&a| axis(a, rank))
                .collect::<R<_>>()?,
            None => (0..rank).collect(),
        };
        if pads.len() != 2 * axes.len() {
            return Err(format!(
                "{} pad amounts for {} axes",
                pads.len(),
                axes.len()
            ));
        }
        let mut y = x.clone();
        for (i, &a) in axes.iter().enumerate() {
            let (b, e) = (pads[i], pads[i + axes.len()]);
            if b < 0 || e < 0 {
                let len = y.dims()[a] as i64;
                let start = (-b).max(0);
                let end = len + e.min(0);
                y = c(y.narrow(a, start as usize, (end - start).max(0) as usize))?;
            }
            let (b, e) = (b.max(0) as usize, e.max(0) as usize);
            if b + e == 0 {
                continue;
            }
            y = c(match mode.as_str() {
                "constant" => pad_axis(&y, a, b, e, value),
                "edge" => y.pad_with_same(a, b, e),
                other => {
                    return Err(format!(
                        "Pad mode {other} is not supported (constant and edge are)"
                    ))
                }
            })?;
        }
        Ok(y)
    }
}

fn dims4(x: &Tensor) -> R<[usize; 4]> {
    x.dims()
        .try_into()
        .map_err(|_| format!("expected an NCHW tensor, got shape {:?}", x.dims()))
}

/// Square kernel, stride and `[top, left, bottom, right]` pads of a pooling node.
pub(super) fn pool_geometry(n: &Node) -> R<(usize, usize, [usize; 4])> {
    let k = match n.ints("kernel_shape") {
        Some([a, b]) if a == b => *a as usize,
        other => {
            return Err(format!(
                "kernel_shape {other:?}: only square 2-D pooling windows are supported"
            ))
        }
    };
    let s = match n.ints("strides") {
        None => 1,
        Some([a, b]) if a == b => *a as usize,
        Some(v) => return Err(format!("strides {v:?}: only equal strides are supported")),
    };
    let pads = match n.ints("pads") {
        None => [0; 4],
        Some([t, l, b, r]) => [*t as usize, *l as usize, *b as usize, *r as usize],
        Some(v) => return Err(format!("pads {v:?}")),
    };
    if let Some(a) = n
        .string("auto_pad")
        .filter(|a| !a.is_empty() && a != "NOTSET" && a != "VALID")
    {
        return Err(format!("pooling with auto_pad {a} is not supported"));
    }
    Ok((k, s, pads))
}

/// How many rows ceil_mode adds at the end, by PyTorch's rule (a last window must start
/// inside the input or its leading padding).
pub(super) fn ceil_extra(
    n: &Node,
    len: usize,
    before: usize,
    after: usize,
    k: usize,
    s: usize,
) -> R<usize> {
    let padded = len + before + after;
    if padded < k {
        return Err(format!("a {k}-wide window does not fit {len} + padding"));
    }
    if n.int("ceil_mode") != Some(1) {
        return Ok(0);
    }
    let mut out = (padded - k).div_ceil(s) + 1;
    if (out - 1) * s >= len + before {
        out -= 1;
    }
    Ok(((out - 1) * s + k).saturating_sub(padded))
}

/// Pads one axis with a constant.
fn pad_axis(
    x: &Tensor,
    a: usize,
    before: usize,
    after: usize,
    value: f32,
) -> candle_core::Result<Tensor> {
    if before + after == 0 {
        return Ok(x.clone());
    }
    if value == 0.0 {
        return x.pad_with_zeros(a, before, after);
    }
    let mut parts = Vec::with_capacity(3);
    let block = |len: usize| {
        let mut d = x.dims().to_vec();
        d[a] = len;
        Tensor::full(value, d, x.device())
    };
    if before > 0 {
        parts.push(block(before)?);
    }
    parts.push(x.clone());
    if after > 0 {
        parts.push(block(after)?);
    }
    Tensor::cat(&parts, a)
}

/// Clip: a ReLU-like unit under the rule when its lower bound is 0, else a plain clamp.
fn clip(x: &Tensor, lo: f32, hi: f32, rule: BackwardRule) -> candle_core::Result<Tensor> {
    if lo == 0.0 && hi == 6.0 {
        ops::activation(x, ActivationKind::Relu6, rule)
    } else if lo == 0.0 && hi == f32::INFINITY {
        ops::activation(x, ActivationKind::Relu, rule)
    } else if lo == 0.0 && hi > 0.0 {
        // min(max(x, 0), hi) = hi/6 · ReLU6(6x/hi): the same unit, mask 0 < x < hi.
        ops::activation(
            &x.affine(6.0 / hi as f64, 0.0)?,
            ActivationKind::Relu6,
            rule,
        )?
        .affine(hi as f64 / 6.0, 0.0)
    } else {
        x.clamp(lo, hi)
    }
}

/// The SiLU products of `graph`: a Sigmoid of `x` read only by one `Mul(x, σ)`.
fn silu_pairs(graph: &Graph) -> Vec<Fusion> {
    let mut fusion = vec![Fusion::Plain; graph.nodes.len()];
    let mut readers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, n) in graph.nodes.iter().enumerate() {
        for i in &n.inputs {
            readers.entry(i.as_str()).or_default().push(k);
        }
    }
    for (k, n) in graph.nodes.iter().enumerate() {
        let (Some(x), Some(s)) = (n.inputs.first(), n.outputs.first()) else {
            continue;
        };
        if n.op != "Sigmoid" || n.outputs.len() != 1 || *s == graph.output {
            continue;
        }
        let Some(&[j]) = readers.get(s.as_str()).map(Vec::as_slice) else {
            continue;
        };
        let m = &graph.nodes[j];
        let product = m.inputs.len() == 2
            && ((m.inputs[0] == *x && m.inputs[1] == *s)
                || (m.inputs[0] == *s && m.inputs[1] == *x));
        if m.op == "Mul" && product && m.outputs.len() == 1 {
            fusion[k] = Fusion::Skip;
            fusion[j] = Fusion::Silu { x: x.clone() };
        }
    }
    fusion
}

/// ReLU6(a·x + b) / 6, i.e. HardSigmoid with α = a/6, β = b/6, with PyTorch's gradient
/// (α inside the open interval, 0 outside), which passes the plain gradient under every rule.
fn hard_sigmoid(x: &Tensor, a: f64, b: f64) -> candle_core::Result<Tensor> {
    let z = x.affine(a, b)?;
    ops::activation(&z, ActivationKind::Relu6, BackwardRule::Gradient)?.affine(1.0 / 6.0, 0.0)
}

/// A per-channel slope `[c]` or `[c, 1, 1]` shaped to broadcast against NCHW.
fn unidirectional(slope: &Tensor, rank: usize) -> candle_core::Result<Tensor> {
    if slope.rank() == 1 && rank >= 3 && slope.elem_count() > 1 {
        let mut d = vec![slope.elem_count()];
        d.extend(std::iter::repeat_n(1, rank - 2));
        slope.reshape(d)
    } else {
        Ok(slope.clone())
    }
}

/// (x − mean) / √(var + ε) · scale over `dims`, the biased variance as PyTorch computes it.
fn layer_norm(x: &Tensor, dims: &[usize], eps: f64, scale: &Tensor) -> candle_core::Result<Tensor> {
    let mean = x.mean_keepdim(dims)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(dims)?;
    let y = xc.broadcast_div(&var.affine(1.0, eps)?.sqrt()?)?;
    y.broadcast_mul(scale)
}
