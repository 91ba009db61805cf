//! Helpers of the root package's integration tests: the shared test support, re-exported.
#![allow(dead_code, unused_imports)]
#[path = "../support/mod.rs"]
mod support;
pub use support::fixtures::{
    effnet_model, effnet_weights, fixture_image, fixtures, load_fixtures, median, rel_l2, rule_map,
    rule_map_with, sample_fixtures, values, Fixture,
};
pub use support::shared::{program, repo_data, shared, shared_dir, shared_paths, skip};
