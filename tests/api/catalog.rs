//! The DCAT catalogue and the plan's catalogue fields (rdflib and frictionless check the
//! catalogue's content in scripts/catalog; here: addresses, names, stability and the fields' rules).

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, failing_fields, refused_fields, seeded_database, spawn_tuned_app_on, token};

const PUBLIC: &str = "https://data.city.example.jp";

on_both_backends! {
    /// Portals get Turtle and JSON-LD under the configured public address, the dataset named by the
    /// plan's code (not its database id), the same bytes on every read; unknown parameters are refused.
    async fn the_catalog_names_datasets_by_code_under_the_public_address(backend) {
        let app = spawn_tuned_app_on(&seeded_database(backend), |config| {
            config.public_base_url = Some(PUBLIC.into())
        })
        .await;
        let plan_id = app.json("/api/v1/plans").await["items"][0]["id"].as_i64().unwrap();
        let response = app.get("/catalog.ttl").await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/turtle; charset=utf-8");
        let etag = response.headers()["etag"].to_str().unwrap().to_string();
        let turtle = response.text().await.unwrap();
        assert!(turtle.contains(&format!("<{PUBLIC}/catalog#dataset-atsugi-2>")), "{turtle}");
        assert!(turtle.contains(&format!("<{PUBLIC}/plans/{plan_id}>")), "the landing page is the report page");
        assert!(turtle.contains("<http://data.e-stat.go.jp/lod/sac/C14212>"));
        assert!(turtle.contains("ライセンスは設定されていません"), "no licence is invented");
        let again = app.get("/catalog.ttl").await;
        assert_eq!(again.headers()["etag"].to_str().unwrap(), etag, "the same data, the same bytes");

        let response = app.get("/catalog.jsonld").await;
        assert_eq!(response.headers()["content-type"], "application/ld+json");
        let document: Value = response.json().await.unwrap();
        assert_eq!(document["@context"]["dcat"], "http://www.w3.org/ns/dcat#", "the context is inline");
        let ids: Vec<&str> = document["@graph"].as_array().unwrap().iter().filter_map(|node| node["@id"].as_str()).collect();
        assert!(ids.contains(&format!("{PUBLIC}/catalog#dataset-atsugi-2").as_str()), "{ids:?}");
        assert!(ids.contains(&format!("{PUBLIC}/catalog").as_str()));

        let problem = assert_problem(app.get("/catalog.ttl?page=2").await, 400).await;
        assert!(problem["detail"].as_str().unwrap().contains("page"), "{problem}");
        let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        for (accept, target) in [
            ("application/ld+json", "/catalog.jsonld"),
            ("text/turtle;q=0.5, application/ld+json", "/catalog.jsonld"),
            ("application/ld+json;q=0, */*", "/catalog.ttl"),
            ("text/*", "/catalog.ttl"),
        ] {
            let see_other = no_redirects.get(app.url("/catalog")).header("Accept", accept).send().await.unwrap();
            assert_eq!(see_other.status(), 303, "{accept}");
            assert_eq!(see_other.headers()["location"], format!("{PUBLIC}{target}").as_str(), "{accept}");
        }
        // A Host that is no host and port falls back rather than breaking the IRIs.
        let odd_host = reqwest::Client::new();
        let plain = spawn_tuned_app_on(&seeded_database(backend), |_| {}).await;
        for host in ["x:y", "]"] {
            let response = odd_host.get(plain.url("/catalog.ttl")).header("Host", host).send().await.unwrap();
            assert_eq!(response.status(), 200, "Host: {host}");
            assert!(response.text().await.unwrap().contains("<http://localhost/catalog#dataset-atsugi-2>"));
        }
    }
}

