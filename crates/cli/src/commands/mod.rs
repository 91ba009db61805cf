pub mod classify;
pub mod demo;
pub mod eval;
pub mod fetch_model;
pub mod localise;
pub mod repro;
pub mod saliency;
pub mod visualise;
