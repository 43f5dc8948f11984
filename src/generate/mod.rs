pub mod context;
pub mod escape;
pub mod names;
pub mod outputs;
pub mod plans;
pub mod templates;
pub mod write;