on_both_backends! {
    /// Admins keep what the catalogue says of a plan; a bad address, a keyword with the CSV
    /// separator or a repeated keyword is refused with the field named, and nothing changes.
    async fn admins_keep_the_catalogue_fields_of_a_plan(backend) {
        let app = spawn_tuned_app_on(&seeded_database(backend), |_| {}).await;
        let admin = token(&["admin"], None);
        let plan_id = app.json("/api/v1/plans").await["items"][0]["id"].as_i64().unwrap();
        let path = format!("/api/v1/plans/{plan_id}");
        let before = app.json(&path).await;
        assert_eq!(before["keywords"][0], "地方創生", "the bundled plan has keywords");
        assert_eq!(before["contact_email"], Value::Null);

        let bad = app
            .send(Method::PATCH, &path, Some(&admin), Some(&app.etag(&path).await), Some(&json!({
                "contact_email": "kikaku at city",
                "contact_url": "ftp://city.example.jp/",
                "keywords": ["地方創生;総合戦略"],
            })))
            .await;
        assert_eq!(failing_fields(bad).await, ["contact_email", "contact_url", "keywords[0]"]);
        let repeated = app
            .send(Method::PATCH, &path, Some(&admin), Some(&app.etag(&path).await), Some(&json!({"keywords": ["KPI", "KPI"]})))
            .await;
        assert_eq!(refused_fields(repeated).await, ["keywords[1]"]);
        assert_eq!(app.json(&path).await, before, "nothing was written");

        let changes = json!({
            "description": "厚木市の総合戦略のKPIと事業。",
            "keywords": ["KPI", "厚木市"],
            "contact_name": "政策部企画政策課",
            "contact_email": "kikaku@city.example.jp",
            "contact_url": "https://www.city.example.jp/contact/",
        });
        let changed = app.send(Method::PATCH, &path, Some(&admin), Some(&app.etag(&path).await), Some(&changes)).await;
        assert_eq!(changed.status(), 200);
        let plan = app.json(&path).await;
        for (field, value) in changes.as_object().unwrap() {
            assert_eq!(&plan[field], value, "{field}");
        }
        let turtle = app.get("/catalog.ttl").await.text().await.unwrap();
        assert!(turtle.contains("<mailto:kikaku@city.example.jp>"), "{turtle}");
        assert!(turtle.contains("<https://www.city.example.jp/contact/>"), "{turtle}");
        // An address the url crate takes but an IRI may not hold is encoded, never a 500.
        let odd = json!({"contact_url": "https://www.city.example.jp/a{b}|c^d"});
        let changed = app.send(Method::PATCH, &path, Some(&admin), Some(&app.etag(&path).await), Some(&odd)).await;
        assert_eq!(changed.status(), 200);
        let response = app.get("/catalog.ttl").await;
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().contains("<https://www.city.example.jp/a%7Bb%7D%7Cc%5Ed>"));
        assert!(turtle.contains("\"厚木市の総合戦略のKPIと事業。\"@ja"));
        let export = app.json(&format!("/api/v1/plans/{plan_id}/export")).await;
        assert_eq!(export["plan"]["keywords"], json!(["KPI", "厚木市"]), "the export keeps them for an import");
    }
}

