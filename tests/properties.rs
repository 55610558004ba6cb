//! Property tests of the pieces that read input: query strings, search text, era labels, KPI
//! decimals and progress. Each property is what a user would check by hand, over many inputs.

use proptest::prelude::*;
use proptest::test_runner::Config;
use strategy_api::api::{Format, QueryParams};
use strategy_api::db::SortKey;
use strategy_api::domain::era::{era_year, gregorian, label};
use strategy_api::domain::kpi::{decimal_value, direction, Direction, YearType};
use strategy_api::domain::progress::{
    compute, default_scheme, expected, grade, scheme_problem, Computed, GradeStep, Latest, Plan, Status,
};
use strategy_api::domain::text::{fold_for_search, like_contains, searchable};
use strategy_api::domain::validate::{Checks, YEARS};
use strategy_api::error::ApiError;

/// Page sizes the API documents: 1 to 500 (`MAX_LIMIT` is private to the crate).
const MAX_LIMIT: i64 = 500;
/// Longest text parameter the API documents (`MAX_TEXT_LENGTH`).
const MAX_TEXT: usize = 200;
/// A realistic sortable list, as the KPI collection declares it.
const SORTABLE: &[&str] = &[
    "id",
    "code",
    "name",
    "unit",
    "cumulative",
    "direction",
    "initiative_id",
    "baseline_year",
    "target_year",
    "updated_at",
];

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        serializer.append_pair(key, value);
    }
    serializer.finish()
}

fn one(name: &str, value: &str) -> QueryParams {
    QueryParams::parse(&query(&[(name, value)])).expect("one parameter parses")
}

/// The error is a 400 whose only failing field is `name`, and whose detail names it.
fn names_the_parameter<T: std::fmt::Debug>(result: Result<T, ApiError>, name: &str) -> String {
    match result {
        Err(ApiError::BadRequest { detail, errors }) => {
            assert_eq!(errors.len(), 1, "{detail}");
            assert_eq!(errors[0].field, name, "{detail}");
            assert!(!errors[0].message.is_empty());
            assert!(detail.contains(&format!("`{name}`")), "{detail}");
            detail
        }
        other => panic!("expected a 400 naming `{name}`, got {other:?}"),
    }
}

/// Ok, or a 400 naming `name`: never another kind of error.
fn ok_or_names<T: std::fmt::Debug>(result: Result<T, ApiError>, name: &str) {
    if result.is_err() {
        names_the_parameter(result, name);
    }
}

