//! Whole plans in and out of the service: the plan document, and creating a plan from it.

pub mod document;
pub mod files;
pub mod load;
pub mod sheet;
