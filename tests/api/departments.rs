use crate::helpers::{assert_problem, spawn_app};

on_both_backends! {
    /// Sixteen departments with their divisions; a division names its department.
    async fn departments_come_with_their_divisions(backend) {
        let app = spawn_app(backend).await;
        let departments = app.all("/api/v1/departments").await;
        assert_eq!(departments.len(), 16);
        let divisions: usize = departments.iter().map(|d| d["divisions"].as_array().unwrap().len()).sum();
        assert_eq!(divisions, 47);
        let children = departments.iter().find(|d| d["name"] == "こども未来部").unwrap();
        let names: Vec<&str> = children["divisions"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["こども育成課", "保育課", "子育て給付課", "子育て支援センター", "青少年課"]);
        assert!(departments.iter().all(|d| d["name"] != "子ども未来部"));
        let one = app.json(&format!("/api/v1/departments/{}", children["id"])).await;
        assert_eq!(&one, children);
        assert_problem(app.get("/api/v1/departments/999999").await, 404).await;
    }
}

on_both_backends! {
    /// Divisions filter by department and carry it.
    async fn divisions_filter_by_department(backend) {
        let app = spawn_app(backend).await;
        assert_eq!(app.all("/api/v1/divisions").await.len(), 47);
        let safety = app.json("/api/v1/departments?code=D12").await["items"][0].clone();
        assert_eq!(safety["name"], "協働安全部");
        let divisions = app.all(&format!("/api/v1/divisions?department={}", safety["id"])).await;
        let names: Vec<&str> = divisions.iter().map(|d| d["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["市民協働推進課", "文化生涯学習課", "セーフコミュニティくらし安全課", "交通安全課"]);
        assert!(divisions.iter().all(|d| d["department"]["name"] == "協働安全部" && d["department_id"] == safety["id"]));
        let one = app.json(&format!("/api/v1/divisions/{}", divisions[2]["id"])).await;
        assert_eq!(one, divisions[2]);
        assert_problem(app.get("/api/v1/divisions/0").await, 404).await;
    }
}