on_both_backends! {
    /// A record names its IRI (its address) in `Link: rel="canonical"`; asked for JSON-LD, it is the
    /// same JSON with `@context`, `@id` and `@type`, and so is every item of a collection; the
    /// context and the vocabulary page it points to are served, the page naming every field.
    async fn records_read_as_linked_data_under_their_iris(backend) {
        let app = spawn_tuned_app_on(&seeded_database(backend), |config| {
            config.public_base_url = Some(PUBLIC.into())
        })
        .await;
        let kpi = app.json("/api/v1/kpis?code=1-1-1-1").await["items"][0].clone();
        let path = format!("/api/v1/kpis/{}", kpi["id"]);
        let iri = format!("{PUBLIC}{path}");
        let plain = app.get(&path).await;
        assert_eq!(plain.headers()["link"], format!("<{iri}>; rel=\"canonical\"").as_str());
        assert_eq!(plain.headers()["content-type"], "application/json");
        let plain_etag = plain.headers()["etag"].clone();
        let plain: Value = plain.json().await.unwrap();

        let linked = app.client.get(app.url(&path)).header("Accept", "application/ld+json").send().await.unwrap();
        assert_eq!(linked.headers()["content-type"], "application/ld+json");
        let linked_etag = linked.headers()["etag"].to_str().unwrap().to_string();
        assert_ne!(linked_etag, plain_etag, "another representation, another validator");
        let linked: Value = linked.json().await.unwrap();
        assert_eq!(linked["@context"], format!("{PUBLIC}/api/v1/context.jsonld"));
        assert_eq!(linked["@id"], iri);
        assert_eq!(linked["@type"], "Kpi");
        let mut fields = linked.as_object().unwrap().clone();
        for key in ["@context", "@id", "@type"] {
            fields.remove(key);
        }
        assert_eq!(Value::Object(fields), plain, "the same fields as the JSON");

        let plan_id = app.json("/api/v1/plans").await["items"][0]["id"].clone();
        let plan = app.client.get(app.url(&format!("/api/v1/plans/{plan_id}"))).header("Accept", "application/ld+json").send().await.unwrap();
        let plan: Value = plan.json().await.unwrap();
        assert_eq!(plan["spatial"], "http://data.e-stat.go.jp/lod/sac/C14212", "the municipality's area code URI");

        let page = app.client.get(app.url("/api/v1/kpis?limit=2")).header("Accept", "application/ld+json").send().await.unwrap();
        let page: Value = page.json().await.unwrap();
        assert_eq!(page["@id"], format!("{PUBLIC}/api/v1/kpis?limit=2"));
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert!(items.iter().all(|item| item["@id"] == format!("{PUBLIC}/api/v1/kpis/{}", item["id"]) && item["@type"] == "Kpi"));
        let json_first = app.get("/api/v1/kpis?limit=2").await.headers()["content-type"].clone();
        assert_eq!(json_first, "application/json", "plain JSON stays the default");

        // Either representation's tag names the record's state for a write.
        let rename = json!({"name": format!("{}（改）", kpi["name"].as_str().unwrap())});
        let admin = token(&["admin"], None);
        let renamed = app.send(Method::PATCH, &path, Some(&admin), Some(&linked_etag), Some(&rename)).await;
        assert_eq!(renamed.status(), 200, "PATCH under the JSON-LD's ETag");
        let stale = app.send(Method::PATCH, &path, Some(&admin), Some(&linked_etag), Some(&rename)).await;
        assert_problem(stale, 412).await;

        let context = app.json("/api/v1/context.jsonld").await;
        assert_eq!(context["@context"]["@vocab"], format!("{PUBLIC}/vocab#"));
        assert_eq!(context["@context"]["name"], "schema:name");
        let vocabulary = app.get("/vocab").await;
        assert_eq!(vocabulary.status(), 200);
        let vocabulary = vocabulary.text().await.unwrap();
        for field in plain.as_object().unwrap().keys() {
            assert!(vocabulary.contains(&format!("id=\"{field}\"")), "/vocab defines {field}");
        }
        assert!(vocabulary.contains("id=\"Kpi\""));
    }
}

/// The dataset's `dct:modified` in the JSON-LD catalogue.
async fn dataset_modified(app: &crate::helpers::TestApp) -> String {
    let document = app.json("/catalog.jsonld").await;
    let dataset = document["@graph"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["@id"].as_str().is_some_and(|id| id.ends_with("#dataset-atsugi-2")))
        .expect("the dataset")
        .clone();
    dataset["http://purl.org/dc/terms/modified"][0]["@value"]
        .as_str()
        .unwrap()
        .to_string()
}

on_both_backends! {
    /// A harvester re-reads a dataset when its `dct:modified` moves: a new result moves it, and so
    /// does deleting that result, though nothing of it is left in the plan's tables.
    async fn a_deletion_moves_the_datasets_modified_time(backend) {
        let app = spawn_tuned_app_on(&seeded_database(backend), |_| {}).await;
        let admin = token(&["admin"], None);
        let before = dataset_modified(&app).await;
        // The catalogue gives times to the second.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let path = "/api/v1/kpis/1/results/2023";
        let created = app.send(Method::PUT, path, Some(&admin), None, Some(&json!({"value": "25"}))).await;
        assert_eq!(created.status(), 201);
        let recorded = dataset_modified(&app).await;
        assert!(recorded > before, "{recorded} after {before}");
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let deleted = app.send(Method::DELETE, path, Some(&admin), Some(&app.etag(path).await), None).await;
        assert_eq!(deleted.status(), 204);
        let after = dataset_modified(&app).await;
        assert!(after > recorded, "{after} after {recorded}");
    }
}