/// Query strings of every kind: arbitrary text, and the parameters the API reads with
/// arbitrary (sometimes encoded, sometimes raw) values.
fn any_query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("limit".to_string()),
        Just("offset".to_string()),
        Just("sort".to_string()),
        Just("goal".to_string()),
        Just("q".to_string()),
        Just("cumulative".to_string()),
        Just("format".to_string()),
        Just("from".to_string()),
        Just("as_of".to_string()),
        Just("year".to_string()),
        "[a-z_%&=+]{0,8}",
    ];
    let value = prop_oneof![
        ".*",
        "-?[0-9]{0,25}",
        "-?[a-z_,-]{0,30}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}))?",
    ];
    let structured = prop::collection::vec((key, value, any::<bool>()), 0..6).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(key, value, raw)| {
                if *raw {
                    format!("{key}={value}")
                } else {
                    query(&[(key, value)])
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    prop_oneof![".*", "[a-z=&%0-9A-F+-]{0,40}", structured]
}

proptest! {
    #![proptest_config(config(512))]

    /// Whatever the query string, parsing and every reader answer or give a 400 naming the
    /// parameter: never a panic, never a 500.
    #[test]
    fn any_query_string_is_answered_or_a_400_naming_the_parameter(text in any_query()) {
        let mut params = match QueryParams::parse(&text) {
            Ok(params) => params,
            Err(ApiError::BadRequest { detail, errors }) => {
                // Only a repeated parameter fails the parse itself.
                prop_assert_eq!(errors.len(), 1);
                prop_assert!(errors[0].message.contains("more than once"), "{}", detail);
                return Ok(());
            }
            Err(other) => panic!("parse of {text:?}: {other:?}"),
        };
        if let Err(error) = params.page(SORTABLE) {
            let named = match &error {
                ApiError::BadRequest { errors, .. } => errors[0].field.clone(),
                other => panic!("page of {text:?}: {other:?}"),
            };
            prop_assert!(["limit", "offset", "sort"].contains(&named.as_str()), "{:?}", error);
            names_the_parameter::<()>(Err(error), &named);
        }
        ok_or_names(params.id("goal"), "goal");
        ok_or_names(params.text("q"), "q");
        ok_or_names(params.boolean("cumulative"), "cumulative");
        ok_or_names(params.choice::<Format>("format"), "format");
        ok_or_names(params.bounded("year", 1900, 2100), "year");
        ok_or_names(params.timestamp("from"), "from");
        ok_or_names(params.moment("as_of"), "as_of");
        if let Err(error) = params.finish() {
            prop_assert!(matches!(error, ApiError::BadRequest { .. }), "{:?}", error);
        }
    }

    /// A parameter given twice is refused, naming it, whatever the values.
    #[test]
    fn a_repeated_parameter_is_refused_naming_it(
        name in "[a-z_]{1,12}", first in "[a-z0-9]{0,5}", second in "[a-z0-9]{0,5}",
    ) {
        let result = QueryParams::parse(&query(&[(&name, &first), ("other", "1"), (&name, &second)]));
        names_the_parameter(result, &name);
    }

    /// `limit` 1–500 and `offset` 0–2³¹−1 are taken as given; absent they are 50 and 0.
    #[test]
    fn limit_and_offset_within_bounds_are_accepted(
        limit in 1..=MAX_LIMIT, offset in 0..=i64::from(i32::MAX), give in any::<(bool, bool)>(),
    ) {
        let limit_text = limit.to_string();
        let offset_text = offset.to_string();
        let mut pairs = Vec::new();
        if give.0 {
            pairs.push(("limit", limit_text.as_str()));
        }
        if give.1 {
            pairs.push(("offset", offset_text.as_str()));
        }
        let mut params = QueryParams::parse(&query(&pairs)).unwrap();
        let page = params.page(SORTABLE).unwrap();
        prop_assert_eq!(page.limit, if give.0 { limit } else { 50 });
        prop_assert_eq!(page.offset, if give.1 { offset } else { 0 });
        prop_assert!(page.sort.is_empty());
        prop_assert!(params.finish().is_ok());
    }

    /// A `limit` or `offset` out of its bounds is a 400 naming it and the bounds.
    #[test]
    fn limit_and_offset_out_of_bounds_are_refused(
        low in i64::MIN..=0, high in (MAX_LIMIT + 1)..=i64::MAX,
        negative in i64::MIN..0, huge in (i64::from(i32::MAX) + 1)..=i64::MAX,
    ) {
        for value in [low, high] {
            let detail = names_the_parameter(one("limit", &value.to_string()).page(SORTABLE), "limit");
            prop_assert!(detail.contains("from 1 to 500"), "{}", detail);
        }
        for value in [negative, huge] {
            names_the_parameter(one("offset", &value.to_string()).page(SORTABLE), "offset");
        }
    }

    /// Anything that is not a plain integer (decimals, exponents, words, blanks, numbers too
    /// large for 64 bits) is a 400 naming the parameter.
    #[test]
    fn limit_and_offset_that_are_not_integers_are_refused(
        text in prop_oneof![
            "[0-9]{1,3}\\.[0-9]{1,3}",
            "[0-9]{1,3}e[0-9]",
            "[a-zA-Z ]{0,10}",
            " [0-9]{1,3}",
            "[0-9]{1,3} ",
            "[1-9][0-9]{19,25}",
            "０[０-９]{0,2}",
        ],
        name in prop_oneof![Just("limit"), Just("offset")],
    ) {
        prop_assume!(text.parse::<i64>().is_err());
        names_the_parameter(one(name, &text).page(SORTABLE), name);
    }

    /// `sort=a,-b` of sortable fields comes back as exactly those keys, in that order.
    #[test]
    fn a_sort_of_sortable_fields_round_trips(
        fields in Just(SORTABLE.to_vec()).prop_shuffle(),
        count in 1..=SORTABLE.len(),
        descending in prop::collection::vec(any::<bool>(), SORTABLE.len()),
    ) {
        let keys: Vec<SortKey> = fields[..count]
            .iter()
            .zip(&descending)
            .map(|(field, descending)| SortKey { field: field.to_string(), descending: *descending })
            .collect();
        let text = keys
            .iter()
            .map(|key| format!("{}{}", if key.descending { "-" } else { "" }, key.field))
            .collect::<Vec<_>>()
            .join(",");
        let page = one("sort", &text).page(SORTABLE).unwrap();
        prop_assert_eq!(page.sort, keys);
    }

    /// A field that is not sortable, anywhere in the list, is a 400 naming it and every
    /// sortable field.
    #[test]
    fn an_unknown_sort_field_is_refused_naming_the_sortable_ones(
        unknown in "[a-z_]{1,30}",
        minus in any::<bool>(),
        known in prop::sample::subsequence(SORTABLE.to_vec(), 0..4),
        position in any::<prop::sample::Index>(),
    ) {
        prop_assume!(!SORTABLE.contains(&unknown.as_str()));
        let mut parts: Vec<String> = known.iter().map(|field| field.to_string()).collect();
        let at = position.index(parts.len() + 1);
        parts.insert(at, format!("{}{unknown}", if minus { "-" } else { "" }));
        let detail = names_the_parameter(one("sort", &parts.join(",")).page(SORTABLE), "sort");
        prop_assert!(detail.contains(&format!("`{unknown}`")), "{}", detail);
        prop_assert!(detail.contains(&SORTABLE.join(", ")), "{}", detail);
    }

    /// A field sorted on twice in the same direction is refused; in the other direction the second
    /// key can never decide, and the order is the first key's alone.
    #[test]
    fn a_field_sorted_twice_is_refused_or_decided_by_its_first_key(
        field in prop::sample::select(SORTABLE), signs in any::<(bool, bool)>(),
    ) {
        let sign = |minus: bool| if minus { "-" } else { "" };
        let text = format!("{}{field},{}{field}", sign(signs.0), sign(signs.1));
        if signs.0 == signs.1 {
            let detail = names_the_parameter(one("sort", &text).page(SORTABLE), "sort");
            prop_assert!(detail.contains(field));
        } else {
            let page = one("sort", &text).page(SORTABLE).unwrap();
            prop_assert_eq!(page.sort.len(), 1);
            prop_assert_eq!(page.sort[0].descending, signs.0);
        }
    }

    /// Every parameter no reader took is named by `finish`; once all are taken it passes.
    #[test]
    fn finish_names_every_unknown_parameter(
        unknown in prop::collection::btree_set("[a-z][a-z_]{0,39}", 1..5),
        limit in 1..=MAX_LIMIT,
    ) {
        prop_assume!(unknown.iter().all(|name| name != "limit"));
        let limit = limit.to_string();
        let mut pairs: Vec<(&str, &str)> = unknown.iter().map(|name| (name.as_str(), "1")).collect();
        pairs.push(("limit", &limit));
        let mut params = QueryParams::parse(&query(&pairs)).unwrap();
        params.page(SORTABLE).unwrap();
        match params.finish() {
            Err(ApiError::BadRequest { detail, errors }) => {
                let named: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
                let expected: Vec<&str> = unknown.iter().map(String::as_str).collect();
                prop_assert_eq!(named, expected);
                for name in &unknown {
                    prop_assert!(detail.contains(&format!("`{name}`")), "{}", detail);
                }
            }
            other => panic!("expected a 400, got {other:?}"),
        }
        let mut taken = QueryParams::parse(&query(&pairs)).unwrap();
        taken.page(SORTABLE).unwrap();
        for name in &unknown {
            taken.text(name).unwrap();
        }
        prop_assert!(taken.finish().is_ok());
    }

    /// An id is exactly a positive 64-bit integer.
    #[test]
    fn ids_are_exactly_the_positive_integers(
        id in 1..=i64::MAX, bad in prop_oneof![i64::MIN..=0i64, Just(0)], word in "[^0-9]{1,5}",
    ) {
        prop_assert_eq!(one("goal", &id.to_string()).id("goal").unwrap(), Some(id));
        names_the_parameter(one("goal", &bad.to_string()).id("goal"), "goal");
        names_the_parameter(one("goal", &format!("{id}{word}")).id("goal"), "goal");
        prop_assert_eq!(one("other", "1").id("goal").unwrap(), None);
    }

    /// A text parameter is taken unchanged when it is non-blank, at most 200 characters and free
    /// of control characters, and refused naming it otherwise.
    #[test]
    fn text_parameters_are_non_blank_short_and_printable(text in prop_oneof![
        ".{0,20}",
        "[ \t\u{3000}]{0,3}",
        "[あ-ん]{195,205}",
        "[a-z]{0,5}[\u{0}-\u{1f}\u{7f}\u{80}-\u{9f}][a-z]{0,5}",
    ]) {
        let acceptable = !text.trim().is_empty()
            && text.chars().count() <= MAX_TEXT
            && !text.chars().any(char::is_control);
        let result = one("q", &text).text("q");
        if acceptable {
            prop_assert_eq!(result.unwrap(), Some(text));
        } else {
            names_the_parameter(result, "q");
        }
    }

    /// Booleans are exactly `true` and `false`; formats exactly `json` and `csv`.
    #[test]
    fn booleans_and_choices_accept_only_their_words(text in prop_oneof![
        Just("true".to_string()), Just("false".to_string()), Just("json".to_string()),
        Just("csv".to_string()), "[a-zA-Z0-9 ]{0,6}",
    ]) {
        match text.as_str() {
            "true" => prop_assert_eq!(one("b", &text).boolean("b").unwrap(), Some(true)),
            "false" => prop_assert_eq!(one("b", &text).boolean("b").unwrap(), Some(false)),
            _ => { names_the_parameter(one("b", &text).boolean("b"), "b"); }
        }
        match text.as_str() {
            "json" => prop_assert_eq!(one("format", &text).choice::<Format>("format").unwrap(), Some(Format::Json)),
            "csv" => prop_assert_eq!(one("format", &text).choice::<Format>("format").unwrap(), Some(Format::Csv)),
            _ => { names_the_parameter(one("format", &text).choice::<Format>("format"), "format"); }
        }
    }

    /// An RFC 3339 time in any offset is read as the same instant in UTC, by `timestamp` and by
    /// `moment` alike.
    #[test]
    fn times_are_read_as_the_same_instant_in_utc(
        seconds in 0i64..4_102_444_800, micros in 0u32..1_000_000, offset_minutes in -1439i32..=1439,
    ) {
        let instant = chrono::DateTime::from_timestamp(seconds, micros * 1000).unwrap();
        let offset = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
        let text = instant.with_timezone(&offset).to_rfc3339();
        prop_assert_eq!(one("from", &text).timestamp("from").unwrap(), Some(instant.naive_utc()));
        prop_assert_eq!(one("as_of", &text).moment("as_of").unwrap(), Some(instant.naive_utc()));
    }

    /// A date as `as_of` means the last microsecond of that day in Japan (UTC+9).
    #[test]
    fn a_date_is_the_end_of_that_day_in_japan(days in 0i64..100_000) {
        let date = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::TimeDelta::days(days);
        let moment = one("as_of", &date.format("%Y-%m-%d").to_string())
            .moment("as_of")
            .unwrap()
            .unwrap();
        let in_japan = moment + chrono::TimeDelta::hours(9);
        prop_assert_eq!(in_japan.date(), date);
        prop_assert_eq!(in_japan.time(), chrono::NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap());
        // Not a date nor a time: refused naming the parameter, and `timestamp` takes no dates.
        names_the_parameter(one("as_of", &format!("{date}x")).moment("as_of"), "as_of");
        names_the_parameter(one("from", &date.to_string()).timestamp("from"), "from");
    }
}

// ---------------------------------------------------------------------------------------------
// Search text

/// The JIS X 0201 half-width katakana U+FF66–U+FF9D, in their code order, as full-width katakana.
const HALF_WIDTH_KATAKANA_AS_FULL: &str =
    "ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン";

/// Katakana that take the dakuten (the voiced form is the next code point: カ, ガ) and those that
/// also take the handakuten (two code points on: ハ, バ, パ).
const VOICED: &str = "カキクケコサシスセソタチツテトハヒフヘホ";
const SEMI_VOICED: &str = "ハヒフヘホ";

/// Pairs of (half-width, full-width) katakana, voiced and semi-voiced ones included (ｶﾞ: ガ).
fn katakana_pairs() -> Vec<(String, String)> {
    let next = |c: char, by: u32| char::from_u32(c as u32 + by).unwrap().to_string();
    let mut pairs = Vec::new();
    for (offset, full) in HALF_WIDTH_KATAKANA_AS_FULL.chars().enumerate() {
        let half = char::from_u32(0xFF66 + offset as u32).unwrap();
        pairs.push((half.to_string(), full.to_string()));
        if VOICED.contains(full) {
            pairs.push((format!("{half}\u{FF9E}"), next(full, 1)));
        }
        if SEMI_VOICED.contains(full) {
            pairs.push((format!("{half}\u{FF9F}"), next(full, 2)));
        }
        if full == 'ウ' {
            pairs.push((format!("{half}\u{FF9E}"), "ヴ".to_string()));
        }
    }
    pairs
}

/// Matches `text` against a SQL LIKE `pattern` with `ESCAPE '\'` (`%` any run, `_` one character),
/// as SQLite and Postgres do; None when the pattern ends in a lone escape (an SQL error).
fn like(pattern: &str, text: &str) -> Option<bool> {
    enum Token {
        Any,
        One,
        Char(char),
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '%' => Token::Any,
            '_' => Token::One,
            '\\' => Token::Char(chars.next()?),
            c => Token::Char(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // matched[j]: the tokens so far match text[..j].
    let mut matched = vec![false; text.len() + 1];
    matched[0] = true;
    for token in &tokens {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            next[j] = match token {
                Token::Any => matched[j] || (j > 0 && next[j - 1]),
                Token::One => j > 0 && matched[j - 1],
                Token::Char(c) => j > 0 && matched[j - 1] && text[j - 1] == *c,
            };
        }
        matched = next;
    }
    Some(matched[text.len()])
}

/// ASCII as its full-width form (U+FF01–U+FF5E; the space as the ideographic space U+3000).
fn full_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' ' => '\u{3000}',
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap(),
            c => c,
        })
        .collect()
}

