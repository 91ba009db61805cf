//! A whole feed-forward network as one candle op on the CPU, with its own input-gradient
//! pass.
//!
//! candle's autograd allocates a zero tensor and adds into it for every node of the graph,
//! and a layer-by-layer graph has a node for every convolution, every activation and every
//! skip addition: on EfficientNet-Lite0 that bookkeeping (allocation, `memset`, one more pass
//! over each activation) cost about a fifth of a saliency pass. Here the forward pass runs
//! the layers on plain buffers, applies each activation in place on its convolution's output
//! and keeps only what the backward pass reads (the activated outputs, whose ReLU/ReLU6 masks
//! equal the inputs', and each max-pool's arg-max positions); the backward pass walks the
//! stages in reverse with the same [`BackwardRule`] and the same kernels as the per-layer
//! ops, so both paths compute the same numbers. Models use it when nothing inside the
//! network is captured or probed: the built-in Lite0 and VGG16, and every ONNX graph that
//! `onnx/lower.rs` can write as stages (inverted-residual nets, ResNets with their
//! projection shortcuts; ResNet-18's saliency pass went from 59 to 42 ms an image).
use super::activation::{apply_in_place, mask_in_place, UnitMask};
use super::{f32_data, on_pool, ActivationKind, Conv2dParams, LinearParams, MaxPool2d};
use crate::rule::BackwardRule;
use candle_core::{bail, CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// `dst += src` in parallel chunks: a residual addition is a whole pass over a feature map,
/// which one thread would otherwise do alone while the other waits.
fn add_into(dst: &mut [f32], src: &[f32]) {
    const CHUNK: usize = 1 << 14;
    dst.par_chunks_mut(CHUNK)
        .zip(src.par_chunks(CHUNK))
        .for_each(|(d, s)| d.iter_mut().zip(s).for_each(|(d, s)| *d += s));
}

/// One step of a [`Chain`].
#[derive(Clone, Debug)]
pub enum Stage {
    /// A convolution, optionally followed by a ReLU-like unit.
    Conv {
        params: Arc<Conv2dParams>,
        act: Option<ActivationKind>,
    },
    /// A ReLU-like unit on its own, e.g. after a residual addition.
    Activation(ActivationKind),
    /// Max-pooling: under every rule the gradient goes to each window's arg-max.
    MaxPool(MaxPool2d),
    /// Adds the input of stage `from` (a residual connection; shapes must agree).
    AddInputOf(usize),
    /// Adds a convolution of the input of stage `from`: the projection shortcut of
    /// ResNets' downsampling blocks.
    AddProjectedInputOf {
        from: usize,
        params: Arc<Conv2dParams>,
    },
    /// Global average pooling `[n, c, h, w] → [n, c]`.
    MeanPool,
    /// A fully connected layer on `[n, features]`.
    Linear(Arc<LinearParams>),
}

/// A network as a list of stages, run in order.
#[derive(Clone, Debug, Default)]
pub struct Chain {
    stages: Vec<Stage>,
}

impl Chain {
    pub fn new(stages: Vec<Stage>) -> candle_core::Result<Self> {
        for (i, s) in stages.iter().enumerate() {
            if let Stage::AddInputOf(from) | Stage::AddProjectedInputOf { from, .. } = s {
                if *from >= i {
                    bail!("stage {i} adds the input of stage {from}, which is not before it");
                }
            }
        }
        Ok(Chain { stages })
    }
}

/// Runs `chain` on an NCHW batch; differentiating the result gives the input gradient
/// under `rule`.
pub fn chain(x: &Tensor, chain: &Arc<Chain>, rule: BackwardRule) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(ChainOp {
        chain: chain.clone(),
        rule,
        keep: x.track_op(),
        tape: Mutex::new(None),
    })
}

/// The per-image shape of a value between stages: `[c, h, w]` or `[features, 1, 1]`.
type Dims = [usize; 3];

/// Where the value between two stages is, so that it is moved, never copied: held by the
/// walk itself, or in a stage's slot because a later step reads it again (the backward
/// pass's mask, a residual addition).
enum Value {
    Own(Vec<f32>),
    /// The activated output of stage i, kept as its mask.
    Output(usize),
    /// The input of stage i, kept for a residual addition.
    Source(usize),
}

