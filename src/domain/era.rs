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
    } else if year >= 1926 {
        ("昭和", 1926)
    } else if year >= 1912 {
        ("大正", 1912)
    } else {
        // Baselines as old as 1900 are accepted; 明治 covers them.
        ("明治", 1868)
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

/// The era form alone, for axis labels: `令和元年度`, `令和2年`. Calendar 2019 was 平成 until
/// 30 April and 令和 from 1 May, so it is `平成31年/令和元年`.
pub fn era_year(year: i32, year_type: YearType) -> String {
    if year == 2019 && year_type == YearType::Calendar {
        return "平成31年/令和元年".to_string();
    }
    let full = label(year, year_type);
    // 令和元(2019)年度 → 令和元年度: the Gregorian year in parentheses goes.
    match (full.find('('), full.find(')')) {
        (Some(open), Some(close)) => format!("{}{}", &full[..open], &full[close + 1..]),
        _ => full,
    }
}

/// The Gregorian form: `2020年度`, `2020年`.
pub fn gregorian(year: i32, year_type: YearType) -> String {
    match year_type {
        YearType::Fiscal => format!("{year}年度"),
        YearType::Calendar => format!("{year}年"),
    }
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
    fn short_forms() {
        assert_eq!(era_year(2019, YearType::Fiscal), "令和元年度");
        assert_eq!(era_year(2026, YearType::Fiscal), "令和8年度");
        assert_eq!(era_year(2019, YearType::Calendar), "平成31年/令和元年");
        assert_eq!(era_year(2020, YearType::Calendar), "令和2年");
        assert_eq!(era_year(2018, YearType::Fiscal), "平成30年度");
        assert_eq!(gregorian(2020, YearType::Calendar), "2020年");
        assert_eq!(gregorian(2019, YearType::Fiscal), "2019年度");
    }

    #[test]
    fn earlier_eras() {
        assert_eq!(label(2018, YearType::Fiscal), "平成30(2018)年度");
        assert_eq!(label(1989, YearType::Calendar), "平成元(1989)年");
        assert_eq!(label(1988, YearType::Calendar), "昭和63(1988)年");
    }
}
