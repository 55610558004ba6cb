//! The DCAT catalogue (DCAT-AP 3.0.1) that data portals harvest: one `dcat:Dataset` per plan, with
//! a `dcat:Distribution` per form the service serves it in. One RDF graph, written as Turtle or as
//! JSON-LD (oxttl and oxjsonld, so both say exactly the same triples).
//!
//! IRIs are built from the public base URL and each plan's code, never from database ids, so that a
//! rebuilt database describes the same datasets under the same names; the download URLs, which are
//! addresses rather than names, carry the ids the API uses.

use chrono::{NaiveDate, NaiveDateTime};
use oxrdf::vocab::{rdf, rdfs, xsd};
use oxrdf::{Literal, NamedNode, NamedNodeRef, Term, Triple};

use crate::api::plans::Plan;
use crate::error::ApiError;

const DCAT: &str = "http://www.w3.org/ns/dcat#";
const DCT: &str = "http://purl.org/dc/terms/";
const FOAF: &str = "http://xmlns.com/foaf/0.1/";
const VCARD: &str = "http://www.w3.org/2006/vcard/ns#";
const EU: &str = "http://publications.europa.eu/resource/authority/";
const DCATAP: &str = "http://data.europa.eu/r5r/";
const SKOS: &str = "http://www.w3.org/2004/02/skos/core#";

/// The class DCAT-AP gives the range of a property whose value is an IRI: each such value is
/// typed in the graph, as the DCAT-AP range shapes check.
const RANGES: &[(&str, &str)] = &[
    (
        "http://purl.org/dc/terms/language",
        "http://purl.org/dc/terms/LinguisticSystem",
    ),
    ("http://purl.org/dc/terms/spatial", "http://purl.org/dc/terms/Location"),
    (
        "http://purl.org/dc/terms/accrualPeriodicity",
        "http://purl.org/dc/terms/Frequency",
    ),
    (
        "http://purl.org/dc/terms/format",
        "http://purl.org/dc/terms/MediaTypeOrExtent",
    ),
    (
        "http://purl.org/dc/terms/conformsTo",
        "http://purl.org/dc/terms/Standard",
    ),
    (
        "http://purl.org/dc/terms/type",
        "http://www.w3.org/2004/02/skos/core#Concept",
    ),
    (
        "http://www.w3.org/ns/dcat#mediaType",
        "http://purl.org/dc/terms/MediaType",
    ),
    (
        "http://www.w3.org/ns/dcat#theme",
        "http://www.w3.org/2004/02/skos/core#Concept",
    ),
    (
        "http://www.w3.org/ns/dcat#themeTaxonomy",
        "http://www.w3.org/2004/02/skos/core#ConceptScheme",
    ),
    (
        "http://www.w3.org/ns/dcat#landingPage",
        "http://xmlns.com/foaf/0.1/Document",
    ),
    (
        "http://xmlns.com/foaf/0.1/homepage",
        "http://xmlns.com/foaf/0.1/Document",
    ),
    ("http://xmlns.com/foaf/0.1/page", "http://xmlns.com/foaf/0.1/Document"),
    (
        "http://data.europa.eu/r5r/availability",
        "http://www.w3.org/2004/02/skos/core#Concept",
    ),
];

/// The prefixes both serialisations declare.
const PREFIXES: &[(&str, &str)] = &[
    ("dcat", DCAT),
    ("dct", DCT),
    ("foaf", FOAF),
    ("vcard", VCARD),
    ("dcatap", DCATAP),
    ("skos", SKOS),
    ("rdfs", "http://www.w3.org/2000/01/rdf-schema#"),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
];

/// What a dataset conforms to: the profile of the package inside `export.zip`.
pub const DATA_PACKAGE_PROFILE: &str = "https://datapackage.org/profiles/2.0/datapackage.json";

/// Said when a plan has no licence, rather than inventing one.
const NO_LICENCE_JA: &str = "ライセンスは設定されていません。再利用の前に公開者へ確認してください。";
const NO_LICENCE_EN: &str = "No licence has been set for this data: ask the publisher before reusing it.";

