//! The settings of the attribution methods, as options shared by `saliency` and `eval`.
use deepinside::attribution::{
    BackwardRule, Baseline, IntegratedGradients, MethodSettings, Occlusion, Quadrature, Rise,
    SmoothGrad,
};

#[derive(clap::Args, Debug, Clone)]
pub struct MethodArgs {
    /// Integrated gradients: quadrature nodes along the path.
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
    /// Integrated gradients: gausslegendre (Captum's default), riemann-left, riemann-right,
    /// riemann-middle or riemann-trapezoid.
    #[arg(long, default_value = "gausslegendre")]
    pub quadrature: Quadrature,
    /// Reference input of integrated gradients, occlusion and RISE: zero (in the normalised
    /// input), black, blur or mean (the image's mean colour).
    #[arg(long, default_value = "zero")]
    pub baseline: Baseline,
    /// SmoothGrad: noisy samples.
    #[arg(long, default_value_t = 50)]
    pub samples: usize,
    /// SmoothGrad: noise σ as a fraction of the input's value range.
    #[arg(long, default_value_t = 0.15, allow_negative_numbers = true)]
    pub noise: f32,
    /// SmoothGrad: the backward rule under the noise (gradient, guided or deconvnet).
    #[arg(long, default_value = "gradient")]
    pub smooth_rule: BackwardRule,
    /// Seed of SmoothGrad's noise and RISE's masks.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Occlusion: side of the square patch in input pixels.
    #[arg(long, default_value_t = 16)]
    pub window: usize,
    /// Occlusion: step between patches.
    #[arg(long, default_value_t = 8)]
    pub stride: usize,
    /// RISE: random masks.
    #[arg(long, default_value_t = 4000)]
    pub masks: usize,
    /// RISE: cells per side of the mask grid.
    #[arg(long, default_value_t = 7)]
    pub grid: usize,
}

impl MethodArgs {
    /// The library's settings; `layer` is the Grad-CAM layer (`None`: the last spatial one).
    pub fn settings(&self, layer: Option<String>) -> MethodSettings {
        MethodSettings {
            integrated: IntegratedGradients {
                steps: self.steps,
                quadrature: self.quadrature,
                baseline: self.baseline,
            },
            smooth: SmoothGrad {
                samples: self.samples,
                noise: self.noise,
                seed: self.seed,
                rule: self.smooth_rule,
                ..SmoothGrad::default()
            },
            occlusion: Occlusion {
                window: self.window,
                stride: self.stride,
                baseline: self.baseline,
            },
            rise: Rise {
                masks: self.masks,
                grid: self.grid,
                seed: self.seed,
                baseline: self.baseline,
                ..Rise::default()
            },
            layer,
        }
    }
}
