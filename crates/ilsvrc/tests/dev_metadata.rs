//! The real wsolevaluation-style metadata of `shared/data/ilsvrc-dev`.
use ilsvrc::{wsol, ClassNames};
use std::path::PathBuf;

#[test]
fn the_dev_set_reads_completely() {
    let shared = std::env::var_os("DEEPINSIDE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let ds = wsol::read(&shared.join("data/ilsvrc-dev")).unwrap();
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
    let shipped = std::fs::read_to_string(shared.join("data/ilsvrc-dev/synset_words.txt")).unwrap();
    let dev = ClassNames::parse_synset_words(&shipped).unwrap();
    assert!(dev
        .iter()
        .zip(ClassNames::imagenet().iter())
        .all(|(a, b)| a == b));
}
