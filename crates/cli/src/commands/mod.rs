pub mod classify;
pub mod demo;
pub mod fetch_model;
pub mod saliency;
