//! Japanese era labels for Gregorian years, in the document's own form: 令和元(2019)年度.

use super::kpi::YearType;

/// The label the city would print for this year: `令和2(2020)年度` for fiscal 2020, `令和元(2019)年` for calendar 2019.
///
/// Reiwa began on 1 May 2019; the city labels both fiscal 2019 and calendar 2019 令和元, as the
/// document does, and earlier years 平成.
pub fn label(year: i32, year_type: YearType) -> String {
    let (era, first_year) = if year >= 2019 {
        ("令和", 2019)
    } else if year >= 1989 {
        ("平成", 1989)
    } else {
        ("昭和", 1926)
    };
    let era_year = match year - first_year + 1 {
        1 => "元".to_string(),
        n => n.to_string(),
    };
    let suffix = match year_type {
        YearType::Fiscal => "年度",
        YearType::Calendar => "年",
    };
    format!("{era}{era_year}({year}){suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_the_document() {
        assert_eq!(label(2019, YearType::Fiscal), "令和元(2019)年度");
        assert_eq!(label(2020, YearType::Fiscal), "令和2(2020)年度");
        assert_eq!(label(2026, YearType::Fiscal), "令和8(2026)年度");
        assert_eq!(label(2019, YearType::Calendar), "令和元(2019)年");
        assert_eq!(label(2026, YearType::Calendar), "令和8(2026)年");
    }

    #[test]
    fn earlier_eras() {
        assert_eq!(label(2018, YearType::Fiscal), "平成30(2018)年度");
        assert_eq!(label(1989, YearType::Calendar), "平成元(1989)年");
        assert_eq!(label(1988, YearType::Calendar), "昭和63(1988)年");
    }
}
