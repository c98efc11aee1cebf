//! The integration tests: one binary, one module per area. Each test reads as a spec of
//! behaviour a user relies on.

// Scenarios read top to bottom like specs; the 80-line bound is for the library's code.
#![allow(clippy::too_many_lines)]

mod bigquery;
mod bq_cost;
mod bq_grpc;
mod bq_server;
mod cache;
mod common;
mod conventions;
mod dataset_policy;
mod demo;
mod docs;
mod engine;
mod final_step;
mod hardening;
mod local_codecs;
mod lock;
mod mcp;
mod output_paths;
mod outputs;
mod param_binding;
mod plan_check;
mod query;
mod read_api;
mod run;
mod server;
