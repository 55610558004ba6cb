//! How numbers in request bodies are read: as exactly as they were written.

/// A decimal input as sent: a JSON number or a string, kept digit for digit (`98.90` as a number
/// keeps its two places, thanks to serde_json's `arbitrary_precision`), or null. Whether the text
/// is a plain decimal is for `Checks::decimal` to say, so that a bad value is named with the others.
pub mod decimal {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Null => Ok(None),
            Value::String(text) => Ok(Some(text)),
            Value::Number(number) => Ok(Some(number.to_string())),
            _ => Err(serde::de::Error::custom(
                "must be a decimal, as a JSON number (98.90) or a string (\"98.90\")",
            )),
        }
    }

    /// The document's word for such a field: a number or a string with the same digits.
    pub fn schema() -> utoipa::openapi::schema::Schema {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .description(Some(
                "The exact decimal, as a JSON number or a string with the same digits (98.90 or \"98.90\"); null where none was measured",
            ))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .minimum(Some(-999_999_999_999_999_999_i64))
                    .maximum(Some(999_999_999_999_999_999_i64))
                    .description(Some(
                        "A JSON number written without an exponent, with at most 18 places; its digits are kept as sent",
                    )),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(crate::domain::kpi::DECIMAL_PATTERN))
                    .description(Some("The same decimal as a string")),
            )
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .into()
    }
}

