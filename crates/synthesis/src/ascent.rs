//! The optimisation loop: render the parameters into an image, optionally transform it,
//! run the model, differentiate target − penalties with respect to the parameters, step.
use crate::error::{Result, SynthesisError};
use crate::objective::{check_target, penalties, posterior, target_values};
use crate::optimiser::Stepper;
use crate::param::ImageParam;
use crate::rng::Rng;
use crate::settings::Settings;
use crate::warp::{warp, View};
use convnet::{BackwardRule, ForwardOptions, ImageModel};
use convnet::{ResolvedTarget, Target};
use image::RgbImage;
use ndarray::Array3;
use serde::Serialize;

/// What the optimiser reports after every step.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Steps done so far (1-based).
    pub step: usize,
    pub steps: usize,
    /// The target value of each image at this step.
    pub values: Vec<f32>,
}

/// One step of one image's history.
#[derive(Clone, Debug, Serialize)]
pub struct StepRecord {
    /// The target value (S_c, P_c, neuron or channel mean) of the image the step started from.
    pub value: f32,
    /// value − penalties: what the step ascends.
    pub objective: f32,
}

/// A synthesised image and how it was obtained.
#[derive(Clone, Debug, Serialize)]
pub struct Visualisation {
    pub target: ResolvedTarget,
    /// The un-normalised image at the model's input size, 0..255.
    #[serde(skip)]
    pub image: RgbImage,
    /// The same image in the model's normalised input space, `[3, h, w]`, before rounding.
    #[serde(skip)]
    pub normalised: Array3<f32>,
    /// The target value of the final (un-transformed) image.
    pub value: f32,
    /// The class score S_c of the final image (class targets).
    pub score: Option<f32>,
    /// The softmax posterior P_c of the final image (class targets).
    pub probability: Option<f32>,
    /// The weighted penalty λ‖I‖² + tv·TV + l1·‖I‖₁ of the final image.
    pub regulariser: f32,
    /// ‖I‖²₂ of the final image (normalised input space).
    pub l2_norm_squared: f32,
    /// The model's five best classes for the final image: (index, logit).
    pub top5: Vec<(usize, f32)>,
    pub history: Vec<StepRecord>,
    /// Set when the run stopped early, e.g. a value or gradient that was not finite; the
    /// image is then the last one whose value and gradient were finite.
    pub stopped: Option<String>,
}

