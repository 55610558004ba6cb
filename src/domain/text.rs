//! Text folding for search: whatever form a person types, it finds the published text.

use unicode_normalization::UnicodeNormalization;

/// Folds text for substring search: Unicode NFKC (full-width and half-width forms meet),
/// lower case, and katakana folded to hiragana. Applied to stored text and to the query alike.
pub fn fold_for_search(text: &str) -> String {
    text.nfkc()
        .flat_map(char::to_lowercase)
        .map(katakana_to_hiragana)
        .collect()
}

/// ァ (U+30A1) to ヶ (U+30F6) sit exactly 0x60 above their hiragana; the rest have none.
fn katakana_to_hiragana(c: char) -> char {
    match c {
        '\u{30A1}'..='\u{30F6}' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
        _ => c,
    }
}

/// Escapes `%`, `_` and the escape character itself, for a LIKE pattern with `ESCAPE '\'`.
pub fn like_contains(folded: &str) -> String {
    let mut pattern = String::with_capacity(folded.len() + 2);
    pattern.push('%');
    for c in folded.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_half_width_meet() {
        assert_eq!(fold_for_search("ＡＹＵＣＯ"), fold_for_search("AYUCO"));
        assert_eq!(fold_for_search("ｱﾕｺ"), fold_for_search("アユコ"));
        assert_eq!(fold_for_search("LAN（Wi-Fi）"), "lan(wi-fi)");
    }

    #[test]
    fn katakana_and_hiragana_meet() {
        assert_eq!(fold_for_search("ハザード"), fold_for_search("はざーど"));
        assert!(fold_for_search("オールハザードマップ").contains(&fold_for_search("ﾊｻﾞｰﾄﾞ")));
    }

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(like_contains("100%_a\\"), "%100\\%\\_a\\\\%");
    }
}
