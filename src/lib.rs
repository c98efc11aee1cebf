//! `da` runs declarative query plans: BigQuery subqueries pulled into DuckDB as Arrow, then
//! one final DuckDB query over local data and those aliases, written to CSV, JSON or Parquet.
//!
//! The pipeline, one type per stage: plan file → `plan::LoadedPlan` (parsed, schema-checked)
//! → `validate::CheckedPlan` (rendered, SQL checked on the syntax tree) →
//! `pipeline::Prechecked` → a sealed `engine::SealedEngine` → `pipeline::RunOutcome`.
//! `main.rs` only parses the command line and calls [`run`]; `docs/architecture.md` maps
//! the modules.

// Tables of cases and expected documents are data, not logic: the 80-line bound on
// functions (clippy.toml) holds for the code, and the plain build checks it there.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod bigquery;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod config;
pub mod deadline;
pub mod demo;
pub mod diagnostic;
pub mod dialect;
mod dispatch;
pub mod document;
pub mod engine;
pub mod error;
pub mod lock;
pub mod mcp;
pub mod output;
pub mod params;
pub mod pipeline;
pub mod plan;
pub mod report;
pub mod runner;
pub mod schema;
pub mod server;
pub mod settings;
pub mod source;
pub mod validate;
pub mod version;
pub mod worker;

pub use dispatch::run;