/// Optimises one image per target, all in one batch, and returns them in target order.
/// `progress` is called after every step.
pub fn visualise(
    model: &dyn ImageModel,
    targets: &[Target],
    settings: &Settings,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<Visualisation>> {
    settings.validate()?;
    if targets.is_empty() {
        return Err(SynthesisError::Target("no target to visualise".into()));
    }
    for t in targets {
        check_target(t, settings.objective, model)?;
    }
    let prep = model.preprocessing().clone();
    let (full_h, full_w) = (prep.height as usize, prep.width as usize);
    let octaves: Vec<(usize, usize)> = if settings.octaves.is_empty() {
        vec![(full_h, full_w)]
    } else {
        settings
            .octaves
            .iter()
            .map(|&s| (s, s * full_w / full_h))
            .collect()
    };
    let opts = ForwardOptions {
        rule: BackwardRule::Gradient,
        capture: Target::layers_of(targets),
        probe: Vec::new(),
    };

    let batch = targets.len();
    let mut rng = Rng::new(settings.seed);
    let (h0, w0) = octaves[0];
    let mut param = ImageParam::new(
        settings.parameterisation,
        batch,
        h0,
        w0,
        &prep,
        model.device(),
        &mut rng,
    )?;
    let mut optimiser = Stepper::new(settings.optimiser, param.var())?;
    let mut history: Vec<Vec<StepRecord>> = vec![Vec::with_capacity(settings.steps); batch];
    let mut stopped = None;
    let per_octave = settings.steps.div_ceil(octaves.len());
    // Parameters of the last image whose objective and gradient were finite.
    let mut last_good: Option<Vec<f32>> = None;

    for step in 0..settings.steps {
        let octave = step / per_octave;
        if step > 0 && octave != (step - 1) / per_octave {
            let (h, w) = octaves[octave];
            param.resize(h, w)?;
            optimiser = Stepper::new(settings.optimiser, param.var())?;
            last_good = None;
        }
        if let Some(b) = settings.blur {
            if step > 0 && step.is_multiple_of(b.every) {
                param.blur(b.sigma)?;
            }
        }
        let img = param.render()?;
        let (h, w) = param.size();
        let seen = match &settings.transforms {
            None => img.clone(),
            Some(t) => {
                let views: Vec<View> = (0..batch)
                    .map(|_| View::random(&mut rng, w, h, t.crop, t.degrees, t.flip, t.jitter))
                    .collect();
                warp(&img, &views, w, h)?
            }
        };
        let out = model.forward_with(&seen, &opts)?;
        let logits = out.logits.to_vec2::<f32>()?;
        let values = target_values(targets, settings.objective, model, &out, &logits)?;
        let (penalty, _) = penalties(&img, &settings.penalties)?;
        let objective = (&values - &penalty)?;
        let (v, o) = (values.to_vec1::<f32>()?, objective.to_vec1::<f32>()?);
        if let Some(i) = o.iter().position(|x| !x.is_finite()) {
            stopped = Some(format!(
                "stopped at step {}: the objective of image {i} is not finite ({}); {}",
                step + 1,
                o[i],
                kept(step, &last_good)
            ));
            break;
        }
        // candle-nn's optimisers minimise: they get the gradient of −objective.
        let grads = objective.sum_all()?.neg()?.backward()?;
        let g = match grads.get(param.var().as_tensor()) {
            Some(g) => g.flatten_all()?.to_vec1::<f32>()?,
            None => vec![0.0; batch * 3 * h * w],
        };
        if let Some(k) = g.iter().position(|x| !x.is_finite()) {
            stopped = Some(format!(
                "stopped at step {}: the gradient of image {} is not finite; {}",
                step + 1,
                k / (3 * h * w),
                kept(step, &last_good)
            ));
            break;
        }
        for (i, hist) in history.iter_mut().enumerate() {
            hist.push(StepRecord {
                value: v[i],
                objective: o[i],
            });
        }
        last_good = Some(param.values()?);
        optimiser.step(&grads)?;
        progress(&Progress {
            step: step + 1,
            steps: settings.steps,
            values: v,
        });
    }
    if stopped.is_some() {
        if let Some(good) = last_good {
            param.set(good)?;
        }
    }
    finish(model, targets, settings, &param, history, stopped, &opts)
}

/// What a stopped run keeps: the image evaluated at the previous step, if there was one.
fn kept(step: usize, last_good: &Option<Vec<f32>>) -> String {
    match last_good {
        Some(_) => format!("kept the image evaluated at step {step}, the last finite one"),
        None => "kept the image this step started from (no earlier finite step)".into(),
    }
}

/// Evaluates the final images without transforms, at the model's input size.
fn finish(
    model: &dyn ImageModel,
    targets: &[Target],
    settings: &Settings,
    param: &ImageParam,
    history: Vec<Vec<StepRecord>>,
    stopped: Option<String>,
    opts: &ForwardOptions,
) -> Result<Vec<Visualisation>> {
    let prep = model.preprocessing();
    let (fh, fw) = (prep.height as usize, prep.width as usize);
    let img = param.render()?;
    let (h, w) = param.size();
    let img = if (h, w) == (fh, fw) {
        img
    } else {
        warp(&img, &vec![View::identity(w, h); targets.len()], fw, fh)?
    };
    let img = img.detach();
    let out = model.forward_with(&img, opts)?;
    let logits = out.logits.to_vec2::<f32>()?;
    let values =
        target_values(targets, settings.objective, model, &out, &logits)?.to_vec1::<f32>()?;
    let (penalty, terms) = penalties(&img, &settings.penalties)?;
    let penalty = penalty.to_vec1::<f32>()?;
    let flat = img.flatten_all()?.to_vec1::<f32>()?;
    let plane = 3 * fh * fw;
    let mut result = Vec::with_capacity(targets.len());
    for (i, (target, hist)) in targets.iter().zip(history).enumerate() {
        let chw = &flat[i * plane..(i + 1) * plane];
        let (score, probability) = match target {
            Target::Class(c) => (
                Some(logits[i][*c]),
                Some(posterior(&out.logits.narrow(0, i, 1)?, &[*c])?.to_vec1::<f32>()?[0]),
            ),
            _ => (None, None),
        };
        let resolved = match target {
            Target::Class(c) => Target::resolve_class(*c, model),
            _ => target.scores(model, &out, &logits)?.1.remove(0),
        };
        let mut ranked: Vec<(usize, f32)> = logits[i].iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked.truncate(5);
        result.push(Visualisation {
            target: resolved,
            image: prep.denormalise(chw, fw as u32, fh as u32),
            normalised: Array3::from_shape_vec((3, fh, fw), chw.to_vec()).expect("sizes match"),
            value: values[i],
            score,
            probability,
            regulariser: penalty[i],
            l2_norm_squared: terms.l2[i],
            top5: ranked,
            history: hist,
            stopped: stopped.clone(),
        });
    }
    Ok(result)
}
