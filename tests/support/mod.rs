//! Test support shared by the workspace's test crates, included with `#[path]`: `shared`
//! needs nothing but std (the `ilsvrc` and `segment` tests include it alone), `fixtures`
//! needs candle and convnet.
pub mod fixtures;
pub mod shared;
