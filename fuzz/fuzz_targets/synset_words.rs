#![no_main]
//! synset_words.txt / LOC_synset_mapping.txt class lists.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(c) = ilsvrc::ClassNames::parse_synset_words(text) {
        for (i, info) in c.iter().enumerate() {
            assert_eq!(info.index, i);
            assert_eq!(c.by_wnid(&info.wnid).map(|x| x.index), Some(i));
            assert_eq!(c.resolve(&info.wnid).map(|x| x.index), Ok(i));
        }
    }
});
