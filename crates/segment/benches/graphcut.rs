//! Segmentation on a real dev image: the pixels and the saliency map of a PyTorch fixture
//! (`shared/reference/fixtures`), so this crate needs no model. Times the BK max-flow on the
//! 224×224 8-connected GrabCut graph and the whole stage (seeds, GMMs, graph, cut, component).
use criterion::{criterion_group, criterion_main, Criterion};
use image::RgbImage;
use ndarray::Array2;
use segment::gmm::ColourModel;
use segment::maxflow::Network;
use segment::{
    build_graph, colour_unaries, quantile_seeds, GraphCutParams, GraphCutSegmenter, Segmenter,
};
use std::path::PathBuf;

fn fixture(id: &str) -> (RgbImage, Array2<f32>) {
    let shared = std::env::var_os("DEEPINSIDE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let bytes = std::fs::read(shared.join(format!("reference/fixtures/{id}.safetensors")))
        .expect("fixture");
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let f32s = |name: &str| -> Vec<f32> {
        st.tensor(name)
            .unwrap()
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let px = f32s("pixels_224");
    let img = RgbImage::from_raw(224, 224, px.iter().map(|v| *v as u8).collect()).unwrap();
    (
        img,
        Array2::from_shape_vec((224, 224), f32s("saliency")).unwrap(),
    )
}

fn bench(c: &mut Criterion) {
    let (img, sal) = fixture("ILSVRC2012_val_00000657");
    let p = GraphCutParams::default();
    let seeds = quantile_seeds(&sal, p.fg_quantile, p.bg_quantile);
    let points = |m: &Array2<bool>| {
        let v: Vec<f64> = m
            .indexed_iter()
            .filter(|(_, s)| **s)
            .flat_map(|((y, x), _)| img.get_pixel(x as u32, y as u32).0.map(|c| c as f64))
            .collect();
        Array2::from_shape_vec((v.len() / 3, 3), v).unwrap()
    };
    let (fg, _) = ColourModel::fit(&points(&seeds.foreground), &p.gmm);
    let (bg, _) = ColourModel::fit(&points(&seeds.background), &p.gmm);
    let cost = |m: &ColourModel| m.neg_log_likelihoods(&img);
    let graph = build_graph(&img, &cost(&fg), &cost(&bg), p.gamma, None);
    let mut g = c.benchmark_group("segment-224");
    g.sample_size(30);
    g.bench_function("bk-maxflow-8-connected", |b| {
        b.iter_batched_ref(
            || graph.clone(),
            |gr| gr.maxflow(),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("bk-maxflow-8-connected-one-band", |b| {
        b.iter_batched_ref(
            || graph.clone(),
            |gr| gr.maxflow_in_bands(1),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("unaries-both-models", |b| {
        b.iter(|| colour_unaries(&img, &seeds, &p.gmm))
    });
    g.bench_function("gmm-fit-both", |b| {
        b.iter(|| {
            (
                ColourModel::fit(&points(&seeds.foreground), &p.gmm),
                ColourModel::fit(&points(&seeds.background), &p.gmm),
            )
        })
    });
    g.bench_function("gmm-score-both", |b| b.iter(|| (cost(&fg), cost(&bg))));
    let (cf, cb) = (cost(&fg), cost(&bg));
    g.bench_function("build-graph", |b| {
        b.iter(|| build_graph(&img, &cf, &cb, p.gamma, None))
    });
    let seg = GraphCutSegmenter::default();
    g.bench_function("whole-stage", |b| {
        b.iter(|| seg.segment(&img, &sal).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