/// An integer field, which JSON Schema also lets a client write with a zero fraction (`704.0`,
/// as Python's json module writes an integral float); any other fraction or an exponent is refused
/// with the field named.
pub mod integer {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(deserializer: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<i64>,
    {
        let number = serde_json::Number::deserialize(deserializer)?;
        let text = number.to_string();
        let whole = match text.split_once('.') {
            Some((whole, fraction)) if !fraction.is_empty() && fraction.bytes().all(|digit| digit == b'0') => whole,
            _ => text.as_str(),
        };
        let value: i64 = whole
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("must be an integer, not {text}")))?;
        T::try_from(value).map_err(|_| serde::de::Error::custom(format!("{text} is out of range")))
    }

    /// One integer read as `deserialize` reads it, inside an option or a list.
    #[derive(serde::Deserialize)]
    struct Integer(#[serde(deserialize_with = "deserialize")] i64);

    /// An optional integer: `null` or one read as `deserialize` reads it.
    pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
        Ok(Option::<Integer>::deserialize(deserializer)?.map(|Integer(value)| value))
    }

    /// A list of integers, each read as `deserialize` reads one.
    pub fn list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<i64>, D::Error> {
        Ok(Vec::<Integer>::deserialize(deserializer)?
            .into_iter()
            .map(|Integer(value)| value)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Form {
        #[serde(deserialize_with = "super::integer::deserialize")]
        number: i32,
        #[serde(default, deserialize_with = "super::decimal::deserialize")]
        value: Option<String>,
    }

    fn read(text: &str) -> Result<Form, serde_json::Error> {
        serde_json::from_str(text)
    }

    #[test]
    fn integers_may_carry_a_zero_fraction_and_nothing_else() {
        assert_eq!(read(r#"{"number": 704}"#).unwrap().number, 704);
        assert_eq!(read(r#"{"number": 704.0}"#).unwrap().number, 704);
        assert_eq!(read(r#"{"number": -3.00}"#).unwrap().number, -3);
        for refused in ["704.5", "7e2", "\"704\"", "true", "4294967296", "99999999999999999999"] {
            assert!(read(&format!(r#"{{"number": {refused}}}"#)).is_err(), "{refused}");
        }
    }

    #[test]
    fn decimals_keep_the_digits_sent_as_a_number_or_a_string() {
        // An exponent stays one (serde_json writes its sign), for `Checks::decimal` to refuse.
        for (sent, kept) in [
            ("98.90", "98.90"),
            ("\"98.90\"", "98.90"),
            ("900", "900"),
            ("0.000001", "0.000001"),
            ("1e3", "1e+3"),
        ] {
            let form = read(&format!(r#"{{"number": 1, "value": {sent}}}"#)).unwrap();
            assert_eq!(form.value.as_deref(), Some(kept), "{sent}");
        }
        assert_eq!(read(r#"{"number": 1, "value": null}"#).unwrap().value, None);
        assert!(read(r#"{"number": 1, "value": [1]}"#).is_err());
    }
}

/// Cells as staff fill them in by hand in a spreadsheet: full-width digits and signs, thousands
/// separators, `％`, the KPI's own unit after the figure, spaces around it. Anything that could be
/// read two ways is refused with the reason, never guessed.
pub mod handwritten {
    use unicode_normalization::UnicodeNormalization;

    /// The cell's text in its plain form, or `None` when it is blank.
    pub fn text(cell: &str) -> Option<String> {
        let text = cell.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        (!text.is_empty()).then(|| text.to_string())
    }

    /// The exact decimal a cell holds (`None` when blank), for a KPI measured in `unit`.
    pub fn decimal(cell: &str, unit: &str) -> Result<Option<String>, String> {
        let Some(text) = text(cell) else { return Ok(None) };
        let mut text: String = text.nfkc().collect::<String>().replace(' ', "");
        // Japanese documents write a negative figure with ▲ or △; NFKC leaves U+2212 as it is.
        for minus in ['▲', '△', '\u{2212}'] {
            if let Some(rest) = text.strip_prefix(minus) {
                text = format!("-{rest}");
            }
        }
        let unit_plain: String = unit.nfkc().collect();
        if let Some(figure) = text.strip_suffix('%') {
            if unit_plain != "%" {
                return Err(format!("has a % sign, but this KPI is counted in {unit}"));
            }
            text = figure.to_string();
        } else if !unit_plain.is_empty() && unit_plain != "%" {
            if let Some(figure) = text.strip_suffix(unit_plain.as_str()) {
                text = figure.to_string();
            }
        }
        if text.contains(',') {
            if !is_grouped(&text) {
                return Err("has a comma that is not a thousands separator; write decimals with a point (12.5)".into());
            }
            text = text.replace(',', "");
        }
        let digits = text.strip_prefix('-').unwrap_or(&text);
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
        let plain = |part: &str| !part.is_empty() && part.len() <= 18 && part.bytes().all(|b| b.is_ascii_digit());
        if !(plain(whole) && plain(fraction)) || (whole.len() > 1 && whole.starts_with('0')) {
            return Err(format!(
                "`{}` is not a figure; write it as a plain number, like 26 or 98.90",
                cell.trim()
            ));
        }
        Ok(Some(text))
    }

    /// `1,234` or `-12,345.6`: groups of three after the first.
    fn is_grouped(text: &str) -> bool {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let whole = digits.split_once('.').map_or(digits, |(whole, _)| whole);
        let mut groups = whole.split(',');
        let first = groups.next().unwrap_or_default();
        (1..=3).contains(&first.len())
            && first.bytes().all(|b| b.is_ascii_digit())
            && groups.all(|group| group.len() == 3 && group.bytes().all(|b| b.is_ascii_digit()))
    }

    #[cfg(test)]
    mod tests {
        use super::decimal;

        #[test]
        fn figures_as_staff_type_them_are_understood() {
            for (cell, unit, expected) in [
                ("２６", "件", "26"),
                (" 1,234 ", "人", "1234"),
                ("98.90％", "%", "98.90"),
                ("98.9 %", "%", "98.9"),
                ("30件", "件", "30"),
                ("▲1.5", "%", "-1.5"),
                ("－３", "件", "-3"),
                ("12,345.5", "m", "12345.5"),
                ("\u{feff}7", "社", "7"),
            ] {
                assert_eq!(decimal(cell, unit), Ok(Some(expected.to_string())), "{cell}");
            }
            assert_eq!(decimal("  ", "件"), Ok(None));
        }

        #[test]
        fn anything_ambiguous_is_refused() {
            for (cell, unit) in [
                ("1,5", "件"),
                ("12,34", "人"),
                ("50%", "件"),
                ("約30", "件"),
                ("30人", "件"),
                ("1e3", "件"),
                ("007", "件"),
                ("1.2.3", "%"),
            ] {
                assert!(decimal(cell, unit).is_err(), "{cell} ({unit})");
            }
        }
    }
}
