//! The catalog: which databases, tables, views and columns the final step of a plan can
//! read. `da catalog` shows it to people and the MCP `catalog` tool to agents.
//!
//! It is read on a connection opened exactly as a run opens it (analytics file and extracts
//! read-only, then sealed), so it never disagrees with what a plan's SQL sees. The reading
//! itself is `engine::catalog`, beside the connection it needs.

use crate::engine::Engine;
use crate::error::RunError;
use crate::settings::Settings;

pub use crate::engine::{Catalog, Column, Database, Relation, RelationKind};

/// Open the analytics connection as a run does and read its catalog.
pub fn load(settings: &Settings) -> Result<Catalog, RunError> {
    let opts = crate::runner::engine_options(settings);
    // Remote sources read their tokens from the settings' environment, as a run does.
    Engine::open(&opts, &|name| settings.env(name))?
        .seal()?
        .catalog()
}
