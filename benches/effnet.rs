//! EfficientNet-Lite0 on this machine: forward, and forward + input gradient of one logit
//! (a saliency pass), at batch 1 and 16. Weights from `$DEEPINSIDE_MODELS`, the cache, or pip.
use candle_core::{DType, Device, Tensor, Var};
use convnet::{load_model, BackwardRule, ForwardOptions, ImageModel, ModelKind};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

#[path = "../crates/cli/src/allocator.rs"]
mod allocator;
#[path = "../crates/cli/src/candle_pool.rs"]
mod candle_pool;
/// The same allocator and settings as the `deepinside` binary (see docs/performance.md).
#[path = "support/input.rs"]
mod input;

fn saliency_pass(model: &dyn ImageModel, x: &Tensor, class: usize) -> Tensor {
    let v = Var::from_tensor(x).unwrap();
    let out = model
        .forward_with(
            v.as_tensor(),
            &ForwardOptions::with_rule(BackwardRule::Gradient),
        )
        .unwrap();
    let score = out.logits.narrow(1, class, 1).unwrap().sum_all().unwrap();
    score.backward().unwrap().remove(v.as_tensor()).unwrap()
}

fn bench(c: &mut Criterion) {
    allocator::keep_freed_pages();
    candle_pool::park_idle_workers_sooner();
    let model = load_model(ModelKind::EfficientNetLite0, None, &Device::Cpu)
        .expect("EfficientNet-Lite0 weights");
    let mut g = c.benchmark_group("efficientnet-lite0");
    g.sample_size(20);
    for batch in [1usize, 16] {
        let x = input::smooth_batch(batch);
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(BenchmarkId::new("forward", batch), &x, |b, x| {
            b.iter(|| model.forward(x).unwrap().to_dtype(DType::F32).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("forward+input-grad", batch), &x, |b, x| {
            b.iter(|| saliency_pass(&*model, x, 281))
        });
    }
    // The paper's 10-crop saliency on a 256×256 image (10 crops in one batch, one backward).
    let img = image::RgbImage::from_fn(256, 256, |x, y| {
        image::Rgb([
            (x * 7 % 256) as u8,
            (y * 3 % 256) as u8,
            ((x + y) % 256) as u8,
        ])
    });
    g.throughput(Throughput::Elements(1));
    g.bench_with_input(BenchmarkId::new("ten-crop-saliency", 1), &img, |b, img| {
        b.iter(|| {
            attribution::ten_crop(
                &*model,
                img,
                &attribution::Target::Top1,
                BackwardRule::Gradient,
                attribution::Reduction::MaxAbs,
                Default::default(),
            )
            .unwrap()
        })
    });
    g.finish();
}

/// Saliency passes on the first CUDA GPU at batch 1, 16 and 64 (`--features cuda`; run by
/// `cargo xtask gpu-check`). Each iteration waits for the GPU to finish.
#[cfg(feature = "cuda")]
fn bench_cuda(c: &mut Criterion) {
    let gpu = Device::new_cuda(0).expect("an NVIDIA GPU and a CUDA driver");
    let model =
        load_model(ModelKind::EfficientNetLite0, None, &gpu).expect("EfficientNet-Lite0 weights");
    let mut g = c.benchmark_group("efficientnet-lite0-cuda");
    g.sample_size(20);
    for batch in [1usize, 16, 64] {
        let x = input::smooth_batch(batch).to_device(&gpu).unwrap();
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(BenchmarkId::new("forward+input-grad", batch), &x, |b, x| {
            b.iter(|| {
                let g = saliency_pass(&*model, x, 281);
                gpu.synchronize().unwrap();
                g
            })
        });
    }
    g.finish();
}

#[cfg(feature = "cuda")]
criterion_group!(benches, bench, bench_cuda);
#[cfg(not(feature = "cuda"))]
criterion_group!(benches, bench);
criterion_main!(benches);
