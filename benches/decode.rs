//! JPEG decoding as the pipeline does it (`convnet::preprocess::decode_rgb`: libjpeg-turbo's
//! C path through mozjpeg-sys), per image: the 300 dev images of `../shared` when present,
//! and the sample photo `rocket.jpg` (640 × 427) that lives in the repository. The A/B against
//! the earlier SIMD build is in docs/performance.md.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::{Path, PathBuf};

/// The same allocator and settings as the `deepinside` binary (libjpeg's buffers stay mapped).
#[path = "../crates/cli/src/allocator.rs"]
mod allocator;

fn files(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn bench(c: &mut Criterion) {
    allocator::keep_freed_pages();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = std::env::var_os("DEEPINSIDE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared"));
    let mut g = c.benchmark_group("jpeg-decode");
    let sets = [
        ("dev-images", files(&shared.join("data/ilsvrc-dev/images"))),
        (
            "rocket.jpg",
            vec![std::fs::read(root.join("tests/data/samples/rocket.jpg")).unwrap()],
        ),
    ];
    for (name, set) in sets.iter().filter(|(_, s)| !s.is_empty()) {
        g.throughput(Throughput::Elements(set.len() as u64));
        g.bench_function(*name, |b| {
            b.iter(|| {
                for bytes in set {
                    let img = convnet::preprocess::decode_rgb(bytes, Path::new("bench.jpg"));
                    std::hint::black_box(img.unwrap());
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
