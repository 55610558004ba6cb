//! One portable schema for both backends (written by hand: `diesel print-schema` would differ per backend).

diesel::table! {
    plans (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        document_title -> Text,
        municipality_code -> Text,
        municipality_name -> Text,
        prefecture -> Text,
        period_start_year -> Integer,
        period_end_year -> Integer,
        grading_scheme -> Nullable<Text>,
        publisher -> Nullable<Text>,
        source_url -> Nullable<Text>,
        published_on -> Nullable<Text>,
        licence -> Nullable<Text>,
        licence_url -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        description -> Nullable<Text>,
        keywords -> Text,
        contact_name -> Nullable<Text>,
        contact_email -> Nullable<Text>,
        contact_url -> Nullable<Text>,
    }
}

diesel::table! {
    source_corrections (id) {
        id -> BigInt,
        plan_id -> BigInt,
        record -> Text,
        field -> Text,
        published -> Text,
        normalised -> Text,
        reason -> Text,
    }
}

diesel::table! {
    departments (id) {
        id -> BigInt,
        plan_id -> BigInt,
        code -> Text,
        name -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    divisions (id) {
        id -> BigInt,
        plan_id -> BigInt,
        department_id -> BigInt,
        code -> Text,
        name -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    goals (id) {
        id -> BigInt,
        plan_id -> BigInt,
        code -> Text,
        number -> Integer,
        category -> Text,
        title -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    measures (id) {
        id -> BigInt,
        plan_id -> BigInt,
        goal_id -> BigInt,
        code -> Text,
        number -> Integer,
        title -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    initiatives (id) {
        id -> BigInt,
        plan_id -> BigInt,
        measure_id -> BigInt,
        code -> Text,
        number -> Integer,
        title -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    kpis (id) {
        id -> BigInt,
        plan_id -> BigInt,
        initiative_id -> BigInt,
        code -> Text,
        name -> Text,
        unit -> Text,
        cumulative -> Bool,
        direction -> Text,
        baseline_value -> Nullable<Text>,
        baseline_year -> Integer,
        baseline_year_type -> Text,
        target_value -> Nullable<Text>,
        target_year -> Integer,
        target_year_type -> Text,
        search_text -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        progress_status -> Text,
        source -> Nullable<Text>,
    }
}

diesel::table! {
    projects (id) {
        id -> BigInt,
        plan_id -> BigInt,
        code -> Text,
        name -> Text,
        account -> Nullable<Text>,
        search_text -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    project_appearances (id) {
        id -> BigInt,
        project_id -> BigInt,
        initiative_id -> BigInt,
        position -> Integer,
        description -> Text,
        search_text -> Text,
    }
}

diesel::table! {
    project_divisions (project_id, division_id) {
        project_id -> BigInt,
        division_id -> BigInt,
        position -> Integer,
    }
}

diesel::table! {
    kpi_results (id) {
        id -> BigInt,
        kpi_id -> BigInt,
        year -> Integer,
        value -> Nullable<Text>,
        status -> Text,
        note -> Nullable<Text>,
        source -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        analysis -> Nullable<Text>,
        next_steps -> Nullable<Text>,
    }
}

diesel::table! {
    kpi_target_revisions (id) {
        id -> BigInt,
        kpi_id -> BigInt,
        previous_value -> Nullable<Text>,
        previous_year -> Integer,
        value -> Nullable<Text>,
        year -> Integer,
        reason -> Text,
        revised_by -> Text,
        revised_at -> Timestamp,
    }
}

diesel::table! {
    kpi_search_grams (gram, kpi_id) {
        gram -> Text,
        kpi_id -> BigInt,
    }
}

diesel::joinable!(kpi_results -> kpis (kpi_id));
diesel::joinable!(kpi_target_revisions -> kpis (kpi_id));
diesel::joinable!(kpi_search_grams -> kpis (kpi_id));
diesel::joinable!(source_corrections -> plans (plan_id));
diesel::joinable!(divisions -> departments (department_id));
diesel::joinable!(measures -> goals (goal_id));
diesel::joinable!(initiatives -> measures (measure_id));
diesel::joinable!(kpis -> initiatives (initiative_id));
diesel::joinable!(project_appearances -> projects (project_id));
diesel::joinable!(project_appearances -> initiatives (initiative_id));
diesel::joinable!(project_divisions -> projects (project_id));
diesel::joinable!(project_divisions -> divisions (division_id));

diesel::allow_tables_to_appear_in_same_query!(
    plans,
    source_corrections,
    departments,
    divisions,
    goals,
    measures,
    initiatives,
    kpis,
    projects,
    project_appearances,
    project_divisions,
    kpi_results,
    kpi_target_revisions,
    kpi_search_grams,
);

diesel::table! {
    data_version (id) {
        id -> BigInt,
        version -> BigInt,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        occurred_at -> Timestamp,
        subject -> Text,
        jti -> Text,
        method -> Text,
        resource -> Text,
        record_id -> BigInt,
        operation -> Text,
        before_json -> Nullable<Text>,
        after_json -> Nullable<Text>,
    }
}

diesel::table! {
    api_tokens (issuer, jti) {
        issuer -> Text,
        jti -> Text,
        subject -> Text,
        scopes -> Text,
        department_id -> Nullable<BigInt>,
        issued_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        plan -> Nullable<Text>,
    }
}

diesel::table! {
    evaluations (id) {
        id -> BigInt,
        plan_id -> BigInt,
        fiscal_year -> Integer,
        title -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    evaluation_items (id) {
        id -> BigInt,
        evaluation_id -> BigInt,
        kpi_id -> BigInt,
        kpi_code -> Text,
        kpi_name -> Text,
        unit -> Text,
        direction -> Text,
        baseline_value -> Nullable<Text>,
        target_value -> Nullable<Text>,
        result_year -> Nullable<Integer>,
        result_value -> Nullable<Text>,
        achievement -> Nullable<Double>,
        expected -> Nullable<Double>,
        status -> Text,
        grade -> Nullable<Text>,
        target_year -> Nullable<Integer>,
        original_target_value -> Nullable<Text>,
        original_target_year -> Nullable<Integer>,
        original_achievement -> Nullable<Double>,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> BigInt,
        url -> Text,
        description -> Nullable<Text>,
        resources -> Text,
        operations -> Text,
        plan_id -> Nullable<BigInt>,
        status -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<Timestamp>,
        retry_at -> Nullable<Timestamp>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        subscription_id -> BigInt,
        change_id -> BigInt,
        message_id -> Text,
        status -> Text,
        attempts -> Integer,
        first_attempt_at -> Nullable<Timestamp>,
        next_attempt_at -> Timestamp,
        last_attempt_at -> Nullable<Timestamp>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> BigInt,
        delivery_id -> BigInt,
        attempted_at -> Timestamp,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        duration_ms -> BigInt,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_subscriptions (subscription_id));
diesel::joinable!(webhook_deliveries -> audit_log (change_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::allow_tables_to_appear_in_same_query!(webhook_subscriptions, webhook_deliveries, webhook_attempts, audit_log);
