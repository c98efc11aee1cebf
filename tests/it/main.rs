//! The integration tests: one binary, one module per area. Each test reads as a spec of
//! behaviour a user relies on.

// Scenarios read top to bottom like specs; the 80-line bound is for the library's code.
#![allow(clippy::too_many_lines)]

mod bigquery;
mod bq_grpc;
mod bq_server;
mod common;
mod demo;
mod engine;
mod final_step;
mod local_codecs;
mod outputs;
mod plan_check;
mod query;
mod read_api;
mod run;
mod server;
