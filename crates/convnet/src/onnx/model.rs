//! An ONNX image classifier as an [`ImageModel`]: the same interface, rules, captures and
//! probes as the built-in models, for any network the interpreter runs.
use super::graph::Graph;
use super::preprocessor::preprocessing_beside;
use super::run::{Program, PLAIN_NONLINEAR_OPS, RULE_OPS};
use crate::classes::ClassNames;
use crate::error::{ConvnetError, Result};
use crate::models::{Capture, ForwardOptions, ForwardOutput, ImageModel, LayerInfo, ModelInfo};
use crate::ops::{self, Chain};
use crate::preprocess::Preprocessing;
use crate::rule::BackwardRule;
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Choices a user can make when loading an ONNX model.
#[derive(Clone, Debug, Default)]
pub struct OnnxOptions {
    /// Class names: one a line, or a Hugging Face `config.json` with `id2label`.
    pub labels: Option<PathBuf>,
    /// Preprocessing instead of the `preprocessor_config.json` beside the model.
    pub preprocessing: Option<Preprocessing>,
}

/// What the loader found, for the user to read (and for JSON outputs).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct GraphSummary {
    /// The operator set version.
    pub opset: i64,
    /// Nodes after normalisation.
    pub nodes: usize,
    /// ReLU-like units (Relu, Clip from 0, LeakyRelu) through which the backward rule acts.
    pub rule_units: usize,
    /// Other nonlinear units, which pass the plain gradient under every rule.
    pub plain_units: usize,
    /// BatchNormalization nodes folded into the convolution before them.
    pub folded_batch_norms: usize,
    /// The Softmax or LogSoftmax removed at the output, if any.
    pub stripped_output: Option<String>,
    /// The file's input was channels-last; deepinside transposes its NCHW input first.
    pub channels_last_input: bool,
    /// Whether CPU passes without captures run as one fused chain (the built-in models'
    /// path) rather than node by node.
    pub fused: bool,
    /// Sentences about choices made for the user (preprocessing source, softmax, rules).
    pub notes: Vec<String>,
}

/// An ONNX classifier run by deepinside's interpreter.
pub struct OnnxModel {
    pub(super) program: Program,
    /// The graph as the fused CPU chain, when it has that form.
    fused: Option<Arc<Chain>>,
    info: ModelInfo,
    path: PathBuf,
}

