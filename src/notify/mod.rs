//! Changes pushed to the systems that depend on them: signed webhooks (subscriptions are kept under
//! `api::webhooks`, their outbox under `db::webhooks`; the workers, signatures and target checks
//! here) and the live change stream.

pub mod delivery;
pub mod signature;
pub mod stream;
pub mod targets;
