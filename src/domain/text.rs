//! Text folding for search: whatever form a person types, it finds the published text.

use unicode_normalization::UnicodeNormalization;

/// A decimal as people read it, its whole part grouped by thousands: `3500000` → `3,500,000`,
/// `-1259.5` → `-1,259.5`; the places are kept as written.
pub fn grouped(decimal: &str) -> String {
    let (sign, digits) = decimal.strip_prefix('-').map_or(("", decimal), |rest| ("-", rest));
    let (whole, fraction) = digits
        .split_once('.')
        .map_or((digits, None), |(whole, fraction)| (whole, Some(fraction)));
    let mut grouped = String::from(sign);
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if let Some(fraction) = fraction {
        grouped.push('.');
        grouped.push_str(fraction);
    }
    grouped
}

/// The order of hierarchical codes: `1-1-1-10` after `1-1-1-9`.
pub fn code_order(code: &str) -> Vec<u64> {
    code.split('-').map(|part| part.parse().unwrap_or(u64::MAX)).collect()
}

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

/// What is stored to search in: the folded text, and where it has words in Latin letters (AYUCO,
/// Wi-Fi), the same text with those words read as kana, so that ｱﾕｺ and あゆこ find AYUCO too.
/// The two are joined by a control character, which a query can never contain.
pub fn searchable(text: &str) -> String {
    let folded = fold_for_search(text);
    let reading = read_latin_as_kana(&folded);
    if reading == folded {
        folded
    } else {
        format!("{folded}\u{1f}{reading}")
    }
}

/// Replaces each run of two or more ASCII letters by its kana reading (romaji, with c read as
/// k or s); letters without a reading stay as they are.
fn read_latin_as_kana(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut index = 0;
    while index < chars.len() {
        if !chars[index].is_ascii_lowercase() {
            out.push(chars[index]);
            index += 1;
            continue;
        }
        let start = index;
        while index < chars.len() && chars[index].is_ascii_lowercase() {
            index += 1;
        }
        let word: String = chars[start..index].iter().collect();
        if word.len() >= 2 {
            out.push_str(&romaji_to_hiragana(&word));
        } else {
            out.push_str(&word);
        }
    }
    out
}

/// Syllables by spelling, longest first where spellings share a prefix.
const SYLLABLES: &[(&str, &str)] = &[
    ("kya", "きゃ"),
    ("kyu", "きゅ"),
    ("kyo", "きょ"),
    ("sha", "しゃ"),
    ("shi", "し"),
    ("shu", "しゅ"),
    ("sho", "しょ"),
    ("cha", "ちゃ"),
    ("chi", "ち"),
    ("chu", "ちゅ"),
    ("cho", "ちょ"),
    ("tsu", "つ"),
    ("nya", "にゃ"),
    ("nyu", "にゅ"),
    ("nyo", "にょ"),
    ("hya", "ひゃ"),
    ("hyu", "ひゅ"),
    ("hyo", "ひょ"),
    ("mya", "みゃ"),
    ("myu", "みゅ"),
    ("myo", "みょ"),
    ("rya", "りゃ"),
    ("ryu", "りゅ"),
    ("ryo", "りょ"),
    ("gya", "ぎゃ"),
    ("gyu", "ぎゅ"),
    ("gyo", "ぎょ"),
    ("bya", "びゃ"),
    ("byu", "びゅ"),
    ("byo", "びょ"),
    ("pya", "ぴゃ"),
    ("pyu", "ぴゅ"),
    ("pyo", "ぴょ"),
    ("ja", "じゃ"),
    ("ji", "じ"),
    ("ju", "じゅ"),
    ("je", "じぇ"),
    ("jo", "じょ"),
    ("fa", "ふぁ"),
    ("fi", "ふぃ"),
    ("fu", "ふ"),
    ("fe", "ふぇ"),
    ("fo", "ふぉ"),
    ("ka", "か"),
    ("ki", "き"),
    ("ku", "く"),
    ("ke", "け"),
    ("ko", "こ"),
    ("ca", "か"),
    ("ci", "し"),
    ("cu", "く"),
    ("ce", "せ"),
    ("co", "こ"),
    ("ga", "が"),
    ("gi", "ぎ"),
    ("gu", "ぐ"),
    ("ge", "げ"),
    ("go", "ご"),
    ("sa", "さ"),
    ("si", "し"),
    ("su", "す"),
    ("se", "せ"),
    ("so", "そ"),
    ("za", "ざ"),
    ("zi", "じ"),
    ("zu", "ず"),
    ("ze", "ぜ"),
    ("zo", "ぞ"),
    ("ta", "た"),
    ("ti", "ち"),
    ("tu", "つ"),
    ("te", "て"),
    ("to", "と"),
    ("da", "だ"),
    ("di", "ぢ"),
    ("du", "づ"),
    ("de", "で"),
    ("do", "ど"),
    ("na", "な"),
    ("ni", "に"),
    ("nu", "ぬ"),
    ("ne", "ね"),
    ("no", "の"),
    ("ha", "は"),
    ("hi", "ひ"),
    ("hu", "ふ"),
    ("he", "へ"),
    ("ho", "ほ"),
    ("ba", "ば"),
    ("bi", "び"),
    ("bu", "ぶ"),
    ("be", "べ"),
    ("bo", "ぼ"),
    ("pa", "ぱ"),
    ("pi", "ぴ"),
    ("pu", "ぷ"),
    ("pe", "ぺ"),
    ("po", "ぽ"),
    ("ma", "ま"),
    ("mi", "み"),
    ("mu", "む"),
    ("me", "め"),
    ("mo", "も"),
    ("ya", "や"),
    ("yu", "ゆ"),
    ("yo", "よ"),
    ("ra", "ら"),
    ("ri", "り"),
    ("ru", "る"),
    ("re", "れ"),
    ("ro", "ろ"),
    ("la", "ら"),
    ("li", "り"),
    ("lu", "る"),
    ("le", "れ"),
    ("lo", "ろ"),
    ("wa", "わ"),
    ("wi", "うぃ"),
    ("we", "うぇ"),
    ("wo", "を"),
    ("va", "ゔぁ"),
    ("vi", "ゔぃ"),
    ("vu", "ゔ"),
    ("ve", "ゔぇ"),
    ("vo", "ゔぉ"),
    ("a", "あ"),
    ("i", "い"),
    ("u", "う"),
    ("e", "え"),
    ("o", "お"),
];

