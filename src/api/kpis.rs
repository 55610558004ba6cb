//! `/kpis`: key performance indicators with their baselines and targets.

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{collection, utc, Collection, CommonParams, PageParams, QueryParams};
use crate::db::kpis::{self as store, KpiFilter, KpiRow};
use crate::db::Database;
use crate::domain::era;
use crate::domain::kpi::{decimal_value, Direction, YearType};
use crate::error::{ApiError, ItemErrors, ListErrors};

/// A KPI (重要業績評価指標) of an initiative.
#[derive(Debug, Serialize, ToSchema)]
pub struct Kpi {
    #[schema(example = 1)]
    pub id: i64,
    /// `goal-measure-initiative-position`.
    #[schema(example = "1-1-1-1")]
    pub code: String,
    #[schema(example = 1)]
    pub plan_id: i64,
    #[schema(example = 1)]
    pub initiative_id: i64,
    /// The name as published.
    #[schema(example = "国内友好都市との交流活動件数")]
    pub name: String,
    /// Unit as published: 件, 人, %, 社, 団体, 地区, m, m²/人.
    #[schema(example = "件")]
    pub unit: String,
    /// Whether the figure is a running total (累計).
    #[schema(example = false)]
    pub cumulative: bool,
    /// Which way the KPI must move from baseline to target, derived from the two.
    pub direction: Direction,
    /// The value when the strategy was drawn up (現状値).
    pub baseline: Measurement,
    /// The value to reach (目標値).
    pub target: Measurement,
    /// When this record last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A baseline or target: the value as published and the year it refers to.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"value": 99.1, "value_text": "99.10", "year": 2026, "year_type": "fiscal", "label": "令和8(2026)年度"}))]
pub struct Measurement {
    /// The value as a number; null where the document gives "—" (not measured).
    #[schema(value_type = Option<f64>)]
    pub value: Option<serde_json::Number>,
    /// The exact published decimal, keeping its places ("99.10"), without thousands separators.
    pub value_text: Option<String>,
    /// Gregorian year.
    pub year: i32,
    /// `fiscal` (年度, April to March) or `calendar` (年).
    pub year_type: YearType,
    /// The year as the document writes it.
    pub label: String,
}

impl Measurement {
    fn new(value_text: Option<String>, year: i32, year_type: &str) -> Self {
        // The column only ever holds values written through `YearType::as_str`.
        let year_type = year_type.parse().unwrap_or(YearType::Fiscal);
        Measurement {
            value: value_text.as_deref().and_then(decimal_value),
            value_text,
            year,
            year_type,
            label: era::label(year, year_type),
        }
    }
}

impl From<KpiRow> for Kpi {
    fn from(row: KpiRow) -> Self {
        Kpi {
            id: row.id,
            code: row.code,
            plan_id: row.plan_id,
            initiative_id: row.initiative_id,
            name: row.name,
            unit: row.unit,
            cumulative: row.cumulative,
            direction: row.direction.parse().unwrap_or(Direction::Increase),
            baseline: Measurement::new(
                row.baseline_value,
                row.baseline_year,
                &row.baseline_year_type,
            ),
            target: Measurement::new(row.target_value, row.target_year, &row.target_year_type),
            updated_at: utc(row.updated_at),
        }
    }
}

/// Filters of KPIs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiParams {
    /// Only KPIs under this goal (its id).
    #[param(example = 1, minimum = 1)]
    pub goal: Option<i64>,
    /// Only KPIs under this measure (its id).
    #[param(example = 1, minimum = 1)]
    pub measure: Option<i64>,
    /// Only KPIs of this initiative (its id).
    #[param(example = 1, minimum = 1)]
    pub initiative: Option<i64>,
    /// Words in the name: matched after NFKC normalisation, case folding and katakana/hiragana folding,
    /// so ｱﾕｺ, アユコ and あゆこ find the same KPIs.
    #[param(example = "件数")]
    pub q: Option<String>,
}

/// List KPIs.
#[utoipa::path(
    tag = "kpis",
    params(KpiParams, CommonParams, PageParams),
    responses((status = 200, description = "A page of KPIs", body = Collection<Kpi>), ListErrors)
)]
#[get("/kpis")]
pub async fn list(db: web::Data<Database>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::parse(request.query_string())?;
    let filter = KpiFilter {
        common: params.common()?,
        goal: params.id("goal")?,
        measure: params.id("measure")?,
        initiative: params.id("initiative")?,
        q: params.text("q")?,
    };
    let page = params.page()?;
    params.finish()?;
    let listing = db.run(move |conn| store::list(conn, &filter, page)).await?;
    Ok(collection::<_, Kpi>(&request, page, listing))
}

/// Get one KPI.
#[utoipa::path(
    tag = "kpis",
    params(("id" = i64, Path, description = "KPI id", example = 1)),
    responses((status = 200, description = "The KPI", body = Kpi), ItemErrors)
)]
#[get("/kpis/{id}")]
pub async fn get(db: web::Data<Database>, id: web::Path<i64>) -> Result<web::Json<Kpi>, ApiError> {
    let id = id.into_inner();
    let row = db.run(move |conn| store::get(conn, id)).await?;
    Ok(web::Json(row.into()))
}
