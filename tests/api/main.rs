//! One integration-test binary: the real app over HTTP on a random port, on SQLite and Postgres.

#[macro_use]
mod helpers;

mod caching;
mod catalog;
mod concurrency;
mod csv_format;
mod departments;
mod errors;
mod evaluations;
mod export;
mod faults;
mod fidelity;
mod health;
mod hierarchy;
mod identity;
mod imports;
mod kpis;
mod limits;
mod moving;
mod openapi;
mod opendata;
mod paging;
mod plans;
mod progress;
mod projects;
mod report;
mod result_sheets;
mod revisions;
mod scale;
mod seeding;
mod sorting;
mod streams;
mod webhooks;
mod writes;
