//! ImageNet class identities, from the `ilsvrc` crate (one synset list for the workspace).
pub use ilsvrc::synsets::{ClassInfo, ClassNames};
