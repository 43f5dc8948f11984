pub mod context;
pub mod dashboard;
pub mod escape;
pub mod outputs;
pub mod plans;
pub mod templates;
pub mod write;
