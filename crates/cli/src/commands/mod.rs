pub mod classify;
pub mod fetch_model;
