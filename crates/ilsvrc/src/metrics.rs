//! The challenge's metrics, exactly as defined.
//!
//! - Classification top-k error: the true class is not among the first k guesses.
//! - Localisation error with k guesses (devkit rule): an image is correct if some guess
//!   among the first k has the true class **and** IoU ≥ 0.5 with any ground-truth box of
//!   that class.
//! - GT-known localisation accuracy: the box made for the true class has IoU ≥ 0.5 with a
//!   ground-truth box (classification ignored).
use crate::boxes::BoxF;

/// The IoU a box needs to count as a correct localisation.
pub const IOU_THRESHOLD: f64 = 0.5;

/// One ranked guess: a class and the box made for it (`None`: no box could be made).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Guess {
    pub class: usize,
    pub bbox: Option<BoxF>,
}

/// Whether `label` is among the first `k` of `ranked`.
pub fn top_k_correct(ranked: &[usize], label: usize, k: usize) -> bool {
    ranked.iter().take(k).any(|&c| c == label)
}

/// The devkit's localisation rule for the first `k` guesses.
pub fn localisation_correct(guesses: &[Guess], label: usize, gt: &[BoxF], k: usize) -> bool {
    guesses
        .iter()
        .take(k)
        .any(|g| g.class == label && g.bbox.is_some_and(|b| b.best_iou(gt) >= IOU_THRESHOLD))
}

/// GT-known: the box for the true class overlaps a ground-truth box enough.
pub fn gt_known_correct(box_for_label: Option<BoxF>, gt: &[BoxF]) -> bool {
    box_for_label.is_some_and(|b| b.best_iou(gt) >= IOU_THRESHOLD)
}

/// The pointing game's tolerance (Zhang et al. 2016): 15 pixels of the annotation.
pub const POINTING_TOLERANCE: f64 = 15.0;

/// Euclidean distance from a point to a box (0 inside it), in the box's pixel coordinates.
pub fn distance_to_box(x: f64, y: f64, b: &BoxF) -> f64 {
    let dx = (b.x0 - x).max(0.0).max(x - b.x1);
    let dy = (b.y0 - y).max(0.0).max(y - b.y1);
    dx.hypot(dy)
}

/// The pointing game (Zhang et al. 2016): a hit when the map's maximum `(x, y)` lies
/// within `tolerance` pixels of a ground-truth box of the class.
pub fn pointing_hit(x: f64, y: f64, gt: &[BoxF], tolerance: f64) -> bool {
    gt.iter().any(|b| distance_to_box(x, y, b) <= tolerance)
}

/// Running error rates over a dataset.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Tally {
    pub images: usize,
    pub top1_wrong: usize,
    pub top5_wrong: usize,
    pub loc1_wrong: usize,
    pub loc5_wrong: usize,
    pub gt_known_right: usize,
}

impl Tally {
    /// Adds one image: its ranked guesses (classes with boxes), its label and its boxes,
    /// and the box made for the true class (for GT-known).
    pub fn add(
        &mut self,
        guesses: &[Guess],
        label: usize,
        gt: &[BoxF],
        box_for_label: Option<BoxF>,
    ) {
        let ranked: Vec<usize> = guesses.iter().map(|g| g.class).collect();
        self.images += 1;
        self.top1_wrong += !top_k_correct(&ranked, label, 1) as usize;
        self.top5_wrong += !top_k_correct(&ranked, label, 5) as usize;
        self.loc1_wrong += !localisation_correct(guesses, label, gt, 1) as usize;
        self.loc5_wrong += !localisation_correct(guesses, label, gt, 5) as usize;
        self.gt_known_right += gt_known_correct(box_for_label, gt) as usize;
    }

    fn rate(&self, n: usize) -> f64 {
        if self.images == 0 {
            0.0
        } else {
            n as f64 / self.images as f64
        }
    }
    pub fn top1_error(&self) -> f64 {
        self.rate(self.top1_wrong)
    }
    pub fn top5_error(&self) -> f64 {
        self.rate(self.top5_wrong)
    }
    pub fn loc_top1_error(&self) -> f64 {
        self.rate(self.loc1_wrong)
    }
    pub fn loc_top5_error(&self) -> f64 {
        self.rate(self.loc5_wrong)
    }
    pub fn gt_known_accuracy(&self) -> f64 {
        self.rate(self.gt_known_right)
    }
}

/// wsolevaluation's MaxBoxAccV2 (Choe et al. 2020): for each IoU threshold δ, the best over
/// score-map thresholds τ of the fraction of images where some box (around any connected
/// region of the thresholded map) has IoU ≥ δ with a ground-truth box; averaged over δ.
/// Images are added as hit tables `hits[d][t]`, computed by the caller from its maps.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MaxBoxAcc {
    pub deltas: Vec<f64>,
    pub thresholds: usize,
    counts: Vec<Vec<usize>>,
    images: usize,
}

