//! The methods beyond the paper on models whose answers are known in closed form:
//! a linear model S_c(x) = w_c · x + b_c (gradient w_c everywhere) and a small ReLU model.
use attribution::host::HostImage;
use attribution::{
    explain, AttributionMethod, Baseline, CamWeighting, MethodSettings, Occlusion, Quadrature,
    Rise, SmoothGrad, SmoothVariant, Values,
};
use candle_core::{Device, Tensor};
use convnet::{
    BackwardRule, ClassNames, ForwardOptions, ForwardOutput, ImageModel, LayerInfo,
    LinearPixelModel, ModelInfo, Preprocessing, Target,
};

const S: u32 = 16;
const N: usize = 3 * (S * S) as usize;

fn prep() -> Preprocessing {
    Preprocessing {
        width: S,
        height: S,
        resize: Default::default(),
        pixel_scale: 255.0,
        mean: [0.5; 3],
        std: [0.25; 3],
    }
}

fn classes(n: usize) -> ClassNames {
    let text: String = (0..n).map(|i| format!("n{i:08} class{i}\n")).collect();
    ClassNames::parse_synset_words(&text).unwrap()
}

fn weight(k: usize) -> f32 {
    ((k as f32) * 0.37).sin() * (1.0 + (k % 5) as f32 * 0.2)
}

fn linear() -> LinearPixelModel {
    let w: Vec<f32> = (0..2 * N)
        .map(|k| weight(k) * if k >= N { -0.5 } else { 1.0 })
        .collect();
    LinearPixelModel::new(w, vec![0.3, -0.2], prep(), classes(2)).unwrap()
}

fn image() -> Vec<f32> {
    (0..N).map(|k| ((k as f32) * 0.11).cos() * 1.5).collect()
}

fn input(v: &[f32]) -> Tensor {
    Tensor::from_vec(v.to_vec(), (1, 3, S as usize, S as usize), &Device::Cpu).unwrap()
}

fn pixels(e: &attribution::Explanation) -> Vec<f32> {
    match &e.values {
        Values::Pixels(a) => a.iter().copied().collect(),
        Values::Spatial(_) => panic!("{} gave a spatial map", e.method),
    }
}

fn close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

fn run(
    m: &dyn ImageModel,
    x: &[f32],
    method: AttributionMethod,
    s: &MethodSettings,
) -> attribution::Explanation {
    explain(m, &input(x), &Target::Class(0), method, s)
        .unwrap()
        .remove(0)
}