fn romaji_to_hiragana(word: &str) -> String {
    let mut out = String::new();
    let mut rest = word;
    while !rest.is_empty() {
        let bytes = rest.as_bytes();
        // A doubled consonant is a small っ: "kitte", "cappa".
        if bytes.len() >= 2 && bytes[0] == bytes[1] && !b"aiueon".contains(&bytes[0]) {
            out.push('っ');
            rest = &rest[1..];
            continue;
        }
        if bytes[0] == b'n' && (bytes.len() == 1 || !b"aiueoy".contains(&bytes[1])) {
            out.push('ん');
            // "nn" is one ん, unless a vowel follows: "konnichiwa" is こ・ん・に・ち・わ.
            let doubled = bytes.get(1) == Some(&b'n') && bytes.get(2).is_none_or(|next| !b"aiueoy".contains(next));
            rest = if doubled { &rest[2..] } else { &rest[1..] };
            continue;
        }
        match SYLLABLES.iter().find(|(spelling, _)| rest.starts_with(spelling)) {
            Some((spelling, kana)) => {
                out.push_str(kana);
                rest = &rest[spelling.len()..];
            }
            None => {
                out.push_str(&rest[..1]);
                rest = &rest[1..];
            }
        }
    }
    out
}

/// The distinct two-character windows of a folded text, in order: the keys of the search index.
/// A text of one character has none (such a query scans).
pub fn bigrams(folded: &str) -> Vec<String> {
    let chars: Vec<char> = folded.chars().collect();
    let mut grams: Vec<String> = Vec::new();
    for pair in chars.windows(2) {
        let gram: String = pair.iter().collect();
        if !grams.contains(&gram) {
            grams.push(gram);
        }
    }
    grams
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
    fn decimals_are_grouped_by_thousands_keeping_their_places() {
        assert_eq!(grouped("3500000"), "3,500,000");
        assert_eq!(grouped("-1259.50"), "-1,259.50");
        assert_eq!(grouped("999"), "999");
        assert_eq!(grouped("0.5"), "0.5");
    }

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
    fn latin_words_are_also_read_as_kana() {
        let stored = searchable("子育てパスポートAYUCOカード取得率");
        for query in ["ｱﾕｺ", "アユコ", "あゆこ", "AYUCO", "ａｙｕｃｏ", "ayuco", "ぱすぽーと"] {
            assert!(stored.contains(&fold_for_search(query)), "{query} in {stored}");
        }
        assert_eq!(romaji_to_hiragana("kitte"), "きって");
        assert_eq!(romaji_to_hiragana("shinbun"), "しんぶん");
        assert_eq!(romaji_to_hiragana("konnichiwa"), "こんにちわ");
        assert_eq!(
            searchable("ハザードマップ"),
            "はざーどまっぷ",
            "nothing to read, nothing added"
        );
    }

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(like_contains("100%_a\\"), "%100\\%\\_a\\\\%");
    }

    #[test]
    fn bigrams_are_distinct_windows_of_characters() {
        assert_eq!(bigrams("件数"), vec!["件数"]);
        assert_eq!(bigrams("交流活動件数"), vec!["交流", "流活", "活動", "動件", "件数"]);
        assert_eq!(bigrams("aaaa"), vec!["aa"]);
        assert!(bigrams("件").is_empty());
    }
}
