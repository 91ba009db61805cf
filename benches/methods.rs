//! The attribution methods beyond the paper on EfficientNet-Lite0, one 224² image each, at
//! the settings the Captum peer (`xtask/peers/methods_peer.py`) uses: integrated gradients
//! with 50 Gauss–Legendre steps, occlusion with a 16-pixel window at stride 8, SmoothGrad
//! with 50 samples, RISE with 4000 masks. `cargo xtask bench` prints the ratios.
use attribution::{explain, AttributionMethod, MethodSettings, SmoothVariant};
use candle_core::Device;
use convnet::{load_model, ModelKind, Target};
use criterion::{criterion_group, criterion_main, Criterion};

#[path = "../crates/cli/src/allocator.rs"]
mod allocator;
#[path = "../crates/cli/src/candle_pool.rs"]
mod candle_pool;
#[path = "support/input.rs"]
mod input;

fn bench(c: &mut Criterion) {
    allocator::keep_freed_pages();
    candle_pool::park_idle_workers_sooner();
    let model = load_model(ModelKind::EfficientNetLite0, None, &Device::Cpu)
        .expect("EfficientNet-Lite0 weights");
    let x = input::smooth_batch(1);
    let target = Target::Class(0);
    let settings = MethodSettings::default();
    let mut g = c.benchmark_group("methods");
    g.sample_size(10);
    let only = std::env::var("DEEPINSIDE_BENCH_METHODS").unwrap_or_default();
    for method in [
        AttributionMethod::IntegratedGradients,
        AttributionMethod::Occlusion,
        AttributionMethod::SmoothGrad(SmoothVariant::Mean),
        AttributionMethod::Rise,
    ] {
        if !only.is_empty() && !only.split(',').any(|m| m == method.as_str()) {
            continue;
        }
        g.bench_function(method.as_str(), |b| {
            b.iter(|| explain(&*model, &x, &target, method, &settings).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
