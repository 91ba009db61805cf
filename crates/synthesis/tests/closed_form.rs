//! Class model ascent on a linear scorer S_c(I) = w_c · I + b_c, whose L2-regularised optimum
//! argmax_I S_c(I) − λ‖I‖² = w_c / 2λ is known in closed form.
use convnet::Target;
use convnet::{ClassNames, LinearPixelModel, Preprocessing};
use synthesis::{visualise, Objective, Optimiser, Penalties, Settings};

const SIDE: u32 = 16;
const N: usize = 3 * (SIDE * SIDE) as usize;

fn model() -> LinearPixelModel {
    let weights: Vec<f32> = (0..3 * N)
        .map(|k| ((k as f32) * 0.37).sin() * 0.5 + if k % 5 == 0 { 0.3 } else { 0.0 })
        .collect();
    let prep = Preprocessing {
        width: SIDE,
        height: SIDE,
        resize: Default::default(),
        ..Preprocessing::efficientnet_lite()
    };
    let classes =
        ClassNames::parse_synset_words("n00000001 a\nn00000002 b\nn00000003 c\n").unwrap();
    LinearPixelModel::new(weights, vec![0.1, 0.2, -0.3], prep, classes).unwrap()
}

fn paper(steps: usize, step: f32, l2: f32) -> Settings {
    Settings {
        steps,
        optimiser: Optimiser::Ascent { step },
        penalties: Penalties {
            l2,
            ..Penalties::default()
        },
        ..Settings::paper()
    }
}

fn optimum(m: &LinearPixelModel, class: usize, lambda: f32) -> Vec<f32> {
    let mut v = Vec::with_capacity(N);
    for c in 0..3 {
        for y in 0..SIDE as usize {
            for x in 0..SIDE as usize {
                v.push(m.weight(class, c, y, x) / (2.0 * lambda));
            }
        }
    }
    v
}

fn rel(a: &[f32], b: &[f32]) -> f32 {
    let num: f32 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let den: f32 = b.iter().map(|y| y * y).sum();
    (num / den).sqrt()
}

#[test]
fn plain_ascent_converges_to_w_over_two_lambda() {
    let m = model();
    // I ← I + η(w − 2λI): the error shrinks by (1 − 2ηλ) = 0.8 per step.
    let s = paper(120, 1.0, 0.1);
    let r = visualise(&m, &[Target::Class(1)], &s, &mut |_| {}).unwrap();
    let got = r[0].normalised.as_slice().unwrap();
    let want = optimum(&m, 1, 0.1);
    assert!(rel(got, &want) < 1e-5, "relative error {}", rel(got, &want));
    // The recorded objective rises at every step (up to float32 rounding at the optimum).
    let h = &r[0].history;
    assert_eq!(h.len(), 120);
    assert!(h
        .windows(2)
        .all(|w| w[1].objective >= w[0].objective - 1e-6 * w[0].objective.abs()));
    // S at the optimum: w·w/2λ + b; J = S − λ‖I‖² = w·w/4λ + b.
    let ww: f32 = want.iter().map(|v| v * 2.0 * 0.1).map(|w| w * w).sum();
    let s_opt = ww / 0.2 + 0.2;
    assert!((r[0].score.unwrap() - s_opt).abs() < 1e-3 * s_opt);
    assert!((r[0].regulariser - 0.1 * r[0].l2_norm_squared).abs() < 1e-3 * r[0].regulariser);
}

#[test]
fn a_batch_of_classes_equals_separate_runs() {
    let m = model();
    let s = paper(30, 0.5, 0.05);
    let both = visualise(&m, &[Target::Class(0), Target::Class(2)], &s, &mut |_| {}).unwrap();
    for (i, c) in [0usize, 2].into_iter().enumerate() {
        let alone = visualise(&m, &[Target::Class(c)], &s, &mut |_| {}).unwrap();
        assert!(
            rel(
                both[i].normalised.as_slice().unwrap(),
                alone[0].normalised.as_slice().unwrap()
            ) < 1e-6
        );
        assert_eq!(both[i].target.class, Some(c));
    }
}

#[test]
fn adam_and_the_fourier_parameterisation_also_reach_the_class() {
    let m = model();
    for s in [
        Settings {
            optimiser: Optimiser::Adam { lr: 0.05 },
            ..paper(200, 1.0, 0.1)
        },
        Settings {
            steps: 100,
            ..Settings::recommended()
        },
    ] {
        let r = visualise(&m, &[Target::Class(2)], &s, &mut |_| {}).unwrap();
        assert_eq!(r[0].top5[0].0, 2, "{}: {:?}", s.mode, r[0].top5);
        let h = &r[0].history;
        assert!(h.last().unwrap().value > h[0].value);
    }
}

#[test]
fn posterior_objective_is_the_softmax_and_rises() {
    let m = model();
    let s = Settings {
        objective: Objective::Posterior,
        ..paper(50, 10.0, 1e-3)
    };
    let r = visualise(&m, &[Target::Class(0)], &s, &mut |_| {}).unwrap();
    let p = r[0].probability.unwrap();
    assert!((r[0].value - p).abs() < 1e-6);
    assert!(p > r[0].history[0].value);
}

#[test]
fn a_non_finite_objective_stops_with_the_step_and_keeps_the_last_good_image() {
    let m = model();
    // A huge step overflows float32 on the second evaluation.
    let s = paper(10, 1e38, 0.0);
    let mut seen = 0;
    let r = visualise(&m, &[Target::Class(0)], &s, &mut |_| seen += 1).unwrap();
    let why = r[0]
        .stopped
        .as_deref()
        .expect("the run must report the stop");
    assert!(
        why.contains("step 2") && why.contains("not finite"),
        "{why}"
    );
    assert_eq!(seen, 1);
    // The image kept is the last one whose objective was finite: the zero start image.
    assert!(r[0].normalised.iter().all(|v| *v == 0.0));
}

#[test]
fn bad_targets_and_settings_are_errors() {
    let m = model();
    let s = Settings::paper();
    assert!(visualise(&m, &[Target::Class(3)], &s, &mut |_| {}).is_err());
    assert!(visualise(&m, &[Target::Top1], &s, &mut |_| {}).is_err());
    assert!(visualise(&m, &[], &s, &mut |_| {}).is_err());
    let neuron = Target::Neuron {
        layer: "logits".into(),
        index: vec![1],
    };
    let post = Settings::posterior();
    assert!(visualise(&m, std::slice::from_ref(&neuron), &post, &mut |_| {}).is_err());
    // A neuron of a named layer is a valid target for the score objective.
    let r = visualise(&m, &[neuron], &paper(20, 1.0, 0.1), &mut |_| {}).unwrap();
    assert!(r[0].value > r[0].history[0].value);
    let mut bad = Settings::paper();
    bad.penalties.l2 = -1e-3;
    let e = visualise(&m, &[Target::Class(0)], &bad, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("λ"), "{e}");
}
