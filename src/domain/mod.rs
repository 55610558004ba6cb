//! Rules that are neither HTTP nor SQL.

pub mod chart;
pub mod era;
pub mod input;
pub mod kpi;
pub mod progress;
pub mod text;
pub mod validate;