/// Stage-indexed buffers that a [`Value`] can point into.
type Slots = [Option<Vec<f32>>];

impl Value {
    fn get<'a>(&'a self, outputs: &'a Slots, sources: &'a Slots) -> &'a [f32] {
        match self {
            Value::Own(v) => v,
            Value::Output(i) => outputs[*i].as_deref().unwrap_or_default(),
            Value::Source(i) => sources[*i].as_deref().unwrap_or_default(),
        }
    }

    /// The value as a buffer of its own: moved if it is, copied from its slot if not.
    fn into_own(self, outputs: &Slots, sources: &Slots) -> Vec<f32> {
        match self {
            Value::Own(v) => v,
            kept => kept.get(outputs, sources).to_vec(),
        }
    }
}

/// What the backward pass needs from the forward pass.
struct Tape {
    n: usize,
    /// The shape of each stage's input (the last entry is the output's).
    dims: Vec<Dims>,
    /// The output of each convolution with an activation and of each activation (its
    /// mask), by stage.
    outputs: Vec<Option<Vec<f32>>>,
    /// Each max-pool's arg-max positions, by stage.
    switches: Vec<Option<Vec<u32>>>,
}

struct ChainOp {
    chain: Arc<Chain>,
    rule: BackwardRule,
    /// Whether to keep the tape (the input is being differentiated).
    keep: bool,
    tape: Mutex<Option<Tape>>,
}

impl ChainOp {
    fn stages(&self) -> &[Stage] {
        &self.chain.stages
    }

    /// Whether stage `i`'s input is read later by a residual connection.
    fn is_residual_source(&self, i: usize) -> bool {
        self.stages().iter().any(|s| {
            matches!(s, Stage::AddInputOf(from) | Stage::AddProjectedInputOf { from, .. }
                if *from == i)
        })
    }
}

impl CustomOp1 for ChainOp {
    fn name(&self) -> &'static str {
        "deepinside-chain"
    }

    // Both walks run on a pool thread: a pass has hundreds of parallel loops, and entering
    // the pool from outside for each one costs a sleep and wake-up of the calling thread.
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        on_pool(|| self.forward_walk(s, l))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        // The caller holds the lock, not the pool thread: a pool thread waiting inside the
        // walk may run other queued work, which must never find this lock taken.
        let guard = self.tape.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tape) = guard.as_ref() else {
            bail!("{}: backward without a recorded forward pass", self.name());
        };
        on_pool(|| self.backward_walk(tape, arg, grad))
    }
}

