//! The CUDA path against the CPU: EfficientNet-Lite0 logits within 1e-4 of the PyTorch
//! fixtures and of our CPU logits; input gradients under all three backward rules within
//! 1e-3 of our CPU gradients (and within the CPU test's bounds of PyTorch's); the paper's
//! 10-crop saliency map and a short paper-mode class-model ascent as on the CPU.
//! Built only with `--features cuda`; needs an NVIDIA GPU (`cargo xtask gpu-check` runs it).
#![cfg(feature = "cuda")]
mod common;

use candle_core::{Device, Tensor, Var};
use common::{effnet_weights, rel_l2, sample_fixtures, values};
use convnet::{load_model, BackwardRule, ForwardOptions, ImageModel, ModelKind};

fn models() -> (Box<dyn ImageModel>, Box<dyn ImageModel>) {
    let gpu = Device::new_cuda(0).expect("an NVIDIA GPU and a CUDA driver");
    let w = effnet_weights();
    (
        load_model(ModelKind::EfficientNetLite0, Some(&w), &Device::Cpu).unwrap(),
        load_model(ModelKind::EfficientNetLite0, Some(&w), &gpu).unwrap(),
    )
}

fn input_grad(m: &dyn ImageModel, x: &Tensor, class: usize, rule: BackwardRule) -> Vec<f32> {
    let x = x.to_device(m.device()).unwrap();
    let v = Var::from_tensor(&x).unwrap();
    let out = m
        .forward_with(v.as_tensor(), &ForwardOptions::with_rule(rule))
        .unwrap();
    let score = out.logits.narrow(1, class, 1).unwrap().sum_all().unwrap();
    let g = score.backward().unwrap().remove(v.as_tensor()).unwrap();
    values(&g.to_device(&Device::Cpu).unwrap())
}

#[test]
fn logits_and_gradients_on_the_gpu_match_the_cpu_for_every_rule() {
    let (cpu, gpu) = models();
    for (id, f) in sample_fixtures() {
        let x = &f["input"];
        let on_gpu = values(
            &gpu.forward(&x.to_device(gpu.device()).unwrap())
                .unwrap()
                .to_device(&Device::Cpu)
                .unwrap(),
        );
        let vs_torch = rel_l2(&on_gpu, &values(&f["logits"]));
        let vs_cpu = rel_l2(&on_gpu, &values(&cpu.forward(x).unwrap()));
        println!("{id}: GPU logits rel L2 {vs_torch:.2e} vs PyTorch, {vs_cpu:.2e} vs CPU");
        assert!(vs_torch < 1e-4 && vs_cpu < 1e-4, "{id}: logits");
        let top1 = f["top1"].to_scalar::<i64>().unwrap() as usize;
        for (rule, key, torch_bound) in [
            (BackwardRule::Gradient, "grad", 5e-3),
            (BackwardRule::DeconvNet, "deconvnet", 1e-3),
            (BackwardRule::GuidedBackprop, "guided_backprop", 5e-3),
        ] {
            let g = input_grad(&*gpu, x, top1, rule);
            let vs_cpu = rel_l2(&g, &input_grad(&*cpu, x, top1, rule));
            let vs_torch = rel_l2(&g, &values(&f[key]));
            println!("{id}: GPU {key} rel L2 {vs_cpu:.2e} vs CPU, {vs_torch:.2e} vs PyTorch");
            assert!(vs_cpu < 1e-3, "{id}: {key} GPU vs CPU {vs_cpu}");
            assert!(
                vs_torch < torch_bound,
                "{id}: {key} GPU vs PyTorch {vs_torch}"
            );
        }
    }
}

#[test]
fn ten_crop_saliency_and_paper_class_model_match_the_cpu() {
    let (cpu, gpu) = models();
    let img = image::RgbImage::from_fn(256, 200, |x, y| {
        image::Rgb([
            (x * 7 % 256) as u8,
            (y * 3 % 256) as u8,
            ((x + y) % 256) as u8,
        ])
    });
    let map = |m: &dyn ImageModel| {
        attribution::ten_crop(
            m,
            &img,
            &attribution::Target::Class(281),
            BackwardRule::Gradient,
            attribution::Reduction::MaxAbs,
            Default::default(),
        )
        .unwrap()
        .map
    };
    let (a, b) = (map(&*gpu), map(&*cpu));
    let err = rel_l2(a.as_slice().unwrap(), b.as_slice().unwrap());
    println!("10-crop saliency GPU vs CPU rel L2 {err:.2e}");
    assert!(err < 1e-3, "10-crop saliency {err}");

    let settings = synthesis::Settings {
        steps: 20,
        ..synthesis::Settings::paper()
    };
    let run = |m: &dyn ImageModel| {
        synthesis::visualise(
            m,
            &[attribution::Target::Class(130)],
            &settings,
            &mut |_| {},
        )
        .unwrap()
        .remove(0)
    };
    let (g, c) = (run(&*gpu), run(&*cpu));
    let (sg, sc) = (g.score.unwrap(), c.score.unwrap());
    println!("class model score after 20 steps: GPU {sg}, CPU {sc}");
    assert!(
        (sg - sc).abs() <= 1e-3 * sc.abs().max(1.0),
        "class-model score {sg} vs {sc}"
    );
}

#[test]
fn warp_and_its_adjoint_on_the_gpu_match_the_cpu() {
    use synthesis::warp::{warp, View};
    let gpu = Device::new_cuda(0).expect("an NVIDIA GPU and a CUDA driver");
    let v: Vec<f32> = (0..2 * 3 * 50 * 60)
        .map(|i| ((i * 37) % 101) as f32 / 10.0)
        .collect();
    let views = [
        View {
            cx: 31.0,
            cy: 22.0,
            crop: 0.8,
            angle: 0.15,
            flip: true,
        },
        View {
            cx: 28.5,
            cy: 26.0,
            crop: 1.05,
            angle: -0.1,
            flip: false,
        },
    ];
    let run = |dev: &Device| {
        let x =
            Var::from_tensor(&Tensor::from_vec(v.clone(), (2, 3, 50, 60), dev).unwrap()).unwrap();
        let y = warp(x.as_tensor(), &views, 40, 40).unwrap();
        let wts = Tensor::arange(0f32, y.elem_count() as f32, dev)
            .unwrap()
            .reshape(y.shape())
            .unwrap()
            .sin()
            .unwrap();
        let g = (&y * wts).unwrap().sum_all().unwrap().backward().unwrap();
        let dx = g
            .get(x.as_tensor())
            .unwrap()
            .to_device(&Device::Cpu)
            .unwrap();
        (values(&y.to_device(&Device::Cpu).unwrap()), values(&dx))
    };
    let ((yg, gg), (yc, gc)) = (run(&gpu), run(&Device::Cpu));
    let (ey, eg) = (rel_l2(&yg, &yc), rel_l2(&gg, &gc));
    println!("warp GPU vs CPU: forward {ey:.2e}, adjoint {eg:.2e}");
    assert!(ey < 1e-6 && eg < 1e-5, "warp forward {ey}, adjoint {eg}");
}