fn katakana_to_hiragana(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'ァ'..='ヶ' => char::from_u32(c as u32 - 0x60).unwrap(),
            c => c,
        })
        .collect()
}

/// Text like the strategy's: kana of both kinds, kanji, ASCII, full-width forms, marks.
fn strategy_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,12}",
        "[ぁ-ゖァ-ヶー一-龠a-zA-Z0-9Ａ-Ｚａ-ｚ０-９ｦ-ﾟ （）・%_\\\\-]{0,16}",
    ]
}

proptest! {
    #![proptest_config(config(256))]

    /// Folding folded text changes nothing, so stored and typed text meet however often folded.
    #[test]
    fn folding_is_idempotent(text in strategy_text()) {
        let once = fold_for_search(&text);
        prop_assert_eq!(fold_for_search(&once), once);
    }

    /// Full-width letters, digits and signs fold to what their ASCII folds to; half-width
    /// katakana (voiced ones too) to what full-width katakana folds to.
    #[test]
    fn full_width_and_half_width_forms_fold_alike(
        ascii in "[ -~]{0,20}",
        kana in prop::collection::vec(prop::sample::select(katakana_pairs()), 0..12),
    ) {
        prop_assert_eq!(fold_for_search(&full_width(&ascii)), fold_for_search(&ascii));
        let half: String = kana.iter().map(|(half, _)| half.as_str()).collect();
        let full: String = kana.iter().map(|(_, full)| full.as_str()).collect();
        prop_assert_eq!(fold_for_search(&half), fold_for_search(&full));
    }

    /// Katakana and hiragana fold alike, and folded text has no katakana of the range left.
    #[test]
    fn katakana_and_hiragana_fold_alike(kana in "[ァ-ヶー]{0,20}", around in "[a-z一-龠]{0,3}") {
        let katakana = format!("{around}{kana}{around}");
        let hiragana = katakana_to_hiragana(&katakana);
        prop_assert_eq!(fold_for_search(&katakana), fold_for_search(&hiragana));
        prop_assert!(!fold_for_search(&katakana).chars().any(|c| ('ァ'..='ヶ').contains(&c)));
    }

    /// Upper and lower case (ASCII and full-width) fold alike, to lower case.
    #[test]
    fn case_folds_away(text in "[a-zA-Z0-9 -]{0,20}") {
        let lower = text.to_lowercase();
        prop_assert_eq!(fold_for_search(&text.to_uppercase()), lower.clone());
        prop_assert_eq!(fold_for_search(&full_width(&text.to_uppercase())), lower.clone());
        prop_assert_eq!(fold_for_search(&text), lower);
    }

    /// Whatever folded query is in the folded text is in what is stored to search in, and the
    /// stored text starts with the folded text itself.
    #[test]
    fn what_folds_into_the_text_is_found_in_its_searchable_form(
        text in strategy_text(), start in any::<prop::sample::Index>(), length in 0usize..8, other in strategy_text(),
    ) {
        let chars: Vec<char> = text.chars().collect();
        let from = start.index(chars.len() + 1);
        let slice: String = chars[from..(from + length).min(chars.len())].iter().collect();
        let stored = searchable(&text);
        let folded_text = fold_for_search(&text);
        prop_assert!(stored.starts_with(&folded_text));
        for query in [slice, other] {
            let folded = fold_for_search(&query);
            if folded_text.contains(&folded) {
                prop_assert!(stored.contains(&folded), "{:?} in {:?}", folded, stored);
            }
        }
    }

    /// A query can never span the folded text and its kana reading: the joint is a control
    /// character, and `q` refuses those.
    #[test]
    fn a_query_cannot_span_the_joint_of_the_searchable_form(text in strategy_text()) {
        let stored = searchable(&text);
        if let Some((folded, _reading)) = stored.split_once('\u{1f}') {
            prop_assert_eq!(folded, fold_for_search(&text));
            let spanning = format!("{}\u{1f}", folded.chars().last().map(String::from).unwrap_or_default());
            names_the_parameter(one("q", &spanning).text("q"), "q");
        }
    }

    /// The LIKE pattern of a query matches exactly the texts that contain it literally: `%`, `_`
    /// and `\` in the query are no wildcards.
    #[test]
    fn like_patterns_match_the_query_literally(
        query in "[a%_\\\\あ]{0,5}", text in "[a%_\\\\あb]{0,10}",
    ) {
        let pattern = like_contains(&query);
        prop_assert_eq!(like(&pattern, &text), Some(text.contains(&query)), "pattern {:?}", pattern);
        // Its own text always matches.
        prop_assert_eq!(like(&pattern, &format!("x{query}y")), Some(true));
    }
}

