//! # deepinside
//!
//! One dependency for all of deepinside: the five crates re-exported under short names, and
//! the pipelines composed from them — the paper's weakly supervised localisation
//! ([`localise`]) and its per-image evaluation on ILSVRC-style data ([`evaluate`]).
//!
//! The pipelines live here, not in a sixth crate, because they are exactly what composes
//! the five: `attribution` makes maps, `segment` cuts them, `ilsvrc` scores the boxes. A
//! user who wants only one of the five depends on it alone (`deepinside-segment`, say, which
//! knows nothing of candle); a user who wants the paper's pipeline depends on this one, and
//! the `deepinside` binary is a thin layer over it (docs/architecture.md).
pub use attribution;
pub use convnet;
pub use ilsvrc;
pub use segment;
pub use synthesis;

pub mod attribution_eval;
mod error;
pub mod evaluate;
pub mod localise;
pub mod plots;

pub use error::{Error, Result};
