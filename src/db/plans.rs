//! Plans: the strategy documents, and the corrections made to their published text.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{audit_log, plans, source_corrections};
use super::{find_row, load_page, DbConnection, Listing, Page};
use crate::error::ApiError;

super::sortable!(
    PLAN_SORT,
    sort_plans,
    plans,
    [id, code, name, period_start_year, period_end_year, updated_at]
);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = plans)]
pub struct PlanRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub document_title: String,
    pub municipality_code: String,
    pub municipality_name: String,
    pub prefecture: String,
    pub period_start_year: i32,
    pub period_end_year: i32,
    pub grading_scheme: Option<String>,
    pub publisher: Option<String>,
    pub source_url: Option<String>,
    pub published_on: Option<String>,
    pub licence: Option<String>,
    pub licence_url: Option<String>,
    pub version: i64,
    pub updated_at: NaiveDateTime,
    pub description: Option<String>,
    /// A JSON array of strings.
    pub keywords: String,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_url: Option<String>,
}

impl PlanRow {
    pub fn keywords(&self) -> Vec<String> {
        serde_json::from_str(&self.keywords).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = source_corrections)]
pub struct CorrectionRow {
    pub record: String,
    pub field: String,
    pub published: String,
    pub normalised: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct PlanFilter {
    pub code: Option<String>,
}

fn filtered(filter: &PlanFilter) -> plans::BoxedQuery<'static, super::Db> {
    let mut query = plans::table.into_boxed();
    if let Some(code) = &filter.code {
        query = query.filter(plans::code.eq(code.clone()));
    }
    query
}

pub fn list(conn: &mut DbConnection, filter: &PlanFilter, page: Page) -> Result<Listing<PlanRow>, ApiError> {
    Ok(load_page!(conn, filtered(filter), PlanRow, sort_plans, page))
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<(PlanRow, Vec<CorrectionRow>), ApiError> {
    let plan = find_row!(conn, plans, PlanRow, "plan", id);
    let corrections = source_corrections::table
        .filter(source_corrections::plan_id.eq(id))
        .order(source_corrections::id)
        .select(CorrectionRow::as_select())
        .load(conn)?;
    Ok((plan, corrections))
}

pub fn id_of_code(conn: &mut DbConnection, code: &str) -> Result<Option<i64>, ApiError> {
    Ok(plans::table
        .filter(plans::code.eq(code))
        .select(plans::id)
        .first(conn)
        .optional()?)
}

pub fn code_of(conn: &mut DbConnection, id: i64) -> Result<Option<String>, ApiError> {
    Ok(plans::table.find(id).select(plans::code).first(conn).optional()?)
}

pub fn exists(conn: &mut DbConnection, id: i64) -> Result<bool, ApiError> {
    Ok(plans::table
        .find(id)
        .select(plans::id)
        .first::<i64>(conn)
        .optional()?
        .is_some())
}

/// Keywords a plan may have.
pub const MAX_KEYWORDS: usize = 20;

/// Editable fields of a plan.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanForm {
    /// Unique over all plans.
    #[schema(example = "atsugi-3", min_length = 1, max_length = 50)]
    pub code: String,
    #[schema(
        example = "第3期厚木市まち・ひと・しごと創生総合戦略",
        min_length = 1,
        max_length = 200
    )]
    pub name: String,
    #[schema(
        example = "第3期厚木市まち・ひと・しごと創生総合戦略 基本目標別重要業績評価指標（KPI）及び事業一覧",
        min_length = 1,
        max_length = 200
    )]
    pub document_title: String,
    /// Six-digit local government code with its check digit.
    #[schema(example = "142123", pattern = "^[0-9]{6}$")]
    pub municipality_code: String,
    #[schema(example = "厚木市", min_length = 1, max_length = 200)]
    pub municipality_name: String,
    #[schema(example = "神奈川県", min_length = 1, max_length = 200)]
    pub prefecture: String,
    #[schema(example = 2027, minimum = 1900, maximum = 2100)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub period_start_year: i32,
    #[schema(example = 2031, minimum = 1900, maximum = 2100)]
    #[serde(deserialize_with = "crate::domain::input::integer::deserialize")]
    pub period_end_year: i32,
    /// Grades by achievement rate, highest first; the last has `min: null`. Omitted or null: A–D.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 10)]
    pub grading_scheme: Option<Vec<crate::domain::progress::GradeStep>>,
    /// Who publishes the data set.
    #[serde(default)]
    #[schema(example = "厚木市", min_length = 1, max_length = 200)]
    pub publisher: Option<String>,
    /// Where the source document is published: an http or https URL.
    #[serde(default)]
    #[schema(
        max_length = 2000,
        pattern = "^https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?::[0-9]{1,4})?(?:[/?#][^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*)?$"
    )]
    pub source_url: Option<String>,
    /// When the source document was published (YYYY-MM-DD).
    #[serde(default)]
    #[schema(example = "2021-03-31", format = Date)]
    pub published_on: Option<String>,
    /// The licence of the data, e.g. CC BY 4.0.
    #[serde(default)]
    #[schema(example = "CC BY 4.0", min_length = 1, max_length = 200)]
    pub licence: Option<String>,
    /// Where the licence is stated: an http or https URL.
    #[serde(default)]
    #[schema(
        example = "https://creativecommons.org/licenses/by/4.0/deed.ja",
        max_length = 2000,
        pattern = "^https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?::[0-9]{1,4})?(?:[/?#][^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*)?$"
    )]
    pub licence_url: Option<String>,
    /// What the data set holds, for data catalogues (null: the catalogue describes it from the
    /// document's title and period).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 2000)]
    pub description: Option<String>,
    /// Keywords for data catalogues (キーワード), each at most 50 characters, no two alike.
    #[serde(default)]
    #[schema(max_items = 20, example = json!(["地方創生", "総合戦略", "KPI"]))]
    pub keywords: Vec<Keyword>,
    /// Whom to ask about the data (a division's name), for data catalogues.
    #[serde(default)]
    #[schema(example = "政策部企画政策課", min_length = 1, max_length = 200)]
    pub contact_name: Option<String>,
    #[serde(default)]
    #[schema(
        example = "kikaku@city.example.jp",
        max_length = 254,
        pattern = "^[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}$"
    )]
    pub contact_email: Option<String>,
    /// A contact form or page: an http or https URL.
    #[serde(default)]
    #[schema(
        max_length = 2000,
        pattern = "^https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?::[0-9]{1,4})?(?:[/?#][^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*)?$"
    )]
    pub contact_url: Option<String>,
}

