//! Every attribution method behind one name and one call: the paper's gradient and its two
//! backward-rule relatives, and the methods saliency is compared with. [`explain`] runs any
//! of them on a batch; [`explain_ten_crop`] averages any of them over the paper's 10 crops.
use crate::attribute::{attribute, Attribution};
use crate::error::{AttributionError, Result};
use crate::gradcam::{
    check_cam_layer, grad_cam_weighted, guided_grad_cam, last_spatial_layer, CamWeighting,
};
use crate::host::HostImage;
use crate::integrated::{integrated_gradients, IntegratedGradients};
use crate::occlusion::{occlusion, Occlusion};
use crate::reduce::Reduction;
use crate::rise::{rise, Rise};
use crate::smoothgrad::{smooth_grad, SmoothGrad, SmoothVariant};
use crate::tencrop::{Crops, TenCrop};
use candle_core::Tensor;
use convnet::{BackwardRule, ImageModel, ResolvedTarget, Target};
use ndarray::{Array2, Array3};
use std::fmt;
use std::str::FromStr;

/// An attribution method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttributionMethod {
    /// The input gradient under a backward rule: `gradient` (the paper's saliency),
    /// `guided` (guided backprop) or `deconvnet`.
    Rule(BackwardRule),
    /// Gradient ⊙ input (Shrikumar et al. 2016).
    InputXGradient,
    /// Integrated gradients (Sundararajan et al. 2017).
    IntegratedGradients,
    /// SmoothGrad and its variants (Smilkov et al. 2017).
    SmoothGrad(SmoothVariant),
    /// Grad-CAM or Grad-CAM++ at a layer.
    GradCam(CamWeighting),
    /// Guided backprop ⊙ upsampled Grad-CAM.
    GuidedGradCam,
    /// Occlusion (Zeiler & Fergus 2014).
    Occlusion,
    /// RISE (Petsiuk et al. 2018).
    Rise,
}

impl AttributionMethod {
    /// Every method, in the order tables list them.
    pub const ALL: [AttributionMethod; 13] = [
        AttributionMethod::Rule(BackwardRule::Gradient),
        AttributionMethod::Rule(BackwardRule::GuidedBackprop),
        AttributionMethod::Rule(BackwardRule::DeconvNet),
        AttributionMethod::InputXGradient,
        AttributionMethod::IntegratedGradients,
        AttributionMethod::SmoothGrad(SmoothVariant::Mean),
        AttributionMethod::SmoothGrad(SmoothVariant::Squared),
        AttributionMethod::SmoothGrad(SmoothVariant::Variance),
        AttributionMethod::GradCam(CamWeighting::GradCam),
        AttributionMethod::GradCam(CamWeighting::GradCamPlusPlus),
        AttributionMethod::GuidedGradCam,
        AttributionMethod::Occlusion,
        AttributionMethod::Rise,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttributionMethod::Rule(r) => r.as_str(),
            AttributionMethod::InputXGradient => "input-x-gradient",
            AttributionMethod::IntegratedGradients => "integrated-gradients",
            AttributionMethod::SmoothGrad(v) => v.method_name(),
            AttributionMethod::GradCam(w) => w.method_name(),
            AttributionMethod::GuidedGradCam => "guided-gradcam",
            AttributionMethod::Occlusion => "occlusion",
            AttributionMethod::Rise => "rise",
        }
    }

    /// Whether the method reads a layer (the Grad-CAM family).
    pub fn uses_layer(self) -> bool {
        matches!(
            self,
            AttributionMethod::GradCam(_) | AttributionMethod::GuidedGradCam
        )
    }
}

impl fmt::Display for AttributionMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AttributionMethod {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        let alias = match norm.as_str() {
            "saliency" | "grad" => "gradient",
            "guided-backprop" | "guidedbackprop" => "guided",
            "ixg" | "inputxgradient" => "input-x-gradient",
            "ig" | "integratedgradients" => "integrated-gradients",
            "grad-cam" => "gradcam",
            "grad-cam++" | "gradcampp" | "gradcam-pp" => "gradcam++",
            "guidedgradcam" | "guided-grad-cam" => "guided-gradcam",
            "smoothgrad-squared" => "smoothgrad-sq",
            other => other,
        };
        AttributionMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == alias)
            .ok_or_else(|| {
                format!(
                    "unknown attribution method `{s}`; the methods are {}",
                    AttributionMethod::ALL.map(|m| m.as_str()).join(", ")
                )
            })
    }
}

