//! A graph that is a chain of convolutions, ReLU-like units, max-pools, residual additions
//! (identity or through a projection convolution), a global average pool and linear
//! layers, lowered to the fused CPU [`Chain`] that runs the built-in
//! models: the same kernels and rules without a candle node per ONNX node (on Lite0 the
//! per-node graph costs about a fifth of a saliency pass, docs/performance.md).
use super::graph::Graph;
use super::graph::Node;
use super::run::Program;
use crate::ops::{ActivationKind, Chain, MaxPool2d, Stage};
use std::collections::{HashMap, HashSet};

/// The chain, or `None` when any node falls outside the pattern (then the interpreter runs).
/// `shapes` holds each tensor value's per-image shape (host values are absent).
pub fn lower(program: &Program, shapes: &HashMap<String, Vec<usize>>) -> Option<Chain> {
    let g: &Graph = &program.graph;
    let readers = g.readers();
    let mut stages = Vec::new();
    // The stage whose input a value is (residual sources).
    let mut input_of: HashMap<String, usize> = HashMap::new();
    // Stages whose input a shortcut already reads: the chain hands a kept input to one
    // reader, so a second one leaves the graph to the interpreter.
    let mut shortcut_from: HashSet<usize> = HashSet::new();
    let mut cur = g.input.clone();
    let mut k = 0;
    let starts = |stages: &Vec<Stage>, input_of: &mut HashMap<String, usize>, v: &str| {
        input_of.entry(v.to_string()).or_insert(stages.len());
    };
    while k < g.nodes.len() {
        let n = &g.nodes[k];
        let out = n.outputs.first()?;
        if !shapes.contains_key(out) {
            // Host shape arithmetic (Shape → Gather → …): nothing for the chain to do.
            k += 1;
            continue;
        }
        match n.op.as_str() {
            "Conv" if n.input(0) == Some(cur.as_str()) => {
                let params = program.conv_at(k)?;
                starts(&stages, &mut input_of, &cur);
                // A ReLU or ReLU6 that is the convolution's only reader runs in place.
                let next = g.nodes.get(k + 1);
                let act = next.and_then(|m| {
                    if m.input(0) != Some(out.as_str()) || readers.get(out).map(Vec::len) != Some(1)
                    {
                        return None;
                    }
                    relu_like(g, m)
                });
                stages.push(Stage::Conv { params, act });
                cur = match act {
                    Some(_) => {
                        k += 1;
                        g.nodes[k].outputs[0].clone()
                    }
                    None => out.clone(),
                };
            }
            // A projection shortcut: a convolution of an earlier stage's input whose only
            // reader is the next node, an addition to the current value.
            "Conv" => {
                let from = *input_of.get(n.input(0)?)?;
                if !shortcut_from.insert(from) {
                    return None;
                }
                let add = g.nodes.get(k + 1)?;
                let (a, b) = (add.input(0)?, add.input(1)?);
                if add.op != "Add"
                    || readers.get(out).map(Vec::len) != Some(1)
                    || !((a == out && b == cur) || (b == out && a == cur))
                {
                    return None;
                }
                let params = program.conv_at(k)?;
                stages.push(Stage::AddProjectedInputOf { from, params });
                k += 1;
                cur = add.outputs.first()?.clone();
            }
            "Relu" | "Clip" if n.input(0) == Some(cur.as_str()) => {
                starts(&stages, &mut input_of, &cur);
                stages.push(Stage::Activation(relu_like(g, n)?));
                cur = out.clone();
            }
            "MaxPool" if n.input(0) == Some(cur.as_str()) => {
                starts(&stages, &mut input_of, &cur);
                stages.push(Stage::MaxPool(max_pool(n, shapes.get(&cur)?)?));
                cur = out.clone();
            }
            "Add" => {
                let (a, b) = (n.input(0)?, n.input(1)?);
                let other = if a == cur {
                    b
                } else if b == cur {
                    a
                } else {
                    return None;
                };
                let from = *input_of.get(other)?;
                if !shortcut_from.insert(from) {
                    return None;
                }
                stages.push(Stage::AddInputOf(from));
                cur = out.clone();
            }
            "GlobalAveragePool" if n.input(0) == Some(cur.as_str()) => {
                starts(&stages, &mut input_of, &cur);
                stages.push(Stage::MeanPool);
                cur = out.clone();
            }
            // After the pool, a flatten to [n, c] is what the chain's vector already is.
            "Flatten" | "Reshape" | "Squeeze"
                if n.input(0) == Some(cur.as_str())
                    && matches!(stages.last(), Some(Stage::MeanPool | Stage::Linear(_)))
                    && shapes.get(out).is_some_and(|s| s.len() == 1) =>
            {
                cur = out.clone();
            }
            "Gemm" if n.input(0) == Some(cur.as_str()) && n.int("transA") != Some(1) => {
                starts(&stages, &mut input_of, &cur);
                stages.push(Stage::Linear(program.linear_at(k)?));
                cur = out.clone();
            }
            _ => return None,
        }
        k += 1;
    }
    if cur != g.output || !matches!(stages.last(), Some(Stage::Linear(_))) {
        return None;
    }
    Chain::new(stages).ok()
}

/// The ReLU-like unit `n` is, if it is one the chain runs (ReLU, or Clip to [0, 6] or
/// [0, ∞)).
fn relu_like(g: &Graph, n: &Node) -> Option<ActivationKind> {
    match n.op.as_str() {
        "Relu" => Some(ActivationKind::Relu),
        "Clip" => match g.clip_bounds(n) {
            Ok((0.0, 6.0)) => Some(ActivationKind::Relu6),
            Ok((0.0, f32::INFINITY)) => Some(ActivationKind::Relu),
            _ => None,
        },
        _ => None,
    }
}

/// A MaxPool node as the chain's kernel: square windows, equal strides, the same padding
/// on every side, floor mode (or a ceil mode that adds nothing at this size), no dilation
/// and no indices output. `input` is the per-image `[c, h, w]`.
fn max_pool(n: &Node, input: &[usize]) -> Option<MaxPool2d> {
    let (kernel, stride, pads) = super::run::pool_geometry(n).ok()?;
    let &[_, h, w] = input else { return None };
    let no_extra = |len: usize, before: usize, after: usize| {
        super::run::ceil_extra(n, len, before, after, kernel, stride).ok() == Some(0)
    };
    let plain = pads.iter().all(|&p| p == pads[0])
        && no_extra(h, pads[0], pads[2])
        && no_extra(w, pads[1], pads[3])
        && n.ints("dilations")
            .is_none_or(|d| d.iter().all(|&v| v == 1))
        && n.outputs.iter().skip(1).all(String::is_empty);
    plain.then_some(MaxPool2d {
        kernel,
        stride,
        padding: pads[0],
    })
}