// ---------------------------------------------------------------------------------------------
// Era labels

const REIWA: i32 = 2019;
const HEISEI: i32 = 1989;
const SHOWA: i32 = 1926;

/// (era, era year, Gregorian year in parentheses, suffix) of a label like `令和元(2019)年度`.
fn parse_label(text: &str) -> (String, i32, i32, String) {
    let pattern = regex::Regex::new(r"^(令和|平成|昭和|大正|明治)(元|-?\d+)\((-?\d+)\)(年度|年)$").unwrap();
    let captures = pattern.captures(text).unwrap_or_else(|| panic!("label {text:?}"));
    let era_year = match &captures[2] {
        "元" => 1,
        number => number.parse().unwrap(),
    };
    (
        captures[1].to_string(),
        era_year,
        captures[3].parse().unwrap(),
        captures[4].to_string(),
    )
}

fn any_year_type() -> impl Strategy<Value = YearType> {
    prop_oneof![Just(YearType::Fiscal), Just(YearType::Calendar)]
}

fn suffix(year_type: YearType) -> &'static str {
    match year_type {
        YearType::Fiscal => "年度",
        YearType::Calendar => "年",
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// The era year of a label maps back to its Gregorian year: 平成 for 1989–2018, 令和 from 2019
    /// (fiscal and calendar 2019 are both 令和元), 年度 for fiscal years and 年 for calendar ones.
    #[test]
    fn era_labels_map_back_to_the_gregorian_year(year in SHOWA..=2300, year_type in any_year_type()) {
        let (era, era_number, shown, label_suffix) = parse_label(&label(year, year_type));
        let first = match era.as_str() {
            "令和" => REIWA,
            "平成" => HEISEI,
            _ => SHOWA,
        };
        let expected_era = if year >= REIWA { "令和" } else if year >= HEISEI { "平成" } else { "昭和" };
        prop_assert_eq!(era.as_str(), expected_era);
        prop_assert!(era_number >= 1);
        prop_assert_eq!(first + era_number - 1, year);
        prop_assert_eq!(shown, year);
        prop_assert_eq!(label_suffix.as_str(), suffix(year_type));
        prop_assert_eq!(gregorian(year, year_type), format!("{year}{}", suffix(year_type)));
    }

    /// The short era form is the label without the Gregorian year, except calendar 2019, which
    /// was 平成31年 until 30 April and 令和元年 after.
    #[test]
    fn era_year_is_the_label_without_its_gregorian_year(year in SHOWA..=2300, year_type in any_year_type()) {
        let short = era_year(year, year_type);
        if year == 2019 && year_type == YearType::Calendar {
            prop_assert_eq!(short, "平成31年/令和元年");
        } else {
            prop_assert_eq!(short, label(year, year_type).replace(&format!("({year})"), ""));
        }
    }

    /// Labels of any year a person might type are made without a panic.
    #[test]
    fn era_labels_never_panic(year in -100_000i32..=100_000, year_type in any_year_type()) {
        let full = label(year, year_type);
        let shown = format!("({year})");
        prop_assert!(full.contains(&shown), "{}", full);
        prop_assert!(!era_year(year, year_type).is_empty());
        prop_assert!(!gregorian(year, year_type).is_empty());
    }

    /// Every year a KPI may name (the validator accepts 1900–2100) gets an era that existed that
    /// year, with an era year of at least 元 (1).
    #[test]
    fn every_year_a_kpi_may_name_gets_a_real_era_year(year in YEARS, year_type in any_year_type()) {
        let text = label(year, year_type);
        let (_, era_number, _, _) = parse_label(&text);
        prop_assert!(era_number >= 1, "{} for {}", text, year);
    }
}