/// The settings of every method; each method reads its own part.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct MethodSettings {
    pub integrated: IntegratedGradients,
    /// `variant` is set by the method's name.
    pub smooth: SmoothGrad,
    pub occlusion: Occlusion,
    pub rise: Rise,
    /// The Grad-CAM layer; `None` is the last layer with a spatial map.
    pub layer: Option<String>,
}

impl MethodSettings {
    /// The Grad-CAM layer for `model`, checked.
    pub fn cam_layer(&self, model: &dyn ImageModel) -> Result<String> {
        let layer = match &self.layer {
            Some(l) => l.clone(),
            None => last_spatial_layer(model).ok_or_else(|| {
                AttributionError::Target(format!(
                    "Grad-CAM needs a layer with a spatial feature map and {} has none",
                    model.name()
                ))
            })?,
        };
        check_cam_layer(model, &layer)?;
        Ok(layer)
    }

    /// Checks the settings `method` reads against `model`, before any image is touched.
    pub fn validate(&self, method: AttributionMethod, model: &dyn ImageModel) -> Result<()> {
        let p = model.preprocessing();
        let (h, w) = (p.height as usize, p.width as usize);
        match method {
            AttributionMethod::IntegratedGradients => self.integrated.validate(),
            AttributionMethod::SmoothGrad(_) => self.smooth.validate(),
            AttributionMethod::Occlusion => self.occlusion.validate(h, w),
            AttributionMethod::Rise => self.rise.validate(h, w),
            AttributionMethod::GradCam(_) | AttributionMethod::GuidedGradCam => {
                self.cam_layer(model).map(|_| ())
            }
            _ => Ok(()),
        }
    }
}

/// What a method attributes to.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// `[3, h, w]`, one value per input element.
    Pixels(Array3<f32>),
    /// `[h, w]`, one value per pixel (Grad-CAM upsampled to the input, RISE).
    Spatial(Array2<f32>),
}

/// One method's explanation of one target for one image.
#[derive(Clone, Debug)]
pub struct Explanation {
    pub method: AttributionMethod,
    pub values: Values,
    /// Grad-CAM's map at the layer's resolution.
    pub coarse: Option<Array2<f32>>,
    pub target: ResolvedTarget,
    /// The target's score on the image (RISE: its class probability; SmoothGrad: the mean
    /// over the noisy copies).
    pub score: f32,
    /// Integrated gradients' Σ attribution − (S(x) − S(baseline)).
    pub completeness_gap: Option<f32>,
}

impl Explanation {
    /// The map as `saliency` shows it: pixel attributions reduced over colour, spatial
    /// maps as they are.
    pub fn map(&self, reduction: Reduction) -> Array2<f32> {
        match &self.values {
            Values::Pixels(raw) => reduction.apply(raw.view()),
            Values::Spatial(m) => m.clone(),
        }
    }

    /// The unreduced values and their shape (`--reduce none`).
    pub fn raw(&self) -> (Vec<usize>, Vec<f32>) {
        match &self.values {
            Values::Pixels(a) => (
                a.shape().to_vec(),
                a.as_standard_layout().iter().copied().collect(),
            ),
            Values::Spatial(m) => (
                m.shape().to_vec(),
                m.as_standard_layout().iter().copied().collect(),
            ),
        }
    }

    fn pixels(method: AttributionMethod, a: Attribution) -> Self {
        Explanation {
            method,
            values: Values::Pixels(a.raw),
            coarse: None,
            target: a.target,
            score: a.score,
            completeness_gap: None,
        }
    }
}

/// Explains `target` with `method` for every image of the normalised batch `x`, in order.
/// Single-pass methods run the batch together; multi-pass methods run each image's
/// perturbations in batches of their own.
pub fn explain(
    model: &dyn ImageModel,
    x: &Tensor,
    target: &Target,
    method: AttributionMethod,
    settings: &MethodSettings,
) -> Result<Vec<Explanation>> {
    settings.validate(method, model)?;
    let one = std::slice::from_ref(target);
    let first = |v: Vec<Vec<Attribution>>| -> Vec<Attribution> {
        v.into_iter().map(|mut t| t.remove(0)).collect()
    };
    Ok(match method {
        AttributionMethod::Rule(rule) => first(attribute(model, x, one, rule)?)
            .into_iter()
            .map(|a| Explanation::pixels(method, a))
            .collect(),
        AttributionMethod::InputXGradient => {
            let xs = x.to_dtype(candle_core::DType::F32)?;
            first(attribute(model, x, one, BackwardRule::Gradient)?)
                .into_iter()
                .enumerate()
                .map(|(i, mut a)| {
                    let img = HostImage::from_batch(&xs, i)?;
                    a.raw.zip_mut_with(&img.as_array(), |g, v| *g *= v);
                    Ok(Explanation::pixels(method, a))
                })
                .collect::<Result<_>>()?
        }
        AttributionMethod::GradCam(weighting) => {
            let layer = settings.cam_layer(model)?;
            grad_cam_weighted(model, x, one, &layer, weighting)?
                .into_iter()
                .map(|mut t| {
                    let c = t.remove(0);
                    Explanation {
                        method,
                        values: Values::Spatial(c.map),
                        coarse: Some(c.coarse),
                        target: c.target,
                        score: c.score,
                        completeness_gap: None,
                    }
                })
                .collect()
        }
        AttributionMethod::GuidedGradCam => {
            let layer = settings.cam_layer(model)?;
            first(guided_grad_cam(model, x, one, &layer)?)
                .into_iter()
                .map(|a| Explanation::pixels(method, a))
                .collect()
        }
        _ => {
            let n = x.dim(0)?;
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                let img = HostImage::from_batch(x, i)?;
                out.push(explain_image(model, &img, target, method, settings)?);
            }
            out
        }
    })
}