/// One plan as the catalogue describes it.
pub struct Entry {
    pub plan: Plan,
    /// The newest change of the plan or of any record in it.
    pub modified: NaiveDateTime,
    /// When the plan's record was made, for `dct:issued` where the document states no date.
    pub created: NaiveDateTime,
}

/// A form a plan is served in.
struct Form {
    key: &'static str,
    title: &'static str,
    path: String,
    media_type: &'static str,
    /// The EU file-type authority's code.
    format: &'static str,
    /// What the bytes conform to (a schema or profile), when there is one.
    conforms_to: Option<String>,
}

/// The collections a plan's records can be listed from as CSV, each with its Table Schema.
pub const COLLECTIONS: &[(&str, &str)] = &[
    ("goals", "基本目標の一覧（CSV）"),
    ("measures", "具体的な施策の一覧（CSV）"),
    ("initiatives", "主な取組の一覧（CSV）"),
    ("kpis", "重要業績評価指標（KPI）の一覧（CSV）"),
    ("projects", "事業の一覧（CSV）"),
    ("departments", "部の一覧（CSV）"),
    ("divisions", "担当課の一覧（CSV）"),
];

fn forms(plan: &Plan, base: &str) -> Vec<Form> {
    let id = plan.id;
    let mut forms = vec![
        Form {
            key: "export-json",
            title: "計画全体（JSON）",
            path: format!("/api/v1/plans/{id}/export"),
            media_type: "application/json",
            format: "JSON",
            conforms_to: Some(format!("{base}/api/v1/schemas/plan-export.json")),
        },
        Form {
            key: "export-zip",
            title: "表ごとのCSV一式とデータパッケージ（ZIP）",
            path: format!("/api/v1/plans/{id}/export.zip"),
            media_type: "application/zip",
            format: "ZIP",
            conforms_to: Some(DATA_PACKAGE_PROFILE.into()),
        },
        Form {
            key: "report-xlsx",
            title: "KPI一覧（Excel）",
            path: format!("/api/v1/plans/{id}/report.xlsx"),
            media_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            format: "XLSX",
            conforms_to: None,
        },
    ];
    forms.extend(COLLECTIONS.iter().map(|(collection, title)| Form {
        key: collection,
        title,
        path: format!("/api/v1/{collection}?plan={id}&limit=all&format=csv"),
        media_type: "text/csv",
        format: "CSV",
        conforms_to: Some(format!("{base}/api/v1/schemas/{collection}.json")),
    }));
    forms
}

/// The plan's description for catalogues and search engines: the one an admin gave, else one
/// made from the document's own facts.
pub fn description(plan: &Plan) -> String {
    plan.description.clone().unwrap_or_else(|| {
        format!(
            "{}{}の「{}」（{}年度～{}年度）の基本目標、具体的な施策、重要業績評価指標（KPI）と事業の一覧です。出典：{}",
            plan.prefecture,
            plan.municipality_name,
            plan.name,
            plan.period_start_year,
            plan.period_end_year,
            plan.document_title
        )
    })
}

/// Who publishes a plan's data: the publisher it states, else its municipality.
pub fn publisher(plan: &Plan) -> &str {
    plan.publisher.as_deref().unwrap_or(&plan.municipality_name)
}

/// The e-Stat standard area code URI of the plan's municipality (its 5-digit code).
pub fn area_iri(plan: &Plan) -> String {
    area_iri_of(&plan.municipality_code_5digit)
}

/// The e-Stat standard area code URI of a 5-digit local government code.
pub fn area_iri_of(code: &str) -> String {
    format!("http://data.e-stat.go.jp/lod/sac/C{code}")
}

/// The fiscal years of a plan as dates: 1 April of the first to 31 March after the last.
pub fn period(plan: &Plan) -> (NaiveDate, NaiveDate) {
    let date = |year: i32, month, day| NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default();
    (
        date(plan.period_start_year, 4, 1),
        date(plan.period_end_year + 1, 3, 31),
    )
}