fn onnx_err(path: &Path, reason: impl Into<String>) -> ConvnetError {
    ConvnetError::Onnx {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

impl OnnxModel {
    /// Loads `path` with the preprocessing file beside it, ImageNet class names for 1000
    /// outputs and indices otherwise.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with(path, &OnnxOptions::default())
    }

    pub fn load_with(path: &Path, opts: &OnnxOptions) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| onnx_err(path, format!("cannot read: {e}")))?;
        let graph = Graph::parse(&bytes, path).map_err(|e| onnx_err(path, e))?;
        let mut notes = Vec::new();
        let preprocessing = match &opts.preprocessing {
            Some(p) => p.clone(),
            None => {
                let fixed = match graph.input_dims[..] {
                    [_, _, Some(h), Some(w)] => Some((h as u32, w as u32)),
                    _ => None,
                };
                let (p, note) = preprocessing_beside(path, fixed)?;
                notes.push(note);
                p
            }
        };
        if graph.channels_last_input {
            notes.push(format!(
                "the model's input `{}` is channels-last [batch, h, w, 3] (a Keras export); \
                 deepinside feeds it NCHW through a Transpose, and layers keep their file's \
                 layout",
                graph.input.trim_end_matches(".nchw")
            ));
        }
        if let Some(op) = &graph.stripped_output {
            notes.push(format!(
                "the model ends in {op}; deepinside explains the scores before it (the logits)"
            ));
        }
        let mut rule_units = 0;
        let mut plain_units = 0;
        for n in &graph.nodes {
            let clip_from_zero =
                n.op == "Clip" && graph.clip_bounds(n).is_ok_and(|(lo, _)| lo == 0.0);
            if RULE_OPS.contains(&n.op.as_str()) && (n.op != "Clip" || clip_from_zero) {
                rule_units += 1;
            } else if PLAIN_NONLINEAR_OPS.contains(&n.op.as_str()) || n.op == "Clip" {
                plain_units += 1;
            }
        }
        if rule_units == 0 {
            notes.push(
                "the model has no ReLU-like unit: DeconvNet and guided backprop equal the gradient on it"
                    .into(),
            );
        }
        let mut summary = GraphSummary {
            opset: graph.opset,
            nodes: graph.nodes.len(),
            rule_units,
            plain_units,
            folded_batch_norms: graph.folded_batch_norms,
            stripped_output: graph.stripped_output.clone(),
            channels_last_input: graph.channels_last_input,
            fused: false,
            notes,
        };
        if let [_, c, h, w] = graph.input_dims[..] {
            let fits = |d: Option<usize>, v: usize| d.is_none_or(|d| d == v);
            if !fits(c, 3)
                || !fits(h, preprocessing.height as usize)
                || !fits(w, preprocessing.width as usize)
            {
                return Err(onnx_err(
                    path,
                    format!(
                        "the model's input is {:?}, the preprocessing gives [batch, 3, {}, {}] \
                         (a preprocessor_config.json beside the model or --preprocessor sets \
                         the size)",
                        graph.input_dims, preprocessing.height, preprocessing.width
                    ),
                ));
            }
        }
        let program = Program::new(graph).map_err(|e| onnx_err(path, e))?;
        // One pass at the input size names every layer and sizes the output.
        let x = Tensor::zeros(
            (
                1,
                3,
                preprocessing.height as usize,
                preprocessing.width as usize,
            ),
            DType::F32,
            &Device::Cpu,
        )?;
        let mut layers = Vec::new();
        let mut record = |name: &str, t: Tensor| {
            layers.push(LayerInfo {
                name: name.to_string(),
                shape: t.dims()[1..].to_vec(),
            });
            Ok(t)
        };
        let logits = program
            .run(&x, BackwardRule::Gradient, Some(&mut record))
            .map_err(|e| onnx_err(path, e))?;
        let outputs = logits.elem_count();
        if logits.dims()[1..].iter().filter(|&&d| d > 1).count() > 1 {
            return Err(onnx_err(
                path,
                format!(
                    "the output has shape {:?}; a classifier gives [batch, classes]",
                    logits.dims()
                ),
            ));
        }
        let classes = match &opts.labels {
            Some(p) => super::labels::load_labels(p, outputs)?,
            None if outputs == 1000 => ClassNames::imagenet(),
            None => ClassNames::indices(outputs),
        };
        let shapes: HashMap<String, Vec<usize>> = layers
            .iter()
            .map(|l| (l.name.clone(), l.shape.clone()))
            .collect();
        let fused = super::lower::lower(&program, &shapes).map(Arc::new);
        summary.fused = fused.is_some();
        let name = model_name(path);
        Ok(OnnxModel {
            program,
            fused,
            info: ModelInfo {
                name,
                preprocessing,
                classes,
                layers,
                device: Device::Cpu,
                graph: Some(summary),
            },
            path: path.to_path_buf(),
        })
    }

    /// The same model computing on `device` (the kernels copy their weights on first use).
    pub fn on(mut self, device: &Device) -> Self {
        self.info.device = device.clone();
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `resnet18` for `resnet18.onnx`; the folder's name for a file called `model.onnx`.
fn model_name(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("onnx");
    match (
        stem,
        path.parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str()),
    ) {
        ("model", Some(dir)) => dir.to_string(),
        _ => stem.to_string(),
    }
}

impl ImageModel for OnnxModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn forward_with(&self, x: &Tensor, opts: &ForwardOptions) -> Result<ForwardOutput> {
        self.info.preprocessing.check_input(self.name(), x)?;
        let mut cap = Capture::new(self, opts)?;
        let err = |e: String| onnx_err(&self.path, e);
        let logits =
            if let (false, true, Some(chain)) = (cap.active(), x.device().is_cpu(), &self.fused) {
                ops::chain(x, chain, opts.rule)?
            } else if cap.active() {
                let mut keep = |name: &str, t: Tensor| cap.keep(name, t).map_err(|e| e.to_string());
                self.program
                    .run(x, opts.rule, Some(&mut keep))
                    .map_err(err)?
            } else {
                self.program.run(x, opts.rule, None).map_err(err)?
            };
        let n = logits.dims()[0];
        let logits = logits.reshape((n, logits.elem_count() / n.max(1)))?;
        Ok(cap.output(logits))
    }
}