impl ChainOp {
    fn forward_walk(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_data(s, l, self.name())?;
        // `flat`: the value is `[n, features]` (after pooling or a linear layer).
        let (n, mut d, mut flat): (usize, Dims, bool) = match *l.shape().dims() {
            [n, c, h, w] => (n, [c, h, w], false),
            [n, f] => (n, [f, 1, 1], true),
            ref other => bail!(
                "{} expects an NCHW or [n, features] input, got {other:?}",
                self.name()
            ),
        };
        let stages = self.stages();
        // Inputs of stages still needed by a later residual connection.
        let mut sources: Vec<Option<Vec<f32>>> = vec![None; stages.len()];
        let mut dims = Vec::with_capacity(stages.len() + 1);
        // Activated convolution outputs (the backward pass's masks), by stage.
        let mut outputs: Vec<Option<Vec<f32>>> = vec![None; stages.len()];
        let mut switches: Vec<Option<Vec<u32>>> = vec![None; stages.len()];
        // `cur` lives in `outputs` when it is an activated output the tape keeps.
        let mut cur = Value::Own(x.to_vec());
        for (i, stage) in stages.iter().enumerate() {
            dims.push(d);
            if self.is_residual_source(i) {
                sources[i] = Some(cur.into_own(&outputs, &sources));
                cur = Value::Source(i);
            }
            cur = match stage {
                Stage::Conv { params, act } => {
                    let [c, h, w] = d;
                    if flat {
                        bail!("stage {i}: a convolution needs a feature map, not a vector");
                    }
                    if c != params.in_channels {
                        bail!(
                            "stage {i}: convolution expects {} input channels, got {c}",
                            params.in_channels
                        );
                    }
                    let (ho, wo) = params.output_size(h, w)?;
                    let x = cur.get(&outputs, &sources);
                    d = [params.out_channels, ho, wo];
                    match act {
                        Some(kind) => {
                            let y = params.forward_through_unit_cpu(x, *kind, n, h, w, ho, wo);
                            if self.keep {
                                outputs[i] = Some(y);
                                Value::Output(i)
                            } else {
                                Value::Own(y)
                            }
                        }
                        None => Value::Own(params.forward_cpu(x, n, h, w, ho, wo)),
                    }
                }
                Stage::Activation(kind) => {
                    let mut y = cur.into_own(&outputs, &sources);
                    apply_in_place(*kind, &mut y);
                    if self.keep {
                        outputs[i] = Some(y);
                        Value::Output(i)
                    } else {
                        Value::Own(y)
                    }
                }
                Stage::MaxPool(pool) => {
                    let [c, h, w] = d;
                    if flat {
                        bail!("stage {i}: a max-pool needs a feature map, not a vector");
                    }
                    let (ho, wo) = pool.output_size(h, w)?;
                    d = [c, ho, wo];
                    let x = cur.get(&outputs, &sources);
                    if self.keep {
                        let (y, at) = pool.forward_with_switches(x, h, w, ho, wo);
                        switches[i] = Some(at);
                        Value::Own(y)
                    } else {
                        Value::Own(pool.forward_cpu(x, h, w, ho, wo))
                    }
                }
                Stage::AddInputOf(from) => {
                    let mut sum = cur.into_own(&outputs, &sources);
                    let src = sources[*from].take().unwrap_or_default();
                    if dims[*from] != d || src.len() != sum.len() {
                        bail!("stage {i}: residual from stage {from} has another shape");
                    }
                    add_into(&mut sum, &src);
                    Value::Own(sum)
                }
                Stage::AddProjectedInputOf { from, params } => {
                    let mut sum = cur.into_own(&outputs, &sources);
                    let src = sources[*from].take().unwrap_or_default();
                    let [c, h, w] = dims[*from];
                    let (ho, wo) = params.output_size(h, w)?;
                    if c != params.in_channels || [params.out_channels, ho, wo] != d {
                        bail!(
                            "stage {i}: the projection of stage {from}'s input {:?} does not \
                             give the residual's shape {d:?}",
                            dims[*from]
                        );
                    }
                    let projected = params.forward_cpu(&src, n, h, w, ho, wo);
                    add_into(&mut sum, &projected);
                    Value::Own(sum)
                }
                Stage::MeanPool => {
                    let [c, h, w] = d;
                    let scale = 1.0 / (h * w) as f32;
                    d = [c, 1, 1];
                    flat = true;
                    Value::Own(
                        cur.get(&outputs, &sources)
                            .chunks_exact(h * w)
                            .map(|plane| plane.iter().sum::<f32>() * scale)
                            .collect(),
                    )
                }
                Stage::Linear(p) => {
                    let [c, h, w] = d;
                    if c * h * w != p.in_features {
                        bail!(
                            "stage {i}: linear layer expects {} features, got {}",
                            p.in_features,
                            c * h * w
                        );
                    }
                    d = [p.out_features, 1, 1];
                    flat = true;
                    Value::Own(p.forward_cpu(cur.get(&outputs, &sources), n))
                }
            };
        }
        let cur = cur.into_own(&outputs, &sources);
        dims.push(d);
        let shape = if flat {
            Shape::from((n, d[0]))
        } else {
            Shape::from((n, d[0], d[1], d[2]))
        };
        if self.keep {
            *self.tape.lock().unwrap_or_else(|e| e.into_inner()) = Some(Tape {
                n,
                dims,
                outputs,
                switches,
            });
        }
        Ok((CpuStorage::F32(cur), shape))
    }