// ---------------------------------------------------------------------------------------------
// KPI decimals, direction and progress

/// A decimal as the validator accepts it, with its exact value as (mantissa, places).
fn exact_decimal(max_digits: u32) -> impl Strategy<Value = (String, i128, u32)> {
    (any::<bool>(), 0..10i128.pow(max_digits), 0u32..=6).prop_map(|(negative, mantissa, places)| {
        let mantissa = if negative { -mantissa } else { mantissa };
        let digits = format!("{:0>width$}", mantissa.abs(), width = places as usize + 1);
        let (whole, fraction) = digits.split_at(digits.len() - places as usize);
        let sign = if mantissa < 0 { "-" } else { "" };
        let text = if places == 0 {
            format!("{sign}{whole}")
        } else {
            format!("{sign}{whole}.{fraction}")
        };
        (text, mantissa, places)
    })
}

fn accepted_by_validator(text: &str) -> bool {
    let mut checks = Checks::default();
    checks.decimal("value", text);
    checks.finish().is_ok()
}

/// Compares two exact decimals.
fn compare_exact(a: (i128, u32), b: (i128, u32)) -> std::cmp::Ordering {
    let places = a.1.max(b.1);
    (a.0 * 10i128.pow(places - a.1)).cmp(&(b.0 * 10i128.pow(places - b.1)))
}

