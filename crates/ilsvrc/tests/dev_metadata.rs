//! The real wsolevaluation-style metadata of `shared/data/ilsvrc-dev`.
#[path = "../../../tests/support/shared.rs"]
mod support;

use ilsvrc::{wsol, ClassNames};

#[test]
fn the_dev_set_reads_completely() {
    let Some(dev) = support::shared("data/ilsvrc-dev") else {
        return;
    };
    let ds = wsol::read(&dev).unwrap();
    assert_eq!(
        ilsvrc::dataset::detect(&ds.root).unwrap(),
        ilsvrc::Format::Wsol
    );
    assert_eq!(ds.images[0].wnid, "n03895866");
    assert_eq!(ds.images.len(), 300);
    assert!(ds
        .images
        .iter()
        .all(|i| i.size == Some((227, 227)) && !i.boxes.is_empty() && i.label < 1000));
    assert!(ds.images.iter().all(|i| ds.path(i).is_file()));
    assert!(
        ds.images.iter().any(|i| i.boxes.len() > 1),
        "several boxes per image occur"
    );
    // First image: a passenger car (class 705), box as written in localization.txt.
    let first = &ds.images[0];
    assert_eq!(first.id, "images/ILSVRC2012_val_00000560.JPEG");
    assert_eq!(
        ClassNames::imagenet().get(first.label).unwrap().name,
        "passenger car"
    );
    assert_eq!(first.boxes[0], ilsvrc::BoxF::new(0.0, 52.7, 207.3, 193.4));
    let shipped = std::fs::read_to_string(dev.join("synset_words.txt")).unwrap();
    let dev = ClassNames::parse_synset_words(&shipped).unwrap();
    assert!(dev
        .iter()
        .zip(ClassNames::imagenet().iter())
        .all(|(a, b)| a == b));
}