#[test]
fn linear_model_answers_are_exact() {
    let m = linear();
    let x = image();
    let w: Vec<f32> = (0..N).map(weight).collect();
    let s = MethodSettings::default();
    close(
        &pixels(&run(
            &m,
            &x,
            AttributionMethod::Rule(BackwardRule::Gradient),
            &s,
        )),
        &w,
        1e-6,
        "gradient",
    );
    let wx: Vec<f32> = w.iter().zip(&x).map(|(w, x)| w * x).collect();
    close(
        &pixels(&run(&m, &x, AttributionMethod::InputXGradient, &s)),
        &wx,
        1e-6,
        "input × gradient",
    );

    // Integrated gradients of a linear score is w ⊙ (x − b) for every quadrature, and complete.
    for q in Quadrature::ALL {
        for baseline in Baseline::ALL {
            let mut s = MethodSettings::default();
            s.integrated.quadrature = q;
            s.integrated.baseline = baseline;
            s.integrated.steps = 7;
            let b = baseline
                .of(
                    &HostImage {
                        data: x.clone(),
                        channels: 3,
                        height: 16,
                        width: 16,
                    },
                    &prep(),
                )
                .data;
            let want: Vec<f32> = (0..N).map(|k| w[k] * (x[k] - b[k])).collect();
            let e = run(&m, &x, AttributionMethod::IntegratedGradients, &s);
            close(&pixels(&e), &want, 1e-5, &format!("IG {q} {baseline}"));
            let gap = e.completeness_gap.unwrap();
            assert!(
                gap.abs() < 1e-3,
                "IG {q} {baseline}: completeness gap {gap}"
            );
        }
    }

    // SmoothGrad of a linear score is the gradient whatever σ; its square w²; VarGrad 0.
    let mut s = MethodSettings::default();
    s.smooth.samples = 20;
    for noise in [0.0, 0.15, 1.0] {
        s.smooth.noise = noise;
        let g = pixels(&run(
            &m,
            &x,
            AttributionMethod::SmoothGrad(SmoothVariant::Mean),
            &s,
        ));
        close(&g, &w, 1e-5, &format!("SmoothGrad σ={noise}"));
        let sq = pixels(&run(
            &m,
            &x,
            AttributionMethod::SmoothGrad(SmoothVariant::Squared),
            &s,
        ));
        let w2: Vec<f32> = w.iter().map(|w| w * w).collect();
        close(&sq, &w2, 1e-5, "SmoothGrad²");
        let var = pixels(&run(
            &m,
            &x,
            AttributionMethod::SmoothGrad(SmoothVariant::Variance),
            &s,
        ));
        assert!(
            var.iter().all(|v| v.abs() < 1e-5),
            "VarGrad of a linear model"
        );
    }

    // Occlusion: each pixel gets the mean over the windows covering it of Σ_window w(x − 0).
    let o = Occlusion {
        window: 5,
        stride: 3,
        baseline: Baseline::Zero,
    };
    let s = MethodSettings {
        occlusion: o,
        ..MethodSettings::default()
    };
    let got = pixels(&run(&m, &x, AttributionMethod::Occlusion, &s));
    let starts = o.starts(16);
    assert_eq!(starts, vec![0, 3, 6, 9, 12]);
    let plane = 256;
    for y in 0..16 {
        for xx in 0..16 {
            let (mut total, mut count) = (0f64, 0);
            for &y0 in &starts {
                for &x0 in &starts {
                    if (y0..y0 + 5).contains(&y) && (x0..x0 + 5).contains(&xx) {
                        count += 1;
                        for c in 0..3 {
                            for yy in y0..(y0 + 5).min(16) {
                                for xq in x0..(x0 + 5).min(16) {
                                    let k = c * plane + yy * 16 + xq;
                                    total += (w[k] * x[k]) as f64;
                                }
                            }
                        }
                    }
                }
            }
            let want = (total / count as f64) as f32;
            for c in 0..3 {
                let g = got[c * plane + y * 16 + xx];
                assert!(
                    (g - want).abs() < 1e-4 * (1.0 + want.abs()),
                    "occlusion ({y},{xx}): {g} vs {want}"
                );
            }
        }
    }
}

#[test]
fn rise_of_a_constant_score_is_the_mean_mask_over_p() {
    // Zero weights: every class has probability 1/2 under every mask.
    let m = LinearPixelModel::new(vec![0.0; 2 * N], vec![0.0, 0.0], prep(), classes(2)).unwrap();
    let s = MethodSettings {
        rise: Rise {
            masks: 400,
            grid: 4,
            ..Rise::default()
        },
        ..MethodSettings::default()
    };
    let e = run(&m, &image(), AttributionMethod::Rise, &s);
    let Values::Spatial(map) = &e.values else {
        panic!("RISE is spatial")
    };
    assert_eq!(map.dim(), (16, 16));
    let mean = map.mean().unwrap();
    assert!(
        (mean - 0.5).abs() < 0.03,
        "mean RISE map {mean}, want ≈ 0.5"
    );
    assert!((e.score - 0.5).abs() < 1e-6);
    // The same seed gives the same map; another seed another.
    let again = run(&m, &image(), AttributionMethod::Rise, &s);
    assert_eq!(e.values, again.values);
    let mut other = s.clone();
    other.rise.seed = 7;
    assert_ne!(
        run(&m, &image(), AttributionMethod::Rise, &other).values,
        e.values
    );
}

/// S_0(x) = Σ_j relu(v_j · x), S_1 = −S_0: a model whose gradient depends on x.
struct ReluModel {
    v: Tensor,
    info: ModelInfo,
}

impl ReluModel {
    fn new() -> Self {
        let v: Vec<f32> = (0..8 * N).map(|k| ((k as f32) * 0.731).sin()).collect();
        ReluModel {
            v: Tensor::from_vec(v, (8, N), &Device::Cpu).unwrap(),
            info: ModelInfo {
                name: "relu-model".into(),
                preprocessing: prep(),
                classes: classes(2),
                layers: vec![LayerInfo {
                    name: "logits".into(),
                    shape: vec![2],
                }],
                device: Device::Cpu,
                graph: None,
            },
        }
    }
}

