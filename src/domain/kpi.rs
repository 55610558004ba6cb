//! KPI rules: year types, and the direction a KPI is meant to move in.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `fiscal` for 年度 (April to March, named by the year it starts in), `calendar` for 年.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum YearType {
    #[default]
    Fiscal,
    Calendar,
}

/// Which way the KPI should move from its baseline to reach its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Increase,
    Decrease,
    Maintain,
}

macro_rules! text_enum {
    ($ty:ty { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!("`{other}` is not one of: {}", Self::ALL.join(", "))),
                }
            }
        }
    };
}

text_enum!(YearType { Fiscal => "fiscal", Calendar => "calendar" });
text_enum!(Direction { Increase => "increase", Decrease => "decrease", Maintain => "maintain" });

/// The direction implied by a baseline and a target (decimal strings as published).
///
/// Without a baseline ("—": nothing measured yet) the KPI can only grow towards its target.
pub fn direction(baseline: Option<&str>, target: Option<&str>) -> Direction {
    let parse = |value: Option<&str>| value.and_then(|text| text.parse::<f64>().ok());
    match (parse(baseline), parse(target)) {
        (Some(baseline), Some(target)) if target > baseline => Direction::Increase,
        (Some(baseline), Some(target)) if target < baseline => Direction::Decrease,
        (Some(_), Some(_)) => Direction::Maintain,
        _ => Direction::Increase,
    }
}

/// The published decimal as a JSON number: an integer where it has no places, else the nearest
/// double (the exact digits stay in `value_text`).
pub fn decimal_value(text: &str) -> Option<serde_json::Number> {
    match text.parse::<i64>() {
        Ok(integer) => Some(integer.into()),
        Err(_) => text.parse::<f64>().ok().and_then(serde_json::Number::from_f64),
    }
}

/// An exact decimal without exponent or separators, as `Checks::decimal` accepts it.
pub const DECIMAL_PATTERN: &str = r"^-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,18})?$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_follows_baseline_and_target() {
        assert_eq!(direction(Some("22"), Some("30")), Direction::Increase);
        assert_eq!(direction(Some("1259"), Some("531")), Direction::Decrease);
        assert_eq!(direction(Some("8"), Some("8")), Direction::Maintain);
        assert_eq!(direction(Some("100.0"), Some("100")), Direction::Maintain);
        assert_eq!(direction(None, Some("100")), Direction::Increase);
    }

    #[test]
    fn decimals_become_json_numbers() {
        assert_eq!(decimal_value("15").unwrap().to_string(), "15");
        assert_eq!(decimal_value("99.10").unwrap().to_string(), "99.1");
        assert_eq!(decimal_value("2942000").unwrap().to_string(), "2942000");
        assert_eq!(decimal_value("—"), None);
    }

    #[test]
    fn text_forms_round_trip() {
        for text in YearType::ALL.iter().chain(Direction::ALL) {
            let parsed_year = text.parse::<YearType>().map(YearType::as_str);
            let parsed_direction = text.parse::<Direction>().map(Direction::as_str);
            assert!(parsed_year == Ok(*text) || parsed_direction == Ok(*text));
        }
        assert!("yearly".parse::<YearType>().unwrap_err().contains("fiscal, calendar"));
    }
}