/// One keyword of a plan: text without `;`, which joins keywords in a CSV cell.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Keyword(pub String);

impl utoipa::PartialSchema for Keyword {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use crate::domain::validate::{keyword_pattern, MAX_CODE};
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX_CODE))
            .pattern(Some(keyword_pattern()))
            .examples(["地方創生"])
            .into()
    }
}

impl utoipa::ToSchema for Keyword {}

/// A correction of the published text, as the plan's source states it.
pub struct Correction<'a> {
    pub record: &'a str,
    pub field: &'a str,
    pub published: &'a str,
    pub normalised: &'a str,
    pub reason: &'a str,
}

pub fn add_correction(conn: &mut DbConnection, plan_id: i64, correction: &Correction) -> Result<(), ApiError> {
    diesel::insert_into(source_corrections::table)
        .values((
            source_corrections::plan_id.eq(plan_id),
            source_corrections::record.eq(correction.record),
            source_corrections::field.eq(correction.field),
            source_corrections::published.eq(correction.published),
            source_corrections::normalised.eq(correction.normalised),
            source_corrections::reason.eq(correction.reason),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn validate(conn: &mut DbConnection, form: &PlanForm, id: Option<i64>) -> Result<(), ApiError> {
    use crate::domain::validate::{Checks, MAX_CODE, MAX_DESCRIPTION, MAX_NAME};
    let mut checks = Checks::default();
    checks.text("code", &form.code, MAX_CODE);
    checks.text("name", &form.name, MAX_NAME);
    checks.text("document_title", &form.document_title, MAX_NAME);
    checks.text("municipality_name", &form.municipality_name, MAX_NAME);
    checks.text("prefecture", &form.prefecture, MAX_NAME);
    let code = &form.municipality_code;
    if code.len() != 6 || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        checks.fail(
            "municipality_code",
            "must be the 6-digit local government code, like \"142123\"",
        );
    } else if !crate::domain::validate::is_local_government_code(code) {
        checks.refuse(
            "municipality_code",
            "has a wrong check digit: the 6th digit checks the first five",
        );
    }
    if let Some(publisher) = &form.publisher {
        checks.text("publisher", publisher, MAX_NAME);
    }
    if let Some(licence) = &form.licence {
        checks.text("licence", licence, MAX_NAME);
    }
    if let Some(description) = &form.description {
        checks.text("description", description, MAX_DESCRIPTION);
    }
    for (index, keyword) in form.keywords.iter().enumerate() {
        let field = format!("keywords[{index}]");
        checks.text(&field, &keyword.0, MAX_CODE);
        if keyword.0.contains(';') {
            checks.fail(&field, "must not contain `;`, which separates keywords in CSV");
        }
        if form.keywords[..index].contains(keyword) {
            checks.refuse(&field, "repeats an earlier keyword");
        }
    }
    if form.keywords.len() > MAX_KEYWORDS {
        checks.fail("keywords", format!("must have at most {MAX_KEYWORDS} keywords"));
    }
    if let Some(name) = &form.contact_name {
        checks.text("contact_name", name, MAX_NAME);
    }
    if let Some(email) = &form.contact_email {
        checks.email("contact_email", email);
    }
    for (field, url) in [
        ("source_url", &form.source_url),
        ("licence_url", &form.licence_url),
        ("contact_url", &form.contact_url),
    ] {
        if let Some(url) = url {
            checks.url(field, url);
        }
    }
    if let Some(date) = &form.published_on {
        if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
            checks.fail("published_on", "must be a date like 2021-03-31");
        }
    }
    checks.year("period_start_year", form.period_start_year);
    checks.year("period_end_year", form.period_end_year);
    if let Some(scheme) = form.grading_scheme.as_deref() {
        // Its size and each grade's text are the document's bounds; the order of the steps a rule.
        let bounds_met = (1..=crate::domain::progress::MAX_GRADES).contains(&scheme.len())
            && scheme
                .iter()
                .all(|step| crate::domain::progress::grade_text_fits(&step.grade));
        if let Some(problem) = crate::domain::progress::scheme_problem(scheme) {
            if bounds_met {
                checks.refuse("grading_scheme", problem);
            } else {
                checks.fail("grading_scheme", problem);
            }
        }
    }
    if form.period_end_year < form.period_start_year {
        checks.refuse("period_end_year", "must not be before period_start_year");
    }
    let mut taken = plans::table
        .filter(plans::code.eq(&form.code))
        .select(plans::id)
        .into_boxed();
    if let Some(id) = id {
        taken = taken.filter(plans::id.ne(id));
    }
    if taken.first::<i64>(conn).optional()?.is_some() {
        checks.refuse("code", "is already used by another plan");
    }
    checks.finish()
}

/// The columns a plan form sets, alike on insert and update.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = plans, treat_none_as_null = true)]
struct PlanChanges<'a> {
    code: &'a str,
    name: &'a str,
    document_title: &'a str,
    municipality_code: &'a str,
    municipality_name: &'a str,
    prefecture: &'a str,
    period_start_year: i32,
    period_end_year: i32,
    grading_scheme: Option<String>,
    publisher: Option<&'a str>,
    source_url: Option<&'a str>,
    published_on: Option<&'a str>,
    licence: Option<&'a str>,
    licence_url: Option<&'a str>,
    description: Option<&'a str>,
    keywords: String,
    contact_name: Option<&'a str>,
    contact_email: Option<&'a str>,
    contact_url: Option<&'a str>,
    updated_at: NaiveDateTime,
}