proptest! {
    #![proptest_config(config(256))]

    /// Every decimal the validator accepts becomes a JSON number: an integer when written
    /// without places, else the nearest double; it is never null.
    #[test]
    fn decimal_value_reads_every_decimal_the_validator_accepts(
        text in "-?(0|[1-9][0-9]{0,17})(\\.[0-9]{1,18})?",
    ) {
        prop_assert!(accepted_by_validator(&text), "the generator writes valid decimals: {}", text);
        let number = decimal_value(&text);
        prop_assert!(number.is_some(), "{}", text);
        let number = number.unwrap();
        if text.contains('.') {
            prop_assert_eq!(number.as_f64(), Some(text.parse::<f64>().unwrap()));
            prop_assert!(!number.is_i64() && !number.is_u64(), "{} as {}", text, number);
        } else {
            prop_assert_eq!(number.as_i64(), Some(text.parse::<i64>().unwrap()));
        }
    }

    /// Text without a digit ("—", "－", "NaN", "inf", words) is refused by the validator and is
    /// no number: null, never a JSON number that is not one.
    #[test]
    fn decimal_value_gives_no_number_for_text_without_digits(
        text in prop_oneof!["[^0-9]{0,8}", Just("NaN".to_string()), Just("-inf".to_string()), Just("—".to_string())],
    ) {
        prop_assert!(!accepted_by_validator(&text));
        prop_assert_eq!(decimal_value(&text), None);
    }

    /// The direction is the way from the baseline to the target, by value (not by spelling:
    /// 100.0 and 100 are the same); without a baseline a KPI can only grow.
    #[test]
    fn direction_is_the_way_from_baseline_to_target(
        baseline in exact_decimal(15), target in exact_decimal(15), trailing in 0usize..3,
    ) {
        let expected = match compare_exact((target.1, target.2), (baseline.1, baseline.2)) {
            std::cmp::Ordering::Greater => Direction::Increase,
            std::cmp::Ordering::Less => Direction::Decrease,
            std::cmp::Ordering::Equal => Direction::Maintain,
        };
        prop_assert_eq!(direction(Some(&baseline.0), Some(&target.0)), expected);
        prop_assert_eq!(direction(Some(&baseline.0), Some(&baseline.0)), Direction::Maintain);
        // The same value spelt with more places.
        let respelt = if baseline.0.contains('.') {
            format!("{}{}", baseline.0, "0".repeat(trailing))
        } else {
            format!("{}.{}", baseline.0, "0".repeat(trailing + 1))
        };
        prop_assert_eq!(direction(Some(&baseline.0), Some(&respelt)), Direction::Maintain);
        prop_assert_eq!(direction(None, Some(&target.0)), Direction::Increase);
    }
}

/// A KPI plan that moves from `baseline` to `target` (different), over at least a year.
fn moving_plan() -> impl Strategy<Value = Plan> {
    (
        -1_000_000i64..1_000_000,
        1i64..1_000_000,
        any::<bool>(),
        2000i32..2030,
        1i32..12,
    )
        .prop_map(|(baseline, distance, decrease, baseline_year, span)| {
            let target = if decrease {
                baseline - distance
            } else {
                baseline + distance
            };
            Plan {
                direction: if decrease {
                    Direction::Decrease
                } else {
                    Direction::Increase
                },
                baseline: Some(baseline as f64),
                target: Some(target as f64),
                baseline_year,
                target_year: baseline_year + span,
            }
        })
}

fn at(plan: &Plan, year: i32, value: f64) -> Computed {
    compute(plan, Some(Latest::Value { year, value }))
}

fn any_scheme() -> impl Strategy<Value = Vec<GradeStep>> {
    (
        prop::collection::btree_set(-300i32..300, 0..8),
        prop::collection::btree_set("[A-Z◎○△×]{1,3}", 10),
    )
        .prop_map(|(thresholds, names)| {
            let names: Vec<String> = names.into_iter().collect();
            let mut mins: Vec<Option<f64>> = thresholds.iter().rev().map(|t| Some(f64::from(*t) / 100.0)).collect();
            mins.push(None);
            mins.into_iter()
                .zip(names)
                .map(|(min, grade)| GradeStep { grade, min })
                .collect()
        })
}

