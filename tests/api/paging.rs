use std::collections::HashSet;

use crate::helpers::spawn_app;

on_both_backends! {
    /// Pages carry `total`, `limit`, `offset` and `Link` headers that walk the whole collection.
    async fn link_headers_walk_every_page(backend) {
        let app = spawn_app(backend).await;
        let first = app.get("/api/v1/projects?limit=50&department=9").await;
        assert!(first.headers().get("link").is_none(), "one page only");

        let mut next = Some("/api/v1/projects?limit=50".to_string());
        let mut seen = HashSet::new();
        let mut pages = 0;
        while let Some(path) = next.take() {
            let response = app.get(&path).await;
            let link = response.headers().get("link").map(|v| v.to_str().unwrap().to_string());
            let page: serde_json::Value = response.json().await.unwrap();
            assert_eq!(page["total"], 147);
            assert_eq!(page["limit"], 50);
            assert_eq!(page["offset"], pages * 50);
            for item in page["items"].as_array().unwrap() {
                assert!(seen.insert(item["id"].as_i64().unwrap()), "id repeated across pages");
            }
            if pages > 0 {
                let prev = format!("</api/v1/projects?limit=50&offset={}>; rel=\"prev\"", (pages - 1) * 50);
                assert!(link.as_deref().unwrap_or("").contains(&prev), "{link:?}");
            }
            next = link.as_deref().and_then(|link| {
                link.split(", ").find(|part| part.ends_with("rel=\"next\"")).map(|part| {
                    part.trim_start_matches('<').split('>').next().unwrap().to_string()
                })
            });
            pages += 1;
        }
        assert_eq!(pages, 3);
        assert_eq!(seen.len(), 147);

        let page = app.json("/api/v1/kpis").await;
        assert_eq!(page["limit"], 50);
        assert_eq!(page["items"].as_array().unwrap().len(), 45);
        let past_the_end = app.json("/api/v1/kpis?offset=1000").await;
        assert_eq!(past_the_end["items"].as_array().unwrap().len(), 0);
        assert_eq!(past_the_end["total"], 45);
    }
}