impl ImageModel for ReluModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }
    fn forward_with(&self, x: &Tensor, _: &ForwardOptions) -> convnet::Result<ForwardOutput> {
        let h = x
            .flatten_from(1)?
            .matmul(&self.v.t()?)?
            .relu()?
            .sum_keepdim(1)?;
        let logits = Tensor::cat(&[&h, &h.neg()?], 1)?;
        Ok(ForwardOutput {
            logits,
            activations: Default::default(),
            probes: Default::default(),
        })
    }
}

#[test]
fn smoothgrad_tends_to_the_gradient_and_a_seed_reproduces_it() {
    let m = ReluModel::new();
    let x = image();
    let grad = pixels(&run(
        &m,
        &x,
        AttributionMethod::Rule(BackwardRule::Gradient),
        &MethodSettings::default(),
    ));
    let mut s = MethodSettings::default();
    s.smooth.samples = 8;
    s.smooth.noise = 0.0;
    let sg = AttributionMethod::SmoothGrad(SmoothVariant::Mean);
    assert_eq!(
        pixels(&run(&m, &x, sg, &s)),
        grad,
        "σ = 0 is the gradient, exactly"
    );
    s.smooth.noise = 1e-6;
    close(&pixels(&run(&m, &x, sg, &s)), &grad, 1e-5, "σ → 0");
    s.smooth.noise = 0.5;
    s.smooth.samples = 16;
    let a = pixels(&run(&m, &x, sg, &s));
    assert_eq!(a, pixels(&run(&m, &x, sg, &s)), "same seed, same map");
    assert_ne!(a, grad, "σ = 0.5 smooths");
    s.smooth.seed = 3;
    assert_ne!(a, pixels(&run(&m, &x, sg, &s)), "another seed, another map");
    // A rule underneath: with noise 0, SmoothGrad of DeconvNet is DeconvNet.
    s.smooth.noise = 0.0;
    s.smooth.rule = BackwardRule::DeconvNet;
    let deconv = pixels(&run(
        &m,
        &x,
        AttributionMethod::Rule(BackwardRule::DeconvNet),
        &MethodSettings::default(),
    ));
    assert_eq!(pixels(&run(&m, &x, sg, &s)), deconv);
}

#[test]
fn bad_settings_are_errors_naming_the_value() {
    let m = linear();
    let x = input(&image());
    let t = Target::Class(0);
    let err = |method, s: MethodSettings| explain(&m, &x, &t, method, &s).unwrap_err().to_string();
    let mut s = MethodSettings::default();
    s.integrated.steps = 0;
    assert!(err(AttributionMethod::IntegratedGradients, s).contains("--steps ≥ 1"));
    let mut s = MethodSettings::default();
    s.smooth.samples = 0;
    assert!(err(AttributionMethod::SmoothGrad(SmoothVariant::Mean), s).contains("--samples"));
    let mut s = MethodSettings::default();
    s.smooth.noise = -0.1;
    assert!(err(AttributionMethod::SmoothGrad(SmoothVariant::Mean), s).contains("-0.1"));
    let mut s = MethodSettings::default();
    s.occlusion.window = 17;
    assert!(err(AttributionMethod::Occlusion, s).contains("--window 17"));
    let mut s = MethodSettings::default();
    s.occlusion.stride = 0;
    assert!(err(AttributionMethod::Occlusion, s).contains("--stride"));
    let mut s = MethodSettings::default();
    s.rise.masks = 0;
    assert!(err(AttributionMethod::Rise, s).contains("--masks"));
    let s = MethodSettings {
        layer: Some("logits".into()),
        ..MethodSettings::default()
    };
    let e = err(AttributionMethod::GradCam(CamWeighting::GradCam), s);
    assert!(e.contains("logits") && e.contains("spatial"), "{e}");
    let e = err(
        AttributionMethod::GradCam(CamWeighting::GradCam),
        MethodSettings::default(),
    );
    assert!(e.contains("spatial"), "{e}");
    let e = "lrp".parse::<AttributionMethod>().unwrap_err();
    assert!(e.contains("integrated-gradients"), "{e}");
    let _ = SmoothGrad::default();
}