proptest! {
    #![proptest_config(config(256))]

    /// Achievement is 0 at the baseline and 1 (100 %) at the target, rising or falling; reaching
    /// the target is `achieved`.
    #[test]
    fn achievement_is_zero_at_baseline_and_one_at_target(plan in moving_plan(), year_offset in 0i32..12) {
        let year = plan.baseline_year + year_offset;
        let start = at(&plan, year, plan.baseline.unwrap());
        prop_assert_eq!(start.achievement, Some(0.0));
        let end = at(&plan, year, plan.target.unwrap());
        prop_assert_eq!(end.achievement, Some(1.0));
        prop_assert_eq!(end.status, Status::Achieved);
    }

    /// k/n of the way from baseline to target is an achievement of k/n (to 4 places).
    #[test]
    fn achievement_is_the_share_of_the_way_travelled(plan in moving_plan(), n in 1i32..=20, k in 0i32..=25) {
        let (baseline, target) = (plan.baseline.unwrap(), plan.target.unwrap());
        let value = baseline + (target - baseline) * f64::from(k) / f64::from(n);
        let achievement = at(&plan, plan.target_year, value).achievement.unwrap();
        prop_assert!((achievement - f64::from(k) / f64::from(n)).abs() <= 0.00005 + 1e-9, "{}", achievement);
    }

    /// Moving the result the KPI's way never lowers its achievement; the other way never raises it.
    #[test]
    fn achievement_is_monotonic_in_the_kpis_direction(
        plan in moving_plan(), a in -3_000_000i64..3_000_000, b in -3_000_000i64..3_000_000,
    ) {
        let (low, high) = (a.min(b) as f64, a.max(b) as f64);
        let year = plan.target_year;
        let (of_low, of_high) = (at(&plan, year, low).achievement.unwrap(), at(&plan, year, high).achievement.unwrap());
        match plan.direction {
            Direction::Increase => prop_assert!(of_low <= of_high, "{} → {}, {} → {}", low, of_low, high, of_high),
            _ => prop_assert!(of_low >= of_high, "{} → {}, {} → {}", low, of_low, high, of_high),
        }
    }

    /// A KPI to maintain is met (1) while at least its target; below, its share of the target.
    /// Without a baseline the achievement is the share of the target. Both rise with the result.
    #[test]
    fn maintained_and_baseline_less_kpis_rise_with_the_result(
        target in 1i64..100_000, a in 0i64..200_000, b in 0i64..200_000, baseline_year in 2000i32..2030,
    ) {
        let target = target as f64;
        let maintain = Plan {
            direction: Direction::Maintain,
            baseline: Some(target),
            target: Some(target),
            baseline_year,
            target_year: baseline_year + 6,
        };
        let no_baseline = Plan { direction: Direction::Increase, baseline: None, ..maintain };
        let (low, high) = (a.min(b) as f64, a.max(b) as f64);
        for plan in [maintain, no_baseline] {
            let of_low = at(&plan, baseline_year + 1, low).achievement.unwrap();
            let of_high = at(&plan, baseline_year + 1, high).achievement.unwrap();
            prop_assert!(of_low <= of_high);
        }
        let of_value = at(&maintain, baseline_year + 1, low);
        if low >= target {
            prop_assert_eq!(of_value.achievement, Some(1.0));
            prop_assert_eq!(of_value.status, Status::Achieved);
        } else {
            prop_assert!((of_value.achievement.unwrap() - low / target).abs() <= 0.00005 + 1e-12);
            prop_assert_eq!(of_value.status, Status::Behind, "maintaining is expected all along");
        }
        prop_assert!((at(&no_baseline, baseline_year, low).achievement.unwrap() - low / target).abs() <= 0.00005 + 1e-12);
    }

    /// The expected rate is 0 up to the baseline year, 1 from the target year, and rises by the
    /// same step every year between; a KPI to maintain is expected at 1 throughout. `compute`
    /// reports it to 4 places.
    #[test]
    fn expected_progress_is_linear_between_the_years_and_clamped(plan in moving_plan(), year in 1990i32..2060) {
        let span = f64::from(plan.target_year - plan.baseline_year);
        let rate = expected(&plan, year);
        if year <= plan.baseline_year {
            prop_assert_eq!(rate, 0.0);
        } else if year >= plan.target_year {
            prop_assert_eq!(rate, 1.0);
        } else {
            let step = rate - expected(&plan, year - 1);
            prop_assert!((step - 1.0 / span).abs() < 1e-12, "step {} over {} years", step, span);
        }
        prop_assert!((0.0..=1.0).contains(&rate));
        let reported = at(&plan, year, plan.baseline.unwrap()).expected.unwrap();
        prop_assert!((reported - rate).abs() <= 0.00005 + 1e-12);
        let maintain = Plan { direction: Direction::Maintain, ..plan };
        prop_assert_eq!(expected(&maintain, year), 1.0);
        let backwards = Plan { target_year: plan.baseline_year, ..plan };
        prop_assert_eq!(expected(&backwards, year), 1.0);
    }

    /// Status: `achieved` at 100 % or more, else `on_track` when at least the expected rate, else
    /// `behind` (away from the rounding of the reported rates); no result is `no_data`, a result
    /// not measurable `not_measurable`, both without an achievement.
    #[test]
    fn status_follows_achievement_and_expected_rate(
        plan in moving_plan(), year_offset in -2i32..14, share in -0.5f64..1.5,
    ) {
        let (baseline, target) = (plan.baseline.unwrap(), plan.target.unwrap());
        let year = plan.baseline_year + year_offset;
        let computed = at(&plan, year, baseline + (target - baseline) * share);
        let (achievement, expected) = (computed.achievement.unwrap(), computed.expected.unwrap());
        prop_assume!((achievement - 1.0).abs() > 0.0001 && (achievement - expected).abs() > 0.0001);
        let status = if achievement >= 1.0 {
            Status::Achieved
        } else if achievement >= expected {
            Status::OnTrack
        } else {
            Status::Behind
        };
        prop_assert_eq!(computed.status, status);
        let none = compute(&plan, None);
        prop_assert_eq!((none.achievement, none.expected, none.status), (None, None, Status::NoData));
        let skipped = compute(&plan, Some(Latest::NotMeasurable { year }));
        prop_assert_eq!((skipped.achievement, skipped.status), (None, Status::NotMeasurable));
    }

    /// What a user reads agrees with itself: the reported (rounded) achievement is at least 1 when
    /// and only when the status is `achieved`, `on_track` means the reported achievement is at
    /// least the reported expected rate and `behind` below it, and grade A of the default scheme
    /// (100 % or more) comes with `achieved`. Results a hair short of the target, as large
    /// targets give (79,999 of 80,000), are where this can break.
    #[test]
    fn status_and_grade_agree_with_the_reported_rates(
        baseline in 0i64..10, distance in 1i64..3_000_000, short_by in 0i64..5, span in 1i32..8, year in 0i32..8,
    ) {
        let plan = Plan {
            direction: Direction::Increase,
            baseline: Some(baseline as f64),
            target: Some((baseline + distance) as f64),
            baseline_year: 2019,
            target_year: 2019 + span,
        };
        let computed = at(&plan, 2019 + year.min(span), (baseline + distance - short_by) as f64);
        let (achievement, expected) = (computed.achievement.unwrap(), computed.expected.unwrap());
        let graded = grade(&default_scheme(), computed.achievement);
        prop_assert_eq!(
            achievement >= 1.0,
            computed.status == Status::Achieved,
            "achievement {} expected {} status {:?} grade {:?}", achievement, expected, computed.status, graded
        );
        match computed.status {
            Status::OnTrack => prop_assert!(achievement >= expected, "on track at {} of {}", achievement, expected),
            Status::Behind => prop_assert!(achievement < expected, "behind at {} of {}", achievement, expected),
            _ => {}
        }
        prop_assert_eq!(graded.as_deref() == Some("A"), computed.status == Status::Achieved);
    }

    /// A grade is the first step whose threshold the achievement reaches: at or above its `min`
    /// and below the previous step's; a higher achievement never gets a lower grade.
    #[test]
    fn grades_follow_the_schemes_thresholds(scheme in any_scheme(), a in -4.0f64..4.0, b in -4.0f64..4.0) {
        prop_assert_eq!(scheme_problem(&scheme), None);
        let index_of = |achievement: f64| {
            let given = grade(&scheme, Some(achievement)).expect("a complete scheme grades everything");
            scheme.iter().position(|step| step.grade == given).unwrap()
        };
        let index = index_of(a);
        prop_assert!(scheme[index].min.is_none_or(|min| a >= min));
        if index > 0 {
            prop_assert!(a < scheme[index - 1].min.unwrap());
        }
        for step in &scheme {
            if let Some(min) = step.min {
                prop_assert_eq!(&grade(&scheme, Some(min)).unwrap(), &step.grade, "exactly at the threshold");
            }
        }
        let (low, high) = (a.min(b), a.max(b));
        prop_assert!(index_of(high) <= index_of(low));
        prop_assert_eq!(grade(&scheme, None), None);
        // The default: A from 100 %, B from 80 %, C from 50 %, D below.
        let expected = if a >= 1.0 { "A" } else if a >= 0.8 { "B" } else if a >= 0.5 { "C" } else { "D" };
        let default = default_scheme();
        let given = grade(&default, Some(a));
        prop_assert_eq!(given.as_deref(), Some(expected));
    }

    /// A scheme is refused when its thresholds do not descend, when its last step has a
    /// threshold, or when a grade appears twice.
    #[test]
    fn unusable_schemes_are_refused(scheme in any_scheme(), pick in any::<prop::sample::Index>()) {
        let mut last_bounded = scheme.clone();
        last_bounded.last_mut().unwrap().min = Some(-10.0);
        prop_assert!(scheme_problem(&last_bounded).is_some_and(|problem| problem.contains("last grade")));

        let mut twice = scheme.clone();
        twice.push(GradeStep { grade: scheme[0].grade.clone(), min: None });
        let at = twice.len() - 2;
        twice[at].min = Some(-10.0);
        prop_assert!(scheme_problem(&twice).is_some_and(|problem| problem.contains("twice")), "{:?}", twice);

        let bounded = scheme.len() - 1;
        if bounded >= 2 {
            let mut swapped = scheme.clone();
            let i = pick.index(bounded - 1);
            let (first, second) = (swapped[i].min, swapped[i + 1].min);
            swapped[i].min = second;
            swapped[i + 1].min = first;
            let problem = scheme_problem(&swapped);
            prop_assert!(problem.as_deref().is_some_and(|problem| problem.contains("descending")), "{:?}", swapped);
        }
    }
}
