//! Whole plans in and out of the service: the plan document, and creating a plan from it.

pub mod bundle;
pub mod document;
pub mod files;
pub mod load;
pub mod sheet;

/// Most bytes the CSV files of an imported zip may inflate to in all: a guard against zip bombs,
/// far above the CSVs of any plan.
pub const MAX_INFLATED_BYTES: u64 = 64 * 1024 * 1024;
