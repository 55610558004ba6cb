use std::time::Duration;

use strategy_api::dataset::Dataset;
use strategy_api::db::seed::{self, SeedOutcome};
use strategy_api::db::{self, Database};

use crate::helpers::{fresh_database, seeded_database, spawn_app_on};

fn open(url: &str) -> Database {
    Database::new(url, 2, Duration::from_secs(10))
}

on_both_backends! {
    /// Seeding twice leaves one copy; first start seeds only an empty database.
    async fn seeding_is_idempotent(backend) {
        let url = seeded_database(backend);
        let database = open(&url);
        let again = database.run_blocking(|conn| seed::seed(conn, &Dataset::atsugi_2())).unwrap();
        assert!(matches!(again, SeedOutcome::AlreadyPresent { .. }), "{again:?}");
        let on_start = database.run_blocking(|conn| seed::seed_if_empty(conn, &Dataset::atsugi_2())).unwrap();
        assert_eq!(on_start, None);
        let app = spawn_app_on(&url).await;
        assert_eq!(app.json("/api/v1/plans").await["total"], 1);
        assert_eq!(app.json("/api/v1/kpis").await["total"], 45);
        assert_eq!(app.json("/api/v1/projects").await["total"], 147);
    }
}

on_both_backends! {
    /// The city's next strategy loads as a second plan, with the same codes, without a schema change.
    async fn a_second_plan_loads_beside_the_first(backend) {
        let url = seeded_database(backend);
        let mut next = Dataset::atsugi_2();
        next.plan.code = "atsugi-3".into();
        next.plan.name = "第3期厚木市まち・ひと・しごと創生総合戦略".into();
        next.plan.period_start_year = 2027;
        next.plan.period_end_year = 2031;
        let outcome = open(&url).run_blocking(|conn| seed::seed(conn, &next)).unwrap();
        let SeedOutcome::Loaded { plan_id } = outcome else { panic!("{outcome:?}") };

        let app = spawn_app_on(&url).await;
        assert_eq!(app.json("/api/v1/plans").await["total"], 2);
        assert_eq!(app.json("/api/v1/kpis?limit=500").await["total"], 90);
        assert_eq!(app.json(&format!("/api/v1/kpis?plan={plan_id}")).await["total"], 45);
        let same_code = app.json("/api/v1/kpis?code=1-1-1-1").await;
        assert_eq!(same_code["total"], 2);
        let goal = app.json(&format!("/api/v1/goals?plan={plan_id}&code=1")).await["items"][0].clone();
        assert_eq!(goal["plan_id"], plan_id);
        let tree = app.json(&format!("/api/v1/goals/{}", goal["id"])).await;
        assert!(tree["measures"].as_array().unwrap().iter().all(|m| m["plan_id"] == plan_id));
        assert_eq!(app.json(&format!("/api/v1/departments?plan={plan_id}")).await["total"], 16);
    }
}

on_both_backends! {
    /// A dataset that fails half-way leaves nothing behind: the seed is one transaction.
    async fn a_failing_seed_leaves_nothing_behind(backend) {
        let url = fresh_database(backend);
        let database = open(&url);
        database.run_blocking(db::migrate).unwrap();
        let mut broken = Dataset::atsugi_2();
        broken.projects.last_mut().unwrap().divisions.push("D99-99".into());
        assert!(database.run_blocking(|conn| seed::seed(conn, &broken)).is_err());
        let app = spawn_app_on(&url).await;
        assert_eq!(app.json("/api/v1/plans").await["total"], 0);
        assert_eq!(app.json("/api/v1/departments").await["total"], 0);
        assert_eq!(app.json("/api/v1/projects").await["total"], 0);
    }
}
