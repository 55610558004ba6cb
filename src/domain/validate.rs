//! Field validation that collects every failure, so that one answer (a 400 or a 422) names them all.

use crate::error::{ApiError, FieldError};

/// Longest name or title, in characters.
pub const MAX_NAME: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 2000;
/// Longest code, unit or account, in characters.
pub const MAX_CODE: usize = 50;
/// Years a plan, baseline or target may name.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2100;

/// Whether a 6-digit local government code (全国地方公共団体コード) has the right check digit:
/// 142123 is Atsugi (14212) with its check digit 3.
pub fn is_local_government_code(code: &str) -> bool {
    let digits: Vec<u32> = code.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 6 || code.len() != 6 {
        return false;
    }
    let sum: u32 = digits[..5]
        .iter()
        .zip([6, 5, 4, 3, 2])
        .map(|(digit, weight)| digit * weight)
        .sum();
    (11 - sum % 11) % 10 == digits[5]
}

/// Unicode's control characters (`char::is_control`), as a regular-expression class body.
pub const CONTROL_CLASS: &str = r"\u0000-\u001F\u007F-\u009F";
/// Unicode's White_Space characters (`str::trim`), as a regular-expression class body: spelt out,
/// since `\s` differs between regex dialects (ECMA-262 counts U+FEFF, Unicode does not).
pub const SPACE_CLASS: &str = r"\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// What `Checks::text` accepts, as a JSON Schema `pattern` (ECMA-262): not blank, no whitespace at
/// either end, no control characters (descriptions, `max >= MAX_DESCRIPTION`, may break lines).
pub fn text_pattern(max: usize) -> String {
    let inner = if max >= MAX_DESCRIPTION {
        r"\u0000-\u0009\u000B-\u001F\u007F-\u009F"
    } else {
        CONTROL_CLASS
    };
    format!("^[^{SPACE_CLASS}{CONTROL_CLASS}](?:[^{inner}]*[^{SPACE_CLASS}{CONTROL_CLASS}])?$")
}

/// What a keyword may be: `text_pattern` of a short text, without `;`.
pub fn keyword_pattern() -> String {
    format!("^[^;{SPACE_CLASS}{CONTROL_CLASS}](?:[^;{CONTROL_CLASS}]*[^;{SPACE_CLASS}{CONTROL_CLASS}])?$")
}

/// The failures of one input. A field that does not fit the document (a bound, a format) makes
/// the answer a 400; one that fits but that a rule of the records refuses (a reference to a record
/// that does not exist, a code taken, a year outside a KPI's period) only a 422, which names every
/// failing field all the same.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<FieldError>,
    off_document: bool,
}

