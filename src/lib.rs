//! `strategy-api`: Atsugi City's second regional-revitalization strategy as a JSON REST API.

pub mod api;
pub mod auth;
pub mod cache;
pub mod catalog;
pub mod config;
pub mod data_package;
pub mod dataset;
pub mod db;
pub mod domain;
pub mod error;
pub mod linked_data;
pub mod memory;
pub mod middleware;
pub mod notify;
pub mod openapi;
pub mod pages;
pub mod report;
pub mod startup;
pub mod transfer;
