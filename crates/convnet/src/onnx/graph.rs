//! An ONNX file as a list of nodes over named values, and the load-time normalisation
//! that leaves only the work a forward pass must do: Constant and Identity nodes inlined,
//! every input-independent subgraph (shape arithmetic included) evaluated once, batch
//! normalisation folded into the convolution before it, and a Softmax at the output
//! removed so that the unnormalised class scores are explained.
use super::host::Host;
use super::host_ops;
use super::proto::{AttributeProto, ModelProto, TensorProto};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// One operation of the graph.
#[derive(Clone, Debug)]
pub struct Node {
    /// The node's name, or `OpType_k` when the file gives none.
    pub name: String,
    pub op: String,
    /// Input value names; an empty name is an omitted optional input.
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: HashMap<String, AttributeProto>,
}

impl Node {
    pub fn int(&self, name: &str) -> Option<i64> {
        self.attrs.get(name).map(|a| a.i)
    }
    pub fn float(&self, name: &str) -> Option<f32> {
        self.attrs.get(name).map(|a| a.f)
    }
    pub fn ints(&self, name: &str) -> Option<&[i64]> {
        self.attrs.get(name).map(|a| a.ints.as_slice())
    }
    pub fn string(&self, name: &str) -> Option<String> {
        self.attrs
            .get(name)
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
    }
    pub fn tensor(&self, name: &str) -> Option<&TensorProto> {
        self.attrs.get(name).and_then(|a| a.t.as_ref())
    }
    /// The `i`-th input's name, if given.
    pub fn input(&self, i: usize) -> Option<&str> {
        self.inputs
            .get(i)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// A loaded and normalised graph.
#[derive(Clone, Debug)]
pub struct Graph {
    pub nodes: Vec<Node>,
    /// Initialisers, constants and everything folded from them.
    pub consts: HashMap<String, Host>,
    /// The image input's name and declared dimensions (`None` where symbolic).
    pub input: String,
    pub input_dims: Vec<Option<usize>>,
    /// The value that holds the class scores.
    pub output: String,
    /// The default-domain operator set version.
    pub opset: i64,
    /// `Softmax` or `LogSoftmax` when one was removed at the output.
    pub stripped_output: Option<String>,
    /// How many BatchNormalization nodes were folded into a convolution.
    pub folded_batch_norms: usize,
    /// The file's input was channels-last `[batch, h, w, 3]` (a Keras export without
    /// `--inputs-as-nchw`); the graph now takes NCHW and transposes it first.
    pub channels_last_input: bool,
}

/// Why a graph cannot be loaded: said with the node and op it is about.
pub type GraphError = String;

impl Graph {
    /// A channels-last image input `[batch, h, w, 3]` becomes an NCHW one followed by a
    /// Transpose, so that every model takes the layout the preprocessing gives.
    fn take_nchw_input(&mut self) {
        let &[n, Some(h), Some(w), Some(3)] = &self.input_dims[..] else {
            return;
        };
        if h <= 3 || w <= 3 {
            return;
        }
        let nchw = format!("{}.nchw", self.input);
        let nhwc = std::mem::replace(&mut self.input, nchw);
        let perm = AttributeProto {
            name: "perm".into(),
            ints: vec![0, 2, 3, 1],
            r#type: 7,
            ..Default::default()
        };
        self.nodes.insert(
            0,
            Node {
                name: format!("{nhwc}.to_nhwc"),
                op: "Transpose".into(),
                inputs: vec![self.input.clone()],
                outputs: vec![nhwc],
                attrs: [("perm".to_string(), perm)].into_iter().collect(),
            },
        );
        self.input_dims = vec![n, Some(3), Some(h), Some(w)];
        self.channels_last_input = true;
    }

    /// Decodes `bytes` (the contents of `path`) and normalises the graph; `path`'s folder
    /// holds any external data.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Graph, GraphError> {
        use prost::Message;
        let model = ModelProto::decode(bytes)
            .map_err(|e| format!("not an ONNX model (protobuf decoding failed: {e})"))?;
        let graph = model
            .graph
            .ok_or("the file holds no graph (is it an ONNX model?)")?;
        if graph.node.is_empty() {
            return Err("the graph has no nodes".into());
        }
        let opset = model
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map(|o| o.version)
            .unwrap_or(1);
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut consts = HashMap::new();
        for t in &graph.initializer {
            let v =
                Host::from_proto(t, dir).map_err(|e| format!("initialiser `{}`: {e}", t.name))?;
            consts.insert(t.name.clone(), v);
        }
        let inputs: Vec<_> = graph
            .input
            .iter()
            .filter(|i| !consts.contains_key(&i.name))
            .collect();
        let input = match inputs.as_slice() {
            [one] => *one,
            [] => return Err("the graph has no input".into()),
            many => {
                return Err(format!(
                    "the graph has {} inputs ({}); an image classifier has one",
                    many.len(),
                    many.iter()
                        .map(|i| i.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        };
        let input_dims = input
            .r#type
            .as_ref()
            .and_then(|t| t.tensor_type.as_ref())
            .and_then(|t| t.shape.as_ref())
            .map(|s| {
                s.dim
                    .iter()
                    .map(|d| (d.dim_value > 0).then_some(d.dim_value as usize))
                    .collect()
            })
            .unwrap_or_default();
        let output = match graph.output.as_slice() {
            [one, ..] => one.name.clone(),
            [] => return Err("the graph has no output".into()),
        };
        let mut nodes = Vec::with_capacity(graph.node.len());
        for (k, n) in graph.node.into_iter().enumerate() {
            if !(n.domain.is_empty() || n.domain == "ai.onnx") {
                return Err(format!(
                    "node `{}`: op {}::{} is outside the standard ONNX operator set",
                    n.name, n.domain, n.op_type
                ));
            }
            let name = if n.name.is_empty() {
                format!("{}_{k}", n.op_type)
            } else {
                n.name
            };
            nodes.push(Node {
                name,
                op: n.op_type,
                inputs: n.input,
                outputs: n.output,
                attrs: n
                    .attribute
                    .into_iter()
                    .map(|a| (a.name.clone(), a))
                    .collect(),
            });
        }
        let mut g = Graph {
            nodes,
            consts,
            input: input.name.clone(),
            input_dims,
            output,
            opset,
            stripped_output: None,
            folded_batch_norms: 0,
            channels_last_input: false,
        };
        g.take_nchw_input();
        g.inline_constants_and_identities(dir)?;
        g.fold_constants()?;
        g.fold_batch_norms()?;
        g.fold_pads_into_convs();
        g.strip_output_softmax();
        g.drop_dead_nodes();
        Ok(g)
    }

    /// Constant nodes become values; Identity and Dropout (inference) become renames.
    fn inline_constants_and_identities(&mut self, dir: &Path) -> Result<(), GraphError> {
        let mut rename: HashMap<String, String> = HashMap::new();
        let mut kept = Vec::with_capacity(self.nodes.len());
        for mut n in std::mem::take(&mut self.nodes) {
            for i in n.inputs.iter_mut() {
                if let Some(r) = rename.get(i) {
                    *i = r.clone();
                }
            }
            match n.op.as_str() {
                "Constant" => {
                    let out = n.outputs.first().cloned().unwrap_or_default();
                    let v = constant_value(&n, dir)
                        .map_err(|e| format!("node `{}` (Constant): {e}", n.name))?;
                    self.consts.insert(out, v);
                }
                "Identity" | "Dropout" => {
                    let (Some(src), Some(out)) = (n.input(0), n.outputs.first()) else {
                        return Err(format!(
                            "node `{}` ({}) has no input or output",
                            n.name, n.op
                        ));
                    };
                    rename.insert(out.clone(), src.to_string());
                }
                _ => kept.push(n),
            }
        }
        if let Some(r) = rename.get(&self.output) {
            self.output = r.clone();
        }
        self.nodes = kept;
        Ok(())
    }

    /// Evaluates every node whose inputs are all known at load time.
    fn fold_constants(&mut self) -> Result<(), GraphError> {
        let mut kept = Vec::with_capacity(self.nodes.len());
        for n in std::mem::take(&mut self.nodes) {
            let known = n
                .inputs
                .iter()
                .all(|i| i.is_empty() || self.consts.contains_key(i));
            if known && host_ops::is_host_op(&n.op) && n.outputs.len() == 1 {
                let args: Vec<Option<&Host>> =
                    n.inputs.iter().map(|i| self.consts.get(i)).collect();
                let v = host_ops::eval(&n, &args, self.opset)
                    .map_err(|e| format!("node `{}` ({}): {e}", n.name, n.op))?;
                self.consts.insert(n.outputs[0].clone(), v);
            } else {
                kept.push(n);
            }
        }
        self.nodes = kept;
        Ok(())
    }

    /// The nodes that read each value, by index (the graph output is not a node).
    pub fn readers(&self) -> HashMap<String, Vec<usize>> {
        let mut r: HashMap<String, Vec<usize>> = HashMap::new();
        for (k, n) in self.nodes.iter().enumerate() {
            for i in &n.inputs {
                r.entry(i.clone()).or_default().push(k);
            }
        }
        r
    }

    /// Clip's bounds, which must be constants: attributes before opset 11, inputs from it;
    /// an omitted bound is ∓∞.
    pub fn clip_bounds(&self, n: &Node) -> Result<(f32, f32), String> {
        let bound = |i: usize, attr: &str, default: f32| -> Result<f32, String> {
            if self.opset < 11 {
                return Ok(n.float(attr).unwrap_or(default));
            }
            match n.input(i) {
                None => Ok(default),
                Some(name) => self
                    .consts
                    .get(name)
                    .ok_or("Clip bounds must be constants")?
                    .scalar_f32(),
            }
        };
        Ok((
            bound(1, "min", f32::NEG_INFINITY)?,
            bound(2, "max", f32::INFINITY)?,
        ))
    }

    /// Conv → BatchNormalization, where the convolution's output has no other reader,
    /// becomes one convolution with w' = w·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β.
    fn fold_batch_norms(&mut self) -> Result<(), GraphError> {
        let producer: HashMap<String, usize> = self
            .nodes
            .iter()
            .enumerate()
            .flat_map(|(k, n)| n.outputs.iter().map(move |o| (o.clone(), k)))
            .collect();
        let readers = self.readers();
        let mut remove = HashSet::new();
        for b in 0..self.nodes.len() {
            let bn = &self.nodes[b];
            if bn.op != "BatchNormalization" {
                continue;
            }
            let Some(&c) = bn.input(0).and_then(|x| producer.get(x)) else {
                continue;
            };
            let conv = &self.nodes[c];
            let x = bn.inputs[0].clone();
            if conv.op != "Conv" || x == self.output || readers.get(&x).map(Vec::len) != Some(1) {
                continue;
            }
            let param = |i: usize| {
                bn.input(i)
                    .and_then(|n| self.consts.get(n))
                    .map(|h| h.to_f32().iter().copied().collect::<Vec<f32>>())
            };
            let (Some(gamma), Some(beta), Some(mean), Some(var)) =
                (param(1), param(2), param(3), param(4))
            else {
                continue;
            };
            let Some(w) = conv
                .input(1)
                .and_then(|n| self.consts.get(n))
                .map(Host::to_f32)
            else {
                continue;
            };
            let eps = bn.float("epsilon").unwrap_or(1e-5);
            let out_c = w.shape()[0];
            if [&gamma, &beta, &mean, &var]
                .iter()
                .any(|p| p.len() != out_c)
            {
                return Err(format!(
                    "node `{}` (BatchNormalization): {} channels after a convolution with {out_c}",
                    bn.name,
                    gamma.len()
                ));
            }
            let mut bf: Vec<f32> = match conv.input(2).and_then(|n| self.consts.get(n)) {
                Some(b) => b.to_f32().iter().copied().collect(),
                None => vec![0.0; out_c],
            };
            if bf.len() != out_c {
                return Err(format!(
                    "node `{}` (Conv): {} biases for {out_c} channels",
                    conv.name,
                    bf.len()
                ));
            }
            let mut wf: Vec<f32> = w.iter().copied().collect();
            crate::ops::fold_batch_norm(&mut wf, &mut bf, &gamma, &beta, &mean, &var, eps as f64);
            let (wname, bname) = (
                format!("{}::folded_w", conv.name),
                format!("{}::folded_b", conv.name),
            );
            let wdims = w.shape().to_vec();
            self.consts.insert(wname.clone(), Host::floats(&wdims, wf)?);
            self.consts
                .insert(bname.clone(), Host::floats(&[out_c], bf)?);
            let out = bn.outputs[0].clone();
            let conv = &mut self.nodes[c];
            conv.inputs.truncate(1);
            conv.inputs.extend([wname, bname]);
            conv.outputs[0] = out;
            remove.insert(b);
            self.folded_batch_norms += 1;
        }
        let mut k = 0;
        self.nodes.retain(|_| {
            k += 1;
            !remove.contains(&(k - 1))
        });
        Ok(())
    }

    /// A zero Pad of the spatial axes whose only reader is a Conv becomes the Conv's own
    /// padding (exporters of TensorFlow-style "SAME" models emit one before each stride-2
    /// convolution): the same numbers, one copy of the activation fewer, and a graph that
    /// can run as one fused chain.
    fn fold_pads_into_convs(&mut self) {
        let readers = self.readers();
        let mut remove = HashSet::new();
        for p in 0..self.nodes.len() {
            let pad = &self.nodes[p];
            if pad.op != "Pad" || pad.string("mode").is_some_and(|m| m != "constant") {
                continue;
            }
            let amounts = if self.opset >= 11 {
                pad.input(1)
                    .and_then(|a| self.consts.get(a))
                    .map(Host::to_i64)
            } else {
                pad.ints("pads").map(<[i64]>::to_vec)
            };
            let value = if self.opset >= 11 {
                match pad.input(2) {
                    None => Some(0.0),
                    Some(v) => self.consts.get(v).and_then(|v| v.scalar_f32().ok()),
                }
            } else {
                Some(pad.float("value").unwrap_or(0.0))
            };
            let (Some(a), Some(0.0), None) = (amounts, value, pad.input(3)) else {
                continue;
            };
            if a.len() != 8 || a[..2] != [0, 0] || a[4..6] != [0, 0] || a.iter().any(|&v| v < 0) {
                continue;
            }
            let out = pad.outputs[0].clone();
            let src = pad.inputs[0].clone();
            let Some([c]) = readers.get(&out).map(Vec::as_slice) else {
                continue;
            };
            let conv = &self.nodes[*c];
            if conv.op != "Conv"
                || out == self.output
                || conv
                    .string("auto_pad")
                    .is_some_and(|a| !a.is_empty() && a != "NOTSET")
            {
                continue;
            }
            let old = conv.ints("pads").map(<[i64]>::to_vec).unwrap_or(vec![0; 4]);
            if old.len() != 4 {
                continue;
            }
            // ONNX pads: [x1_begin, x2_begin, x1_end, x2_end] for the spatial axes.
            let new = vec![old[0] + a[2], old[1] + a[3], old[2] + a[6], old[3] + a[7]];
            let conv = &mut self.nodes[*c];
            conv.inputs[0] = src;
            conv.attrs.insert(
                "pads".into(),
                AttributeProto {
                    name: "pads".into(),
                    r#type: 7,
                    ints: new,
                    ..Default::default()
                },
            );
            remove.insert(p);
        }
        let mut k = 0;
        self.nodes.retain(|_| {
            k += 1;
            !remove.contains(&(k - 1))
        });
    }

    /// A Softmax or LogSoftmax that makes the output: explain the scores before it.
    fn strip_output_softmax(&mut self) {
        if let Some(k) = self
            .nodes
            .iter()
            .position(|n| n.outputs.first() == Some(&self.output))
        {
            let n = &self.nodes[k];
            if matches!(n.op.as_str(), "Softmax" | "LogSoftmax") {
                if let Some(src) = n.input(0) {
                    self.stripped_output = Some(n.op.clone());
                    self.output = src.to_string();
                    self.nodes.remove(k);
                }
            }
        }
    }

    /// Removes nodes whose outputs nothing reads.
    fn drop_dead_nodes(&mut self) {
        let mut needed: HashSet<String> = HashSet::from([self.output.clone()]);
        let mut keep = vec![false; self.nodes.len()];
        for (k, n) in self.nodes.iter().enumerate().rev() {
            if n.outputs.iter().any(|o| needed.contains(o)) {
                keep[k] = true;
                needed.extend(n.inputs.iter().filter(|i| !i.is_empty()).cloned());
            }
        }
        let mut k = 0;
        self.nodes.retain(|_| {
            k += 1;
            keep[k - 1]
        });
    }
}

/// The value of a Constant node: `value`, or the opset-12 scalar and list forms.
fn constant_value(n: &Node, dir: &Path) -> Result<Host, String> {
    if let Some(t) = n.tensor("value") {
        return Host::from_proto(t, dir);
    }
    let a = |k: &str| n.attrs.get(k);
    if let Some(v) = a("value_float") {
        return Host::floats(&[], vec![v.f]);
    }
    if let Some(v) = a("value_floats") {
        return Host::floats(&[v.floats.len()], v.floats.clone());
    }
    if let Some(v) = a("value_int") {
        return Host::ints(&[], vec![v.i]);
    }
    if let Some(v) = a("value_ints") {
        return Host::ints(&[v.ints.len()], v.ints.clone());
    }
    Err("a Constant without a tensor, float or int value".into())
}