    fn backward_walk(
        &self,
        tape: &Tape,
        arg: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let n = tape.n;
        let stages = self.stages();
        // Gradients waiting to be added at a stage's input (from residual connections);
        // the walk reads a gradient it parked there as `Value::Source`, without a copy.
        let mut pending: Vec<Option<Vec<f32>>> = vec![None; stages.len()];
        let none: &Slots = &[];
        let mut g = Value::Own(grad.flatten_all()?.to_vec1()?);
        for (i, stage) in stages.iter().enumerate().rev() {
            // `g` is the gradient with respect to stage i's output.
            let [c, h, w] = tape.dims[i];
            g = match stage {
                Stage::Conv { params, act } => {
                    let [_, ho, wo] = tape.dims[i + 1];
                    Value::Own(match (act, &tape.outputs[i]) {
                        (Some(kind), Some(y)) if params.masks_as_it_reads() => {
                            let mask = UnitMask {
                                kind: *kind,
                                rule: self.rule,
                                at: y,
                            };
                            let g = g.get(none, &pending);
                            params.input_grad_through_unit_cpu(g, mask, n, h, w, ho, wo)
                        }
                        (Some(kind), Some(y)) => {
                            let mut masked = g.into_own(none, &pending);
                            mask_in_place(*kind, self.rule, y, &mut masked);
                            params.input_grad_cpu(&masked, n, h, w, ho, wo)
                        }
                        _ => params.input_grad_cpu(g.get(none, &pending), n, h, w, ho, wo),
                    })
                }
                Stage::Activation(kind) => {
                    let Some(y) = &tape.outputs[i] else {
                        bail!("stage {i}: the tape holds no activation output");
                    };
                    let mut masked = g.into_own(none, &pending);
                    mask_in_place(*kind, self.rule, y, &mut masked);
                    Value::Own(masked)
                }
                Stage::MaxPool(_) => {
                    let Some(at) = &tape.switches[i] else {
                        bail!("stage {i}: the tape holds no max-pool switches");
                    };
                    let [_, ho, wo] = tape.dims[i + 1];
                    Value::Own(MaxPool2d::backward_cpu(
                        at,
                        g.get(none, &pending),
                        ho * wo,
                        h,
                        w,
                    ))
                }
                Stage::AddProjectedInputOf { from, params } => {
                    // The gradient passes on unchanged and, through the projection, is
                    // added at stage `from`'s input.
                    if matches!(g, Value::Source(s) if s == *from) {
                        g = Value::Own(g.into_own(none, &pending));
                    }
                    let [_, sh, sw] = tape.dims[*from];
                    let projected = params.input_grad_cpu(g.get(none, &pending), n, sh, sw, h, w);
                    match &mut pending[*from] {
                        Some(p) => add_into(p, &projected),
                        slot => *slot = Some(projected),
                    }
                    g
                }
                Stage::AddInputOf(from) => {
                    if pending[*from].is_some() {
                        let own = g.into_own(none, &pending);
                        if let Some(p) = &mut pending[*from] {
                            add_into(p, &own);
                        }
                        Value::Own(own)
                    } else {
                        pending[*from] = Some(g.into_own(none, &pending));
                        Value::Source(*from)
                    }
                }
                Stage::MeanPool => {
                    let scale = 1.0 / (h * w) as f32;
                    let mut dx = Vec::with_capacity(n * c * h * w);
                    for v in g.get(none, &pending) {
                        dx.extend(std::iter::repeat_n(v * scale, h * w));
                    }
                    Value::Own(dx)
                }
                Stage::Linear(p) => Value::Own(p.input_grad_cpu(g.get(none, &pending), n)),
            };
            if pending[i].is_some() {
                let mut own = g.into_own(none, &pending);
                if let Some(p) = pending[i].take() {
                    add_into(&mut own, &p);
                }
                g = Value::Own(own);
            }
        }
        let g = g.into_own(none, &pending);
        Ok(Some(Tensor::from_vec(g, arg.shape(), arg.device())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{activation, conv2d, linear, max_pool2d, Padding};
    use candle_core::{Device, Var};

    /// Deterministic weights in [-1, 1).
    fn weights(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 37 + seed * 101) % 97) as f32 / 48.5) - 1.0)
            .collect()
    }

    fn conv(c_in: usize, c_out: usize, k: usize, seed: usize) -> Arc<Conv2dParams> {
        strided_conv(c_in, c_out, k, 1, seed)
    }

    fn strided_conv(
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
        seed: usize,
    ) -> Arc<Conv2dParams> {
        let pad = Padding::symmetric(k / 2);
        Arc::new(
            Conv2dParams::new(
                weights(c_out * c_in * k * k, seed),
                [c_out, c_in, k, k],
                Some(weights(c_out, seed + 1)),
                stride,
                pad,
                false,
            )
            .unwrap(),
        )
    }

    fn assert_close(a: &Tensor, b: &Tensor, what: &str) {
        let (a, b) = (
            a.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            b.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        );
        assert_eq!(a.len(), b.len());
        for (u, v) in a.iter().zip(&b) {
            assert!(
                (u - v).abs() <= 1e-4 * (1.0 + v.abs()),
                "{u} vs {v} ({what})"
            );
        }
    }

    #[test]
    fn resnet_blocks_with_max_pool_and_projection_equal_the_per_layer_graph() {
        // A ResNet's shape in miniature: stem convolution, overlapping padded max-pool, an
        // identity block and a downsampling block (stride-2 convolution, 1 × 1 stride-2
        // projection shortcut), each with its ReLU after the addition.
        let (stem, a1, a2) = (conv(3, 4, 3, 1), conv(4, 4, 3, 2), conv(4, 4, 3, 3));
        let (b1, b2) = (strided_conv(4, 6, 3, 2, 4), conv(6, 6, 3, 5));
        let proj = strided_conv(4, 6, 1, 2, 6);
        let fc = Arc::new(LinearParams::new(weights(5 * 6, 7), 5, 6, Some(weights(5, 8))).unwrap());
        let pool = MaxPool2d {
            kernel: 3,
            stride: 2,
            padding: 1,
        };
        let relu = Some(ActivationKind::Relu);
        let net = Arc::new(
            Chain::new(vec![
                Stage::Conv {
                    params: stem.clone(),
                    act: relu,
                },
                Stage::MaxPool(pool),
                Stage::Conv {
                    params: a1.clone(),
                    act: relu,
                },
                Stage::Conv {
                    params: a2.clone(),
                    act: None,
                },
                Stage::AddInputOf(2),
                Stage::Activation(ActivationKind::Relu),
                Stage::Conv {
                    params: b1.clone(),
                    act: relu,
                },
                Stage::Conv {
                    params: b2.clone(),
                    act: None,
                },
                Stage::AddProjectedInputOf {
                    from: 6,
                    params: proj.clone(),
                },
                Stage::Activation(ActivationKind::Relu),
                Stage::MeanPool,
                Stage::Linear(fc.clone()),
            ])
            .unwrap(),
        );
        let x0: Vec<f32> = (0..2 * 3 * 13 * 11)
            .map(|i| ((i as f32) * 0.61).sin() * 3.0)
            .collect();
        let score = |y: &Tensor| y.narrow(1, 1, 1).unwrap().sum_all().unwrap();
        for rule in [
            BackwardRule::Gradient,
            BackwardRule::GuidedBackprop,
            BackwardRule::DeconvNet,
        ] {
            let x = Var::from_vec(x0.clone(), (2, 3, 13, 11), &Device::Cpu).unwrap();
            let fused = chain(x.as_tensor(), &net, rule).unwrap();
            let g_fused = score(&fused).backward().unwrap();
            let g_fused = g_fused.get(x.as_tensor()).unwrap();

            let x2 = Var::from_vec(x0.clone(), (2, 3, 13, 11), &Device::Cpu).unwrap();
            let act = |t: &Tensor| activation(t, ActivationKind::Relu, rule).unwrap();
            let s0 = max_pool2d(&act(&conv2d(x2.as_tensor(), &stem).unwrap()), pool).unwrap();
            let s1 = conv2d(&act(&conv2d(&s0, &a1).unwrap()), &a2).unwrap();
            let s1 = act(&(s1 + &s0).unwrap());
            let s2 = conv2d(&act(&conv2d(&s1, &b1).unwrap()), &b2).unwrap();
            let s2 = act(&(s2 + conv2d(&s1, &proj).unwrap()).unwrap());
            let graph = linear(&s2.mean((2, 3)).unwrap(), &fc).unwrap();
            let g_graph = score(&graph).backward().unwrap();
            let g_graph = g_graph.get(x2.as_tensor()).unwrap();

            assert_close(&fused, &graph, &format!("logits, {rule:?}"));
            assert_close(g_fused, g_graph, &format!("input gradient, {rule:?}"));
            // The forward pass without a tape takes the separable max-pool: the same values.
            let plain = chain(
                &Tensor::new(x0.as_slice(), &Device::Cpu)
                    .unwrap()
                    .reshape((2, 3, 13, 11))
                    .unwrap(),
                &net,
                rule,
            )
            .unwrap();
            assert_close(&plain, &graph, &format!("logits without a tape, {rule:?}"));
        }
        // The rules differ on this net, so the comparison is not vacuous.
        let g = |rule| {
            let x = Var::from_vec(x0.clone(), (2, 3, 13, 11), &Device::Cpu).unwrap();
            let y = chain(x.as_tensor(), &net, rule).unwrap();
            score(&y).backward().unwrap().remove(x.as_tensor()).unwrap()
        };
        let diff = (g(BackwardRule::Gradient) - g(BackwardRule::DeconvNet))
            .unwrap()
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff > 1e-3, "gradient and DeconvNet agree ({diff})");
    }

    #[test]
    fn residuals_from_kept_outputs_and_chained_additions_equal_the_per_layer_graph() {
        // Stage 1's input is stage 0's activated output (kept for the tape and read again
        // by the residual), and two residual additions follow each other: the paths where
        // the walk must copy a value that lives in a slot.
        let (c0, c1, c2) = (conv(3, 3, 3, 1), conv(3, 3, 1, 2), conv(3, 3, 3, 3));
        let fc = Arc::new(LinearParams::new(weights(4 * 3, 4), 4, 3, Some(weights(4, 5))).unwrap());
        let relu6 = ActivationKind::Relu6;
        let net = Arc::new(
            Chain::new(vec![
                Stage::Conv {
                    params: c0.clone(),
                    act: Some(relu6),
                },
                Stage::Conv {
                    params: c1.clone(),
                    act: Some(relu6),
                },
                Stage::Conv {
                    params: c2.clone(),
                    act: None,
                },
                Stage::AddInputOf(1),
                Stage::AddInputOf(0),
                Stage::MeanPool,
                Stage::Linear(fc.clone()),
            ])
            .unwrap(),
        );
        let x0: Vec<f32> = (0..2 * 3 * 5 * 6)
            .map(|i| ((i as f32) * 0.37).sin() * 4.0)
            .collect();
        for rule in [BackwardRule::Gradient, BackwardRule::GuidedBackprop] {
            let x = Var::from_vec(x0.clone(), (2, 3, 5, 6), &Device::Cpu).unwrap();
            let fused = chain(x.as_tensor(), &net, rule).unwrap();
            let score = |y: &Tensor| y.narrow(1, 2, 1).unwrap().sum_all().unwrap();
            let g_fused = score(&fused)
                .backward()
                .unwrap()
                .remove(x.as_tensor())
                .unwrap();

            let x2 = Var::from_vec(x0.clone(), (2, 3, 5, 6), &Device::Cpu).unwrap();
            let a0 = activation(&conv2d(x2.as_tensor(), &c0).unwrap(), relu6, rule).unwrap();
            let a1 = activation(&conv2d(&a0, &c1).unwrap(), relu6, rule).unwrap();
            let s = (conv2d(&a1, &c2).unwrap() + &a0).unwrap();
            let s = (s + x2.as_tensor()).unwrap();
            let graph = linear(&s.mean((2, 3)).unwrap(), &fc).unwrap();
            let g_graph = score(&graph)
                .backward()
                .unwrap()
                .remove(x2.as_tensor())
                .unwrap();

            assert_close(&fused, &graph, &format!("{rule:?}"));
            assert_close(&g_fused, &g_graph, &format!("{rule:?}"));
        }
    }

    /// The logits of a batch `x0` of `shape` through `forward` (the fused chain or the
    /// per-layer graph), and the input gradient of their column `class`.
    fn logits_and_grad(
        x0: &[f32],
        shape: (usize, usize, usize, usize),
        class: usize,
        forward: impl Fn(&Tensor) -> Tensor,
    ) -> (Tensor, Tensor) {
        let x = Var::from_vec(x0.to_vec(), shape, &Device::Cpu).unwrap();
        let y = forward(x.as_tensor());
        let score = y.narrow(1, class, 1).unwrap().sum_all().unwrap();
        let g = score.backward().unwrap().remove(x.as_tensor()).unwrap();
        (y, g)
    }

    #[test]
    fn inverted_residual_blocks_with_depthwise_units_equal_the_per_layer_graph() {
        // EfficientNet's block: 1 × 1 expansion, depthwise 3 × 3 (whose input gradient
        // applies the ReLU6 rule as it reads each plane), 1 × 1 projection and the residual;
        // then a stride-2 depthwise convolution with ReLU, and a depthwise one without a unit.
        let depthwise = |c: usize, k: usize, stride: usize, seed: usize| {
            Arc::new(
                Conv2dParams::new(
                    weights(c * k * k, seed),
                    [c, 1, k, k],
                    Some(weights(c, seed + 1)),
                    stride,
                    Padding::symmetric(k / 2),
                    true,
                )
                .unwrap(),
            )
        };
        let (expand, dw, project) = (conv(3, 6, 1, 1), depthwise(6, 3, 1, 2), conv(6, 3, 1, 3));
        let (down, flat) = (depthwise(3, 3, 2, 4), depthwise(3, 5, 1, 5));
        let fc = Arc::new(LinearParams::new(weights(4 * 3, 6), 4, 3, Some(weights(4, 7))).unwrap());
        let (relu, relu6) = (ActivationKind::Relu, ActivationKind::Relu6);
        let net = Arc::new(
            Chain::new(vec![
                Stage::Conv {
                    params: expand.clone(),
                    act: Some(relu6),
                },
                Stage::Conv {
                    params: dw.clone(),
                    act: Some(relu6),
                },
                Stage::Conv {
                    params: project.clone(),
                    act: None,
                },
                Stage::AddInputOf(0),
                Stage::Conv {
                    params: down.clone(),
                    act: Some(relu),
                },
                Stage::Conv {
                    params: flat.clone(),
                    act: None,
                },
                Stage::MeanPool,
                Stage::Linear(fc.clone()),
            ])
            .unwrap(),
        );
        // Large enough that ReLU6 clips above as well as below.
        let x0: Vec<f32> = (0..2 * 3 * 9 * 8)
            .map(|i| ((i as f32) * 0.53).sin() * 8.0)
            .collect();
        for rule in [
            BackwardRule::Gradient,
            BackwardRule::GuidedBackprop,
            BackwardRule::DeconvNet,
        ] {
            let (fused, g_fused) =
                logits_and_grad(&x0, (2, 3, 9, 8), 3, |x| chain(x, &net, rule).unwrap());
            let (graph, g_graph) = logits_and_grad(&x0, (2, 3, 9, 8), 3, |x| {
                let act = |t: &Tensor, kind| activation(t, kind, rule).unwrap();
                let e = act(&conv2d(x, &expand).unwrap(), relu6);
                let d = act(&conv2d(&e, &dw).unwrap(), relu6);
                let s = (conv2d(&d, &project).unwrap() + x).unwrap();
                let s = conv2d(&act(&conv2d(&s, &down).unwrap(), relu), &flat).unwrap();
                linear(&s.mean((2, 3)).unwrap(), &fc).unwrap()
            });
            assert_close(&fused, &graph, &format!("logits, {rule:?}"));
            assert_close(&g_fused, &g_graph, &format!("input gradient, {rule:?}"));
        }
    }
}
