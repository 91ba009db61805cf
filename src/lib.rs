//! # deepinside
//!
//! One dependency for all of deepinside: re-exports the workspace crates under short names.
//! Each crate can also be used on its own (`deepinside-convnet`, ...).
pub use attribution;
pub use convnet;
pub use synthesis;