impl MaxBoxAcc {
    /// δ ∈ {0.3, 0.5, 0.7} and `thresholds` values of τ (wsolevaluation: 100, τ = 0, 0.01, …).
    pub fn v2(thresholds: usize) -> Self {
        let deltas = vec![0.3, 0.5, 0.7];
        MaxBoxAcc {
            counts: vec![vec![0; thresholds]; deltas.len()],
            deltas,
            thresholds,
            images: 0,
        }
    }

    /// Adds one image's hit table (`hits[d][t]`).
    pub fn add(&mut self, hits: &[Vec<bool>]) {
        self.images += 1;
        for (c, h) in self.counts.iter_mut().zip(hits) {
            for (c, &hit) in c.iter_mut().zip(h) {
                *c += hit as usize;
            }
        }
    }

    /// The mean over δ of the best accuracy over τ, in [0, 1].
    pub fn value(&self) -> f64 {
        if self.images == 0 {
            return 0.0;
        }
        let best: f64 = self
            .counts
            .iter()
            .map(|c| *c.iter().max().unwrap_or(&0) as f64 / self.images as f64)
            .sum();
        best / self.deltas.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn g(class: usize, b: Option<BoxF>) -> Guess {
        Guess { class, bbox: b }
    }

    #[test]
    fn devkit_rule_by_hand() {
        let gt = [
            BoxF::new(10.0, 10.0, 49.0, 49.0),
            BoxF::new(100.0, 100.0, 119.0, 119.0),
        ];
        let good = Some(BoxF::new(100.0, 100.0, 121.0, 119.0)); // IoU 400/440 with the second box
        let bad = Some(BoxF::new(0.0, 0.0, 199.0, 199.0));
        let guesses = [g(3, good), g(7, bad), g(7, good)];
        assert!(
            !localisation_correct(&guesses, 7, &gt, 1),
            "right box, wrong class"
        );
        assert!(
            !localisation_correct(&guesses, 7, &gt, 2),
            "right class, wrong box"
        );
        assert!(localisation_correct(&guesses, 7, &gt, 3));
        assert!(
            gt_known_correct(good, &gt)
                && !gt_known_correct(bad, &gt)
                && !gt_known_correct(None, &gt)
        );
        let mut t = Tally::default();
        t.add(&guesses, 7, &gt, good);
        t.add(&[g(1, None)], 1, &gt, None);
        assert_eq!(
            (
                t.top1_error(),
                t.top5_error(),
                t.loc_top1_error(),
                t.loc_top5_error(),
                t.gt_known_accuracy()
            ),
            (0.5, 0.0, 1.0, 0.5, 0.5)
        );
    }

    #[test]
    fn max_box_acc_takes_the_best_threshold_per_delta() {
        let mut m = MaxBoxAcc::v2(3);
        m.add(&[
            vec![true, true, false],
            vec![false, true, false],
            vec![false, false, false],
        ]);
        m.add(&[
            vec![false, true, true],
            vec![false, true, true],
            vec![false, false, true],
        ]);
        // δ=0.3: best τ=1 → 2/2; δ=0.5: τ=1 → 2/2; δ=0.7: τ=2 → 1/2. Mean 5/6.
        assert!((m.value() - 5.0 / 6.0).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn more_guesses_never_hurt(classes in prop::collection::vec(0usize..6, 1..8), label in 0usize..6, x in 0.0f64..50.0) {
            let gt = [BoxF::new(20.0, 20.0, 60.0, 60.0)];
            let guesses: Vec<Guess> = classes.iter().enumerate()
                .map(|(i, &c)| g(c, Some(BoxF::new(x + i as f64, 20.0, x + 40.0 + i as f64, 60.0)))).collect();
            for k in 1..guesses.len() {
                prop_assert!(localisation_correct(&guesses, label, &gt, k) <= localisation_correct(&guesses, label, &gt, k + 1));
                prop_assert!(top_k_correct(&classes, label, k) <= top_k_correct(&classes, label, k + 1));
            }
        }
    }

    #[test]
    fn pointing_game_hits_exactly_up_to_15_pixels() {
        let b = [BoxF::new(100.0, 100.0, 150.0, 120.0)];
        assert!(pointing_hit(120.0, 110.0, &b, POINTING_TOLERANCE), "inside");
        assert!(
            pointing_hit(85.0, 110.0, &b, POINTING_TOLERANCE),
            "15 px left"
        );
        assert!(
            !pointing_hit(84.999, 110.0, &b, POINTING_TOLERANCE),
            "just past 15 px"
        );
        assert!(
            pointing_hit(150.0 + 9.0, 120.0 + 12.0, &b, POINTING_TOLERANCE),
            "corner 9-12-15"
        );
        assert!(!pointing_hit(
            150.0 + 9.01,
            120.0 + 12.0,
            &b,
            POINTING_TOLERANCE
        ));
        assert!(
            !pointing_hit(0.0, 0.0, &[], POINTING_TOLERANCE),
            "no box, no hit"
        );
    }
}
