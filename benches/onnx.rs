//! ONNX models on this machine: forward at batch 16 and a saliency pass (forward + input
//! gradient of one logit) at batch 1, under the gradient and guided-backprop rules, for the
//! exported models of `shared/reference/onnx/` (`$DEEPINSIDE_SHARED`, else `../shared`).
//! `DEEPINSIDE_BENCH_ONNX=a,b` picks models. `cargo xtask bench --onnx` runs the PyTorch
//! peer on the same architectures (`xtask/peers/onnx_peer.py`) before and after, and prints
//! the ratios.
use candle_core::{Tensor, Var};
use convnet::{BackwardRule, ForwardOptions, ImageModel, OnnxModel};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::path::PathBuf;

#[path = "../crates/cli/src/allocator.rs"]
mod allocator;
#[path = "../crates/cli/src/candle_pool.rs"]
mod candle_pool;
#[path = "support/input.rs"]
mod input;

/// The models measured by default: the chain-shaped Lite0 (fused path), two inverted-residual
/// networks with squeeze-excitation or ReLU6, and a residual network (node-by-node path).
const DEFAULT_MODELS: &str = "lite0,mobilenet_v2,efficientnet_b0,tinyresnet";

fn saliency_pass(model: &dyn ImageModel, x: &Tensor, rule: BackwardRule) -> Tensor {
    let v = Var::from_tensor(x).unwrap();
    let out = model
        .forward_with(v.as_tensor(), &ForwardOptions::with_rule(rule))
        .unwrap();
    let score = out.logits.narrow(1, 1, 1).unwrap().sum_all().unwrap();
    score.backward().unwrap().remove(v.as_tensor()).unwrap()
}

fn bench(c: &mut Criterion) {
    allocator::keep_freed_pages();
    candle_pool::park_idle_workers_sooner();
    let shared = std::env::var_os("DEEPINSIDE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let dir = shared.join("reference/onnx");
    if !dir.is_dir() {
        eprintln!(
            "skipped: {} is absent (set DEEPINSIDE_SHARED)",
            dir.display()
        );
        return;
    }
    let models = std::env::var("DEEPINSIDE_BENCH_ONNX").unwrap_or_else(|_| DEFAULT_MODELS.into());
    let x16 = input::smooth_batch(16);
    let x1 = input::smooth_batch(1);
    for name in models.split(',').filter(|s| !s.is_empty()) {
        let path = dir.join(name).join("model.onnx");
        let model = OnnxModel::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut g = c.benchmark_group(format!("onnx-{name}"));
        g.sample_size(10);
        g.throughput(Throughput::Elements(16));
        g.bench_with_input(BenchmarkId::new("forward", 16), &x16, |b, x| {
            b.iter(|| model.forward(x).unwrap())
        });
        g.throughput(Throughput::Elements(1));
        for (id, rule) in [
            ("gradient", BackwardRule::Gradient),
            ("guided", BackwardRule::GuidedBackprop),
        ] {
            g.bench_with_input(BenchmarkId::new(id, 1), &x1, |b, x| {
                b.iter(|| saliency_pass(&model, x, rule))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
