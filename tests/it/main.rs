//! The integration tests: one binary, one module per area. Each test reads as a spec of
//! behaviour a user relies on.

mod bigquery;
mod bq_server;
mod common;
mod demo;
mod engine;
mod final_step;
mod local_codecs;
mod plan_check;
mod query;
mod run;
mod server;
