#![no_main]
//! Image bytes → RGB (libjpeg-turbo or the image crate) → resize + normalise into the
//! model's input tensor: errors are fine, panics and out-of-range values are not.
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(img) = convnet::preprocess::decode_rgb(data, Path::new("fuzz")) else { return };
    assert!(img.width() > 0 && img.height() > 0);
    let pre = convnet::preprocess::Preprocessing::efficientnet_lite();
    let (shown, x) = pre
        .prepare(&img, &candle_core::Device::Cpu)
        .expect("a decoded image always preprocesses");
    assert_eq!(shown.dimensions(), (224, 224));
    assert_eq!(x.dims(), &[1, 3, 224, 224]);
    let v: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
    assert!(v.iter().all(|p| (-1.0..=1.0).contains(p)));
});