impl<'a> PlanChanges<'a> {
    fn new(form: &'a PlanForm) -> Self {
        PlanChanges {
            code: &form.code,
            name: &form.name,
            document_title: &form.document_title,
            municipality_code: &form.municipality_code,
            municipality_name: &form.municipality_name,
            prefecture: &form.prefecture,
            period_start_year: form.period_start_year,
            period_end_year: form.period_end_year,
            grading_scheme: form
                .grading_scheme
                .as_ref()
                .and_then(|scheme| serde_json::to_string(scheme).ok()),
            publisher: form.publisher.as_deref(),
            source_url: form.source_url.as_deref(),
            published_on: form.published_on.as_deref(),
            licence: form.licence.as_deref(),
            licence_url: form.licence_url.as_deref(),
            description: form.description.as_deref(),
            keywords: serde_json::to_string(&form.keywords).unwrap_or_else(|_| "[]".into()),
            contact_name: form.contact_name.as_deref(),
            contact_email: form.contact_email.as_deref(),
            contact_url: form.contact_url.as_deref(),
            updated_at: super::now(),
        }
    }
}

pub fn insert(conn: &mut DbConnection, form: &PlanForm) -> Result<i64, ApiError> {
    let changes = PlanChanges::new(form);
    let created_at = changes.updated_at;
    diesel::insert_into(plans::table)
        .values((changes, plans::created_at.eq(created_at)))
        .execute(conn)?;
    Ok(plans::table
        .filter(plans::code.eq(&form.code))
        .select(plans::id)
        .first(conn)?)
}

