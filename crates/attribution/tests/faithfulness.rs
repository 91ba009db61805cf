//! Deletion and insertion on a linear model, where the best ordering and the expected
//! curve of a random ordering are known in closed form.
use attribution::faithfulness::{auc, ordered_curves, pixel_curves, PixelCurves};
use attribution::host::HostImage;
use attribution::{Baseline, Score};
use convnet::rng::Rng;
use convnet::{ClassNames, LinearPixelModel, Preprocessing, Target};
use ndarray::Array2;

const S: usize = 12;
const P: usize = S * S;
const N: usize = 3 * P;

/// Class 0: S = w · x + 0.2; class 1: constant 0, so class 0's probability is monotone in S.
fn model() -> LinearPixelModel {
    let mut w: Vec<f32> = (0..N).map(|k| ((k as f32) * 0.53).sin() * 0.4).collect();
    w.extend(std::iter::repeat_n(0.0, N));
    let prep = Preprocessing {
        width: S as u32,
        height: S as u32,
        resize: Default::default(),
        pixel_scale: 255.0,
        mean: [0.5; 3],
        std: [0.25; 3],
    };
    let classes = ClassNames::parse_synset_words("n00000001 a\nn00000002 b\n").unwrap();
    LinearPixelModel::new(w, vec![0.2, 0.0], prep, classes).unwrap()
}

fn image() -> HostImage {
    HostImage {
        data: (0..N).map(|k| ((k as f32) * 0.29).cos()).collect(),
        channels: 3,
        height: S,
        width: S,
    }
}

/// Each pixel's contribution to S: Σ_c w_c (x_c − 0).
fn contribution(m: &LinearPixelModel, img: &HostImage) -> Array2<f32> {
    Array2::from_shape_fn((S, S), |(y, x)| {
        (0..3)
            .map(|c| m.weight(0, c, y, x) * img.data[c * P + y * S + x])
            .sum()
    })
}

fn shuffled(rng: &mut Rng) -> Vec<usize> {
    let mut o: Vec<usize> = (0..P).collect();
    for i in (1..P).rev() {
        let j = (rng.uniform() * (i + 1) as f32) as usize;
        o.swap(i, j.min(i));
    }
    o
}

#[test]
fn ranking_by_contribution_gives_the_best_deletion_auc_of_all_orderings() {
    let m = model();
    let img = image();
    let settings = PixelCurves {
        steps: 12,
        deletion: Baseline::Zero,
        // Inserting into zero, each pixel adds its contribution w · x back.
        insertion: Baseline::Zero,
        score: Score::Probability,
    };
    let t = Target::Class(0);
    let best = pixel_curves(&m, &img, &contribution(&m, &img), &t, &settings).unwrap();
    let mut rng = Rng::new(5);
    let mut worse = 0;
    for trial in 0..40 {
        let order = if trial == 0 {
            let mut o = attribution::faithfulness::ranking(&contribution(&m, &img));
            o.reverse();
            o
        } else {
            shuffled(&mut rng)
        };
        let other = ordered_curves(&m, &img, &order, &t, &settings).unwrap();
        // Pointwise: removing the k most contributing pixels leaves the least score.
        for (b, o) in best.deletion.iter().zip(&other.deletion) {
            assert!(b <= &(o + 1e-6), "best curve above another: {b} > {o}");
        }
        if best.deletion_auc() < other.deletion_auc() - 1e-9 {
            worse += 1;
        }
        // And for insertion, the best ordering is the highest.
        for (b, o) in best.insertion.iter().zip(&other.insertion) {
            assert!(
                b >= &(o - 1e-6),
                "best insertion curve below another: {b} < {o}"
            );
        }
    }
    assert_eq!(
        worse, 40,
        "every other ordering has a strictly worse deletion AUC"
    );
}

#[test]
fn a_random_ordering_has_the_expected_auc_of_a_straight_line() {
    // With the logit read off, deleting a random m of the n pixels leaves in expectation
    // S(b) + (1 − m/n)(S(x) − S(b)), whose normalised area is known.
    let m = model();
    let img = image();
    let steps = 9; // ⌈144 / 9⌉ = 16 pixels a step: the curve ends exactly at all deleted
    let settings = PixelCurves {
        steps,
        deletion: Baseline::Zero,
        insertion: Baseline::Zero,
        score: Score::Logit,
    };
    let t = Target::Class(0);
    let sx = attribution::host::scores(&m, &img, 1, |_| img.data.clone(), &t, Score::Logit).unwrap()
        [0] as f64;
    let sb = 0.2f64;
    let expected: Vec<f32> = (0..=steps)
        .map(|k| {
            let frac = ((k * P.div_ceil(steps)).min(P)) as f64 / P as f64;
            (sb + (1.0 - frac) * (sx - sb)) as f32
        })
        .collect();
    let want = auc(&expected);
    let mut rng = Rng::new(11);
    let aucs: Vec<f64> = (0..300)
        .map(|_| {
            ordered_curves(&m, &img, &shuffled(&mut rng), &t, &settings)
                .unwrap()
                .deletion_auc()
        })
        .collect();
    let mean = aucs.iter().sum::<f64>() / aucs.len() as f64;
    let sd = (aucs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / aucs.len() as f64).sqrt();
    let se = sd / (aucs.len() as f64).sqrt();
    assert!(
        (mean - want).abs() < 4.0 * se,
        "mean random AUC {mean} vs expected {want} (standard error {se})"
    );
    assert!(sd > 0.0, "random orderings differ");
}
