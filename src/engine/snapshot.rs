//! The analytics database's catalog as a snapshot file: what `da schema snapshot` writes
//! (made from `engine::Catalog`, the one catalog reader), and empty tables made from such
//! a snapshot so `da plan check` can bind on a machine without the database.

use serde::{Deserialize, Serialize};

use super::types::quote_ident;
use super::{Catalog, Engine, SealedEngine, query_error};
use crate::error::{ErrorType, RunError};

/// Every table and view of the analytics database (and its attached extracts), with
/// DuckDB column types. Written by `da schema snapshot`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub version: u32,
    pub tables: Vec<CatalogTable>,
}

/// One table or view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogTable {
    /// The attached database (an extract) it lives in; absent for the analytics database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    pub schema: String,
    pub name: String,
    /// `table` or `view`.
    pub kind: String,
    pub columns: Vec<CatalogColumn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogColumn {
    pub name: String,
    /// DuckDB's spelling (`BIGINT`, `DECIMAL(12,2)`, `STRUCT(a INTEGER)`, ...).
    #[serde(rename = "type")]
    pub kind: String,
}

impl From<&Catalog> for Snapshot {
    /// The snapshot of a catalog: the analytics database's relations first (no database
    /// name), then each extract's, each with its columns in order.
    fn from(catalog: &Catalog) -> Self {
        let mut tables: Vec<CatalogTable> = catalog
            .relations
            .iter()
            .map(|r| CatalogTable {
                database: (r.database != catalog.default_database).then(|| r.database.clone()),
                schema: r.schema.clone(),
                name: r.name.clone(),
                kind: r.kind.name().to_owned(),
                columns: r
                    .columns
                    .iter()
                    .map(|c| CatalogColumn {
                        name: c.name.clone(),
                        kind: c.data_type.clone(),
                    })
                    .collect(),
            })
            .collect();
        tables.sort_by(|a, b| {
            (a.database.is_some(), &a.database, &a.schema, &a.name).cmp(&(
                b.database.is_some(),
                &b.database,
                &b.schema,
                &b.name,
            ))
        });
        Self { version: 1, tables }
    }
}

impl SealedEngine {
    /// Empty tables standing in for a snapshot's tables and views, in an engine opened
    /// on no database ([`Engine::attach_snapshot_databases`] made their databases). Runs
    /// on the sealed engine: whatever a snapshot file holds cannot reach a file.
    pub fn create_snapshot_tables(&self, snapshot: &Snapshot) -> Result<(), RunError> {
        for t in &snapshot.tables {
            let prefix = match &t.database {
                Some(db) => format!("{}.", quote_ident(db)),
                None => String::new(),
            };
            let schema = format!("{prefix}{}", quote_ident(&t.schema));
            let mut columns = Vec::new();
            for c in &t.columns {
                if !plausible_type(&c.kind) {
                    return Err(RunError::new(
                        ErrorType::QueryError,
                        format!(
                            "schema snapshot: column `{}` of `{}` has an unreadable type `{}`",
                            c.name, t.name, c.kind
                        ),
                    ));
                }
                columns.push(format!("{} {}", quote_ident(&c.name), c.kind));
            }
            let sql = format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}; CREATE TABLE {schema}.{} ({});",
                quote_ident(&t.name),
                columns.join(", ")
            );
            self.conn.execute_batch(&sql).map_err(|e| {
                query_error(
                    &format!("schema snapshot: cannot make table `{}`", t.name),
                    &e,
                )
            })?;
        }
        Ok(())
    }
}

impl Engine {
    /// An empty in-memory database for every extract a snapshot names.
    pub fn attach_snapshot_databases(&self, snapshot: &Snapshot) -> Result<(), RunError> {
        let mut names: Vec<&str> = snapshot
            .tables
            .iter()
            .filter_map(|t| t.database.as_deref())
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            self.conn
                .execute_batch(&format!("ATTACH ':memory:' AS {}", quote_ident(name)))
                .map_err(|e| query_error("schema snapshot: cannot attach", &e))?;
        }
        Ok(())
    }
}

/// A type as DuckDB prints one: words, digits, parentheses, brackets, commas and quoted
/// field names; no `;`, string literal or comment can hide in it.
fn plausible_type(kind: &str) -> bool {
    !kind.trim().is_empty()
        && kind
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " _(),[]\".".contains(c))
}