pub fn update(conn: &mut DbConnection, id: i64, form: &PlanForm) -> Result<(), ApiError> {
    diesel::update(plans::table.find(id))
        .set((PlanChanges::new(form), plans::version.eq(plans::version + 1)))
        .execute(conn)?;
    Ok(())
}

pub fn dependents(conn: &mut DbConnection, id: i64) -> Result<Vec<String>, ApiError> {
    use super::count_of;
    use super::schema::{departments, goals, projects};
    Ok(super::dependents(&[
        (count_of!(conn, goals, plan_id, id), "goals"),
        (count_of!(conn, projects, plan_id, id), "projects"),
        (count_of!(conn, departments, plan_id, id), "departments"),
    ]))
}

/// Deletes a plan with nothing left in it (and its list of source corrections, which is part of it).
pub fn delete(conn: &mut DbConnection, id: i64) -> Result<(), ApiError> {
    diesel::delete(source_corrections::table.filter(source_corrections::plan_id.eq(id))).execute(conn)?;
    diesel::delete(plans::table.find(id)).execute(conn)?;
    Ok(())
}

/// Every plan, in id order, with when its record was made and the newest change of it or of
/// any record in it (what a data catalogue calls issued and modified).
pub fn with_times(conn: &mut DbConnection) -> Result<Vec<(PlanRow, NaiveDateTime, NaiveDateTime)>, ApiError> {
    #[derive(QueryableByName)]
    struct Times {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        plan_id: i64,
        #[diesel(sql_type = diesel::sql_types::Timestamp)]
        modified: NaiveDateTime,
    }
    let mut times: std::collections::HashMap<i64, NaiveDateTime> = diesel::sql_query(
        "SELECT plan_id, MAX(changed) AS modified FROM ( \
           SELECT id AS plan_id, updated_at AS changed FROM plans \
           UNION ALL SELECT plan_id, updated_at FROM departments \
           UNION ALL SELECT plan_id, updated_at FROM divisions \
           UNION ALL SELECT plan_id, updated_at FROM goals \
           UNION ALL SELECT plan_id, updated_at FROM measures \
           UNION ALL SELECT plan_id, updated_at FROM initiatives \
           UNION ALL SELECT plan_id, updated_at FROM kpis \
           UNION ALL SELECT plan_id, updated_at FROM projects \
           UNION ALL SELECT k.plan_id, r.updated_at FROM kpi_results r JOIN kpis k ON k.id = r.kpi_id \
           UNION ALL SELECT k.plan_id, v.revised_at FROM kpi_target_revisions v JOIN kpis k ON k.id = v.kpi_id \
           UNION ALL SELECT plan_id, created_at FROM evaluations \
         ) AS changes GROUP BY plan_id",
    )
    .load::<Times>(conn)?
    .into_iter()
    .map(|times| (times.plan_id, times.modified))
    .collect();
    // A deletion changes a plan too, though its row is gone: the audit record keeps what was
    // deleted, with its plan (a result, with its KPI).
    let deletions: Vec<(String, i64, Option<String>, NaiveDateTime)> = audit_log::table
        .filter(audit_log::operation.eq("delete"))
        .select((
            audit_log::resource,
            audit_log::record_id,
            audit_log::before_json,
            audit_log::occurred_at,
        ))
        .load(conn)?;
    for (resource, record_id, before, at) in deletions {
        if let Some(plan) = super::write::plan_of_change(conn, &resource, record_id, before.as_deref())? {
            let newest = times.entry(plan).or_insert(at);
            *newest = (*newest).max(at);
        }
    }
    let plans: Vec<(PlanRow, NaiveDateTime)> = plans::table
        .order(plans::id)
        .select((PlanRow::as_select(), plans::created_at))
        .load(conn)?;
    Ok(plans
        .into_iter()
        .map(|(plan, created)| {
            let modified = times.get(&plan.id).copied().unwrap_or(plan.updated_at);
            (plan, created, modified)
        })
        .collect())
}
