//! ONNX models on this machine: loading the file, forward at batch 16, and saliency passes
//! (forward + input gradient of one logit per image) at batch 1 and 16 under the gradient
//! rule, and at batch 1 under guided backprop. The models are the exports of
//! `shared/reference/onnx/` (`$DEEPINSIDE_SHARED`, else `../shared`) and, for architectures
//! too big for `shared/` (torchvision's resnet18 and resnet50), the exports that
//! `cargo xtask bench --onnx` makes with `peers/onnx_fixtures.py` into
//! `$DEEPINSIDE_ONNX_EXPORTS` (default `target/onnx-bench`). The native EfficientNet-Lite0 runs
//! the same work beside its ONNX export. `DEEPINSIDE_BENCH_ONNX=a,b` picks models;
//! `cargo xtask bench --onnx` runs the PyTorch peer on the same architectures
//! (`xtask/peers/onnx_peer.py`) before and after, and prints the ratios.
use candle_core::{Device, Tensor, Var};
use convnet::{load_model, BackwardRule, ForwardOptions, ImageModel, ModelKind, OnnxModel};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use criterion::{measurement::WallTime, Throughput};
use std::path::{Path, PathBuf};

#[path = "../crates/cli/src/allocator.rs"]
mod allocator;
#[path = "../crates/cli/src/candle_pool.rs"]
mod candle_pool;
#[path = "support/input.rs"]
mod input;

/// The models measured by default: the chain-shaped Lite0 (fused path), the three
/// architectures the ONNX issue names for speed (mobilenet_v2, resnet18, resnet50), and two
/// that stress the node-by-node path (SiLU and squeeze-excitation; a small residual net).
const DEFAULT_MODELS: &str = "lite0,mobilenet_v2,resnet18,resnet50,efficientnet_b0,tinyresnet";

/// The class whose logit every saliency pass differentiates, the peer's too.
const CLASS: usize = 1;

fn saliency_pass(model: &dyn ImageModel, x: &Tensor, rule: BackwardRule) -> Tensor {
    let v = Var::from_tensor(x).unwrap();
    let out = model
        .forward_with(v.as_tensor(), &ForwardOptions::with_rule(rule))
        .unwrap();
    let score = out.logits.narrow(1, CLASS, 1).unwrap().sum_all().unwrap();
    score.backward().unwrap().remove(v.as_tensor()).unwrap()
}

/// The work every model is timed on, under the benchmark ids `cargo xtask bench` reads.
fn inference_work(g: &mut BenchmarkGroup<WallTime>, model: &dyn ImageModel) {
    let x16 = input::smooth_batch(16);
    let x1 = input::smooth_batch(1);
    g.throughput(Throughput::Elements(16));
    g.bench_with_input(BenchmarkId::new("forward", 16), &x16, |b, x| {
        b.iter(|| model.forward(x).unwrap())
    });
    for x in [&x1, &x16] {
        let batch = x.dim(0).unwrap();
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(BenchmarkId::new("gradient", batch), x, |b, x| {
            b.iter(|| saliency_pass(model, x, BackwardRule::Gradient))
        });
    }
    g.throughput(Throughput::Elements(1));
    g.bench_with_input(BenchmarkId::new("guided", 1), &x1, |b, x| {
        b.iter(|| saliency_pass(model, x, BackwardRule::GuidedBackprop))
    });
}

/// The model's file: the shared reference export, else the benchmark's own export.
fn model_file(shared: &Path, exports: &Path, name: &str) -> Option<PathBuf> {
    [shared.join("reference/onnx"), exports.to_path_buf()]
        .into_iter()
        .map(|d| d.join(name).join("model.onnx"))
        .find(|p| p.is_file())
}

fn bench(c: &mut Criterion) {
    allocator::keep_freed_pages();
    candle_pool::park_idle_workers_sooner();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = std::env::var_os("DEEPINSIDE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared"));
    let exports = std::env::var_os("DEEPINSIDE_ONNX_EXPORTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/onnx-bench"));
    let models = std::env::var("DEEPINSIDE_BENCH_ONNX").unwrap_or_else(|_| DEFAULT_MODELS.into());
    for name in models.split(',').filter(|s| !s.is_empty()) {
        let Some(path) = model_file(&shared, &exports, name) else {
            eprintln!(
                "skipped: no {name}/model.onnx in {}/reference/onnx or {} \
                 (`cargo xtask bench --onnx` exports the torchvision ones)",
                shared.display(),
                exports.display()
            );
            continue;
        };
        let model = OnnxModel::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut g = c.benchmark_group(format!("onnx-{name}"));
        g.sample_size(10);
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::new("load", 1), &path, |b, p| {
            b.iter(|| OnnxModel::load(p).unwrap())
        });
        inference_work(&mut g, &model);
        g.finish();
        if name == "lite0" {
            // The native model on the same work, for the ONNX-to-native ratio.
            let native = load_model(ModelKind::EfficientNetLite0, None, &Device::Cpu)
                .expect("EfficientNet-Lite0 weights ($DEEPINSIDE_MODELS, the cache, or pip)");
            let mut g = c.benchmark_group("native-lite0");
            g.sample_size(10);
            inference_work(&mut g, &*native);
            g.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