impl Checks {
    /// The field does not fit the document's bounds or formats.
    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.off_document = true;
        self.push(field, message);
    }

    /// The field fits the document, but a rule of the records refuses it.
    pub fn refuse(&mut self, field: &str, message: impl Into<String>) {
        self.push(field, message);
    }

    fn push(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.to_string(),
            message: message.into(),
        });
    }

    /// Non-blank, at most `max` characters, no control characters (descriptions may break lines).
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        let allow_newlines = max >= MAX_DESCRIPTION;
        if value.trim().is_empty() {
            self.fail(field, "must not be blank");
        } else if value.chars().count() > max {
            self.fail(field, format!("must be at most {max} characters"));
        } else if value.chars().any(|c| c.is_control() && !(allow_newlines && c == '\n')) {
            self.fail(field, "must not contain control characters");
        } else if value.trim() != value {
            self.fail(field, "must not start or end with whitespace");
        }
    }

    pub fn year(&mut self, field: &str, year: i32) {
        if !YEARS.contains(&year) {
            self.fail(
                field,
                format!("must be a year from {} to {}", YEARS.start(), YEARS.end()),
            );
        }
    }

    pub fn positive(&mut self, field: &str, number: i32) {
        if !(1..=999).contains(&number) {
            self.fail(field, "must be from 1 to 999");
        }
    }

    /// An exact decimal, as sent: "99.10", "2942000", "-1.5"; no exponent, separator or NaN.
    pub fn decimal(&mut self, field: &str, value: &str) {
        let digits = value.strip_prefix('-').unwrap_or(value);
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
        let is_digits = |part: &str| !part.is_empty() && part.len() <= 18 && part.bytes().all(|b| b.is_ascii_digit());
        let leading_zero = whole.len() > 1 && whole.starts_with('0');
        if value.contains(['e', 'E']) && value.bytes().any(|b| b.is_ascii_digit()) {
            self.fail(
                field,
                "must be written without an exponent (2942000, not 2.942e6), so that the published digits are kept",
            );
        } else if !(is_digits(whole) && is_digits(fraction)) || leading_zero {
            self.fail(
                field,
                "must be a plain decimal of at most 18 digits before and after the point, as a number (98.90) or a string (\"98.90\")",
            );
        }
    }

    /// An absolute http(s) URL.
    /// As the document's pattern says: `http://` or `https://`, an ASCII host name (labels of letters,
    /// digits and inner hyphens, the last starting with a letter, so that no host reads as a
    /// number) with an optional port, then a path without whitespace; and a URL the url crate reads.
    pub fn url(&mut self, field: &str, value: &str) {
        let label = |label: &str| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        let plain_host = |authority: &str| {
            let (host, port) = authority.split_once(':').unwrap_or((authority, "1"));
            let last = host.rsplit('.').next().unwrap_or_default();
            host.split('.').all(label)
                && last.starts_with(|c: char| c.is_ascii_alphabetic())
                && (1..=4).contains(&port.len())
                && port.bytes().all(|b| b.is_ascii_digit())
        };
        let well_formed = ["http://", "https://"].iter().any(|scheme| {
            value.strip_prefix(scheme).is_some_and(|rest| {
                let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
                plain_host(authority) && !path.chars().any(char::is_whitespace)
            })
        });
        if !well_formed || url::Url::parse(value).is_err() || value.chars().count() > MAX_DESCRIPTION {
            self.fail(field, "must be an http or https URL");
        }
    }

    /// An e-mail address as the document's pattern says: a plain local part (letters, digits and
    /// `._%+-`, at most 64) and a host name whose last label is letters.
    pub fn email(&mut self, field: &str, value: &str) {
        let well_formed = value.len() <= 254
            && value.split_once('@').is_some_and(|(local, host)| {
                let labels: Vec<&str> = host.split('.').collect();
                (1..=64).contains(&local.len())
                    && local.chars().all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c))
                    && labels.len() >= 2
                    && labels.iter().all(|label| {
                        !label.is_empty()
                            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                            && !label.starts_with('-')
                            && !label.ends_with('-')
                    })
                    && labels.last().is_some_and(|last| {
                        (2..=63).contains(&last.len()) && last.chars().all(|c| c.is_ascii_alphabetic())
                    })
            });
        if !well_formed {
            self.fail(field, "must be an e-mail address like kikaku@city.example.jp");
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            return Ok(());
        }
        let fields = self
            .errors
            .iter()
            .map(|error| format!("`{}`", error.field))
            .collect::<Vec<_>>();
        let detail = format!("invalid field(s): {}", fields.join(", "));
        Err(if self.off_document {
            ApiError::BadRequest {
                detail,
                errors: self.errors,
            }
        } else {
            ApiError::Unprocessable {
                detail,
                errors: self.errors,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_is_collected() {
        let mut checks = Checks::default();
        checks.text("name", " ", MAX_NAME);
        checks.text("title", &"あ".repeat(MAX_NAME + 1), MAX_NAME);
        checks.text("unit", "a\u{0}", MAX_CODE);
        checks.year("year", 1800);
        checks.decimal("value", "1,000");
        match checks.finish() {
            Err(ApiError::BadRequest { errors, .. }) => {
                let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["name", "title", "unit", "year", "value"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decimals_keep_their_form() {
        for good in ["99.10", "2942000", "0", "-1.5", "100.0", "0.5"] {
            let mut checks = Checks::default();
            checks.decimal("v", good);
            assert!(checks.finish().is_ok(), "{good}");
        }
        for bad in ["", ".5", "5.", "1e3", "abc", "1.2.3", "—", "NaN", "0026", "-01"] {
            let mut checks = Checks::default();
            checks.decimal("v", bad);
            assert!(checks.finish().is_err(), "{bad}");
        }
    }

    #[test]
    fn local_government_codes_carry_their_check_digit() {
        assert!(is_local_government_code("142123"));
        assert!(is_local_government_code("131016")); // 千代田区
        assert!(!is_local_government_code("142124"));
        assert!(!is_local_government_code("14212"));
        assert!(!is_local_government_code("１４２１２３"));
    }

    #[test]
    fn descriptions_may_break_lines_names_may_not() {
        let mut checks = Checks::default();
        checks.text("description", "一行目。\n二行目。", MAX_DESCRIPTION);
        assert!(checks.finish().is_ok());
        let mut checks = Checks::default();
        checks.text("name", "a\nb", MAX_NAME);
        assert!(checks.finish().is_err());
    }
}