/// A text made safe as the last part of an IRI.
fn iri_part(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The catalogue's triples, sorted (by their N-Triples form) and without repeats: the same data
/// gives the same bytes, hence the same ETag on every instance.
pub struct Triples(Vec<Triple>);

#[derive(Default)]
struct Builder {
    triples: Vec<Triple>,
}

impl Builder {
    fn add(&mut self, subject: &NamedNode, predicate: impl Into<NamedNode>, object: impl Into<Term>) {
        self.triples
            .push(Triple::new(subject.clone(), predicate.into(), object.into()));
    }

    fn finish(self) -> Triples {
        let mut keyed: Vec<(String, Triple)> = self
            .triples
            .into_iter()
            .map(|triple| (triple.to_string(), triple))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.dedup_by(|a, b| a.0 == b.0);
        Triples(keyed.into_iter().map(|(_, triple)| triple).collect())
    }

    fn add_iri(&mut self, subject: &NamedNode, predicate: impl Into<NamedNode>, object: &str) -> Result<(), ApiError> {
        let (predicate, object) = (predicate.into(), node(object)?);
        if let Some((_, class)) = RANGES.iter().find(|(property, _)| *property == predicate.as_str()) {
            self.add(&object, rdf::TYPE, NamedNode::new_unchecked(*class));
        }
        self.add(subject, predicate, object);
        Ok(())
    }

    /// A term of a controlled vocabulary, with the labels DCAT-AP asks of a `skos:Concept` (or the
    /// title of a `skos:ConceptScheme`), so that a harvester need not fetch the vocabulary.
    fn label(&mut self, iri: &str, predicate: NamedNode, labels: [(&str, &str); 2]) -> Result<(), ApiError> {
        let subject = node(iri)?;
        for (text, language) in labels {
            self.text(&subject, predicate.clone(), text, language);
        }
        Ok(())
    }

    fn text(&mut self, subject: &NamedNode, predicate: impl Into<NamedNode>, text: &str, language: &str) {
        let literal = Literal::new_language_tagged_literal_unchecked(text, language);
        self.add(subject, predicate, literal);
    }

    fn typed(&mut self, subject: &NamedNode, predicate: impl Into<NamedNode>, value: String, datatype: NamedNodeRef) {
        self.add(subject, predicate, Literal::new_typed_literal(value, datatype));
    }

    fn time(&mut self, subject: &NamedNode, predicate: impl Into<NamedNode>, time: NaiveDateTime) {
        let value = time.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        self.typed(subject, predicate, value, xsd::DATE_TIME);
    }

    /// The licence, or a plain statement that there is none.
    fn licence(&mut self, subject: &NamedNode, plan: &Plan, base: &str) -> Result<(), ApiError> {
        let code = iri_part(&plan.code);
        match (&plan.licence, &plan.licence_url) {
            (None, None) => {
                let rights = node(&format!("{base}/catalog#rights-{code}"))?;
                self.add(subject, term(DCT, "rights"), rights.clone());
                self.add(&rights, rdf::TYPE, term(DCT, "RightsStatement"));
                self.text(&rights, rdfs::LABEL, NO_LICENCE_JA, "ja");
                self.text(&rights, rdfs::LABEL, NO_LICENCE_EN, "en");
            }
            (name, url) => {
                let licence = match url.as_deref().and_then(stored_iri) {
                    Some(url) => url,
                    None => node(&format!("{base}/catalog#licence-{code}"))?,
                };
                self.add(subject, term(DCT, "license"), licence.clone());
                self.add(&licence, rdf::TYPE, term(DCT, "LicenseDocument"));
                if let Some(name) = name {
                    self.text(&licence, rdfs::LABEL, name, "ja");
                }
            }
        }
        Ok(())
    }
}

fn term(namespace: &str, name: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{namespace}{name}"))
}

fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(error.to_string())
}