/// A multi-pass method on one image.
fn explain_image(
    model: &dyn ImageModel,
    img: &HostImage,
    target: &Target,
    method: AttributionMethod,
    settings: &MethodSettings,
) -> Result<Explanation> {
    Ok(match method {
        AttributionMethod::IntegratedGradients => {
            let r = integrated_gradients(model, img, target, &settings.integrated)?;
            let mut e = Explanation::pixels(method, r.attribution);
            e.completeness_gap = Some(r.completeness_gap);
            e
        }
        AttributionMethod::SmoothGrad(variant) => {
            let s = SmoothGrad {
                variant,
                ..settings.smooth
            };
            Explanation::pixels(method, smooth_grad(model, img, target, &s)?)
        }
        AttributionMethod::Occlusion => {
            Explanation::pixels(method, occlusion(model, img, target, &settings.occlusion)?)
        }
        AttributionMethod::Rise => {
            let (map, target, score) = rise(model, img, target, &settings.rise)?;
            Explanation {
                method,
                values: Values::Spatial(map),
                coarse: None,
                target,
                score,
                completeness_gap: None,
            }
        }
        single_pass => unreachable!("{single_pass} runs on the whole batch in `explain`"),
    })
}

/// A method's map averaged over the paper's ten crops (see [`crate::ten_crop`]): the class
/// of a `Top1`/`Rank` target is ranked on the mean logits of the crops and explained in
/// every crop, each crop's reduced map is put back and the maps are averaged by coverage.
/// Returns the map over the resized image, that image, the target and the mean score.
pub fn explain_ten_crop(
    model: &dyn ImageModel,
    img: &image::RgbImage,
    target: &Target,
    method: AttributionMethod,
    settings: &MethodSettings,
    reduction: Reduction,
    geometry: TenCrop,
) -> Result<crate::TenCropResult> {
    if let AttributionMethod::Rule(rule) = method {
        return crate::ten_crop(model, img, target, rule, reduction, geometry);
    }
    settings.validate(method, model)?;
    let crops = Crops::new(model, img, geometry)?;
    let x = model.preprocessing().batch(&crops.images, model.device())?;
    let fixed = match target {
        Target::Top1 | Target::Rank(_) => {
            let logits = model.forward(&x)?.to_vec2::<f32>()?;
            let n = logits[0].len();
            let mean: Vec<f32> = (0..n)
                .map(|j| logits.iter().map(|r| r[j]).sum::<f32>() / logits.len() as f32)
                .collect();
            target.fixed_for(&mean)
        }
        t => t.clone(),
    };
    let per_crop = explain(model, &x, &fixed, method, settings)?;
    let map = crops.place(per_crop.iter().map(|e| e.map(reduction)));
    Ok(crate::TenCropResult {
        map,
        resized: crops.resized,
        target: per_crop[0].target.clone(),
        score: per_crop.iter().map(|e| e.score).sum::<f32>() / per_crop.len() as f32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_every_method() {
        for m in AttributionMethod::ALL {
            assert_eq!(m.as_str().parse::<AttributionMethod>().unwrap(), m);
        }
        assert_eq!(
            "guided-backprop".parse::<AttributionMethod>().unwrap(),
            AttributionMethod::Rule(BackwardRule::GuidedBackprop)
        );
        let e = "lime".parse::<AttributionMethod>().unwrap_err();
        assert!(
            e.contains("`lime`") && e.contains("rise") && e.contains("gradcam++"),
            "{e}"
        );
    }
}