/// A URL an admin stored, as an IRI: the url crate's form of it with the few characters an IRI
/// may not hold percent-encoded; `None` (and a log line) if even that is not an IRI, so that one
/// odd address leaves out one triple rather than the whole catalogue.
fn stored_iri(url: &str) -> Option<NamedNode> {
    let normalised = url::Url::parse(url).ok()?.to_string();
    let mut iri = String::with_capacity(normalised.len());
    let bytes = normalised.as_bytes();
    for (index, character) in normalised.char_indices() {
        let stray_percent = character == '%'
            && !(bytes.len() > index + 2
                && bytes[index + 1].is_ascii_hexdigit()
                && bytes[index + 2].is_ascii_hexdigit());
        if stray_percent || character.is_control() || "\"<>\\^`{|}".contains(character) {
            let mut buffer = [0; 4];
            for byte in character.encode_utf8(&mut buffer).bytes() {
                iri.push_str(&format!("%{byte:02X}"));
            }
        } else {
            iri.push(character);
        }
    }
    let node = NamedNode::new(iri).ok();
    if node.is_none() {
        log::warn!("the catalogue leaves out {url:?}: not an IRI even when encoded");
    }
    node
}

fn node(iri: &str) -> Result<NamedNode, ApiError> {
    NamedNode::new(iri).map_err(|error| ApiError::Internal(format!("not an IRI: {iri}: {error}")))
}

/// The catalogue of every plan (`entries` in id order), its IRIs under `base`.
pub fn graph(entries: &[Entry], base: &str) -> Result<Triples, ApiError> {
    let mut builder = Builder::default();
    let catalog = node(&format!("{base}/catalog"))?;
    builder.add(&catalog, rdf::TYPE, term(DCAT, "Catalog"));
    // The catalogue is published by its first plan's publisher (a deployment serves one city).
    let owner = entries.first().map(|entry| &entry.plan);
    let title = match owner {
        Some(plan) => format!("{}まち・ひと・しごと創生総合戦略データカタログ", plan.municipality_name),
        None => "まち・ひと・しごと創生総合戦略データカタログ".into(),
    };
    builder.text(&catalog, term(DCT, "title"), &title, "ja");
    builder.text(
        &catalog,
        term(DCT, "title"),
        "Regional revitalization strategy data catalogue",
        "en",
    );
    builder.text(
        &catalog,
        term(DCT, "description"),
        "まち・ひと・しごと創生総合戦略の基本目標、施策、重要業績評価指標（KPI）、年度ごとの実績と事業を、JSON・CSV・Excelで提供するデータセットの一覧です。",
        "ja",
    );
    builder.text(
        &catalog,
        term(DCT, "description"),
        "Datasets of regional revitalization strategies: their goals, measures, KPIs with yearly results, and projects, as JSON, CSV and Excel.",
        "en",
    );
    builder.add_iri(&catalog, term(FOAF, "homepage"), &format!("{base}/"))?;
    builder.add_iri(&catalog, term(DCT, "language"), &format!("{EU}language/JPN"))?;
    builder.add_iri(&catalog, term(DCAT, "themeTaxonomy"), &format!("{EU}data-theme"))?;
    builder.label(
        &format!("{EU}data-theme"),
        term(DCT, "title"),
        [("データテーマ", "ja"), ("Data theme", "en")],
    )?;
    if let Some(issued) = entries.iter().map(|entry| entry.created).min() {
        builder.time(&catalog, term(DCT, "issued"), issued);
    }
    if let Some(modified) = entries.iter().map(|entry| entry.modified).max() {
        builder.time(&catalog, term(DCT, "modified"), modified);
    }
    if let Some(plan) = owner {
        let publisher = publisher_node(&mut builder, plan, base)?;
        builder.add(&catalog, term(DCT, "publisher"), publisher);
        builder.add_iri(&catalog, term(DCT, "spatial"), &area_iri(plan))?;
        builder.licence(&catalog, plan, base)?;
    }
    for entry in entries {
        let dataset = dataset(&mut builder, entry, base)?;
        builder.add(&catalog, term(DCAT, "dataset"), dataset);
    }
    Ok(builder.finish())
}

fn publisher_node(builder: &mut Builder, plan: &Plan, base: &str) -> Result<NamedNode, ApiError> {
    // One agent per municipality and name: two plans of one city naming different publishers
    // are two agents, never one with two names.
    let publisher = node(&format!(
        "{base}/catalog#publisher-{}-{}",
        iri_part(&plan.municipality_code),
        iri_part(self::publisher(plan))
    ))?;
    builder.add(&publisher, rdf::TYPE, term(FOAF, "Organization"));
    builder.add(&publisher, rdf::TYPE, term(FOAF, "Agent"));
    builder.text(&publisher, term(FOAF, "name"), self::publisher(plan), "ja");
    builder.add(
        &publisher,
        term(DCT, "identifier"),
        Literal::new_simple_literal(&plan.municipality_code),
    );
    let local_authority = "http://purl.org/adms/publishertype/LocalAuthority";
    builder.add_iri(&publisher, term(DCT, "type"), local_authority)?;
    builder.label(
        local_authority,
        term(SKOS, "prefLabel"),
        [("地方公共団体", "ja"), ("Local Authority", "en")],
    )?;
    builder.add_iri(&publisher, term(DCT, "spatial"), &area_iri(plan))?;
    Ok(publisher)
}

fn dataset(builder: &mut Builder, entry: &Entry, base: &str) -> Result<NamedNode, ApiError> {
    let plan = &entry.plan;
    let code = iri_part(&plan.code);
    let dataset = node(&format!("{base}/catalog#dataset-{code}"))?;
    builder.add(&dataset, rdf::TYPE, term(DCAT, "Dataset"));
    builder.text(&dataset, term(DCT, "title"), &plan.name, "ja");
    builder.text(&dataset, term(DCT, "description"), &description(plan), "ja");
    builder.add(
        &dataset,
        term(DCT, "identifier"),
        Literal::new_simple_literal(&plan.code),
    );
    for keyword in &plan.keywords {
        builder.text(&dataset, term(DCAT, "keyword"), keyword, "ja");
    }
    builder.add_iri(&dataset, term(DCAT, "theme"), &format!("{EU}data-theme/GOVE"))?;
    builder.label(
        &format!("{EU}data-theme/GOVE"),
        term(SKOS, "prefLabel"),
        [("政府・公共部門", "ja"), ("Government and public sector", "en")],
    )?;
    builder.add_iri(&dataset, term(DCT, "language"), &format!("{EU}language/JPN"))?;
    builder.add_iri(&dataset, term(DCT, "spatial"), &area_iri(plan))?;
    builder.add_iri(
        &dataset,
        term(DCT, "accrualPeriodicity"),
        &format!("{EU}frequency/ANNUAL"),
    )?;
    let publisher = publisher_node(builder, plan, base)?;
    builder.add(&dataset, term(DCT, "publisher"), publisher);

    let temporal = node(&format!("{base}/catalog#period-{code}"))?;
    let (start, end) = period(plan);
    builder.add(&dataset, term(DCT, "temporal"), temporal.clone());
    builder.add(&temporal, rdf::TYPE, term(DCT, "PeriodOfTime"));
    builder.typed(&temporal, term(DCAT, "startDate"), start.to_string(), xsd::DATE);
    builder.typed(&temporal, term(DCAT, "endDate"), end.to_string(), xsd::DATE);

    if plan.contact_name.is_some() || plan.contact_email.is_some() || plan.contact_url.is_some() {
        let contact = node(&format!("{base}/catalog#contact-{code}"))?;
        builder.add(&dataset, term(DCAT, "contactPoint"), contact.clone());
        builder.add(&contact, rdf::TYPE, term(VCARD, "Organization"));
        builder.add(&contact, rdf::TYPE, term(VCARD, "Kind"));
        let name = plan.contact_name.as_deref().unwrap_or(self::publisher(plan));
        builder.text(&contact, term(VCARD, "fn"), name, "ja");
        if let Some(email) = &plan.contact_email {
            builder.add_iri(&contact, term(VCARD, "hasEmail"), &format!("mailto:{email}"))?;
        }
        if let Some(url) = plan.contact_url.as_deref().and_then(stored_iri) {
            builder.add(&contact, term(VCARD, "hasURL"), url);
        }
    }

    let landing = format!("{base}/plans/{}", plan.id);
    builder.add_iri(&dataset, term(DCAT, "landingPage"), &landing)?;
    builder.add_iri(&dataset, term(DCT, "conformsTo"), DATA_PACKAGE_PROFILE)?;
    // The published document the data comes from (`dct:source` would name a dcat:Dataset).
    if let Some(source) = plan.source_url.as_deref().and_then(stored_iri) {
        builder.add_iri(&dataset, term(FOAF, "page"), source.as_str())?;
    }
    match plan
        .published_on
        .as_deref()
        .and_then(|date| NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
    {
        Some(published) => builder.typed(&dataset, term(DCT, "issued"), published.to_string(), xsd::DATE),
        None => builder.time(&dataset, term(DCT, "issued"), entry.created),
    }
    builder.time(&dataset, term(DCT, "modified"), entry.modified);
    builder.licence(&dataset, plan, base)?;

    for form in forms(plan, base) {
        let distribution = node(&format!("{base}/catalog#dataset-{code}-{}", form.key))?;
        builder.add(&dataset, term(DCAT, "distribution"), distribution.clone());
        builder.add(&distribution, rdf::TYPE, term(DCAT, "Distribution"));
        builder.text(&distribution, term(DCT, "title"), form.title, "ja");
        builder.text(
            &distribution,
            term(DCT, "description"),
            &format!("{}の{}。", plan.name, form.title),
            "ja",
        );
        let stable = format!("{EU}planned-availability/STABLE");
        builder.add_iri(&distribution, term(DCATAP, "availability"), &stable)?;
        builder.label(&stable, term(SKOS, "prefLabel"), [("安定", "ja"), ("Stable", "en")])?;
        let url = format!("{base}{}", form.path);
        builder.add_iri(&distribution, term(DCAT, "accessURL"), &url)?;
        builder.add_iri(&distribution, term(DCAT, "downloadURL"), &url)?;
        builder.add_iri(
            &distribution,
            term(DCAT, "mediaType"),
            &format!("https://www.iana.org/assignments/media-types/{}", form.media_type),
        )?;
        builder.add_iri(
            &distribution,
            term(DCT, "format"),
            &format!("{EU}file-type/{}", form.format),
        )?;
        if let Some(schema) = &form.conforms_to {
            builder.add_iri(&distribution, term(DCT, "conformsTo"), schema)?;
        }
        builder.time(&distribution, term(DCT, "modified"), entry.modified);
        builder.licence(&distribution, plan, base)?;
    }
    Ok(dataset)
}

/// The graph as Turtle.
pub fn turtle(graph: &Triples) -> Result<Vec<u8>, ApiError> {
    let mut serializer = oxttl::TurtleSerializer::new();
    for (prefix, namespace) in PREFIXES {
        serializer = serializer.with_prefix(*prefix, *namespace).map_err(internal)?;
    }
    let mut writer = serializer.for_writer(Vec::new());
    for triple in &graph.0 {
        writer.serialize_triple(triple).map_err(internal)?;
    }
    writer.finish().map_err(internal)
}

/// The graph as JSON-LD, its context inline (prefixes only: nothing to fetch).
pub fn json_ld(graph: &Triples) -> Result<Vec<u8>, ApiError> {
    let mut serializer = oxjsonld::JsonLdSerializer::new();
    for (prefix, namespace) in PREFIXES {
        serializer = serializer.with_prefix(*prefix, *namespace).map_err(internal)?;
    }
    let mut writer = serializer.for_writer(Vec::new());
    for triple in &graph.0 {
        writer
            .serialize_quad(triple.as_ref().in_graph(oxrdf::GraphNameRef::DefaultGraph))
            .map_err(internal)?;
    }
    writer.finish().map_err(internal)
}
