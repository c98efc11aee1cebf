//! The analytics database's catalog as data: what `da schema snapshot` writes, and empty
//! tables made from such a snapshot so `da plan check` can bind on a machine without the
//! database.

use serde::{Deserialize, Serialize};

use super::{Engine, SealedEngine, query_error};
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

const LIST_COLUMNS: &str = "
    SELECT c.database_name = current_database() AS home, c.database_name, c.schema_name,
           c.table_name,
           EXISTS (SELECT 1 FROM duckdb_views() v
                   WHERE v.database_name = c.database_name AND v.schema_name = c.schema_name
                     AND v.view_name = c.table_name) AS is_view,
           c.column_name, c.data_type
    FROM duckdb_columns() c
    WHERE NOT c.internal AND c.database_name NOT IN ('system', 'temp')
    ORDER BY home DESC, c.database_name, c.schema_name, c.table_name, c.column_index";

impl SealedEngine {
    /// Every table and view the final step could read besides the aliases.
    pub fn catalog(&self) -> Result<Snapshot, RunError> {
        let mut stmt = self
            .conn
            .prepare(LIST_COLUMNS)
            .map_err(|e| query_error("cannot list the catalog", &e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, bool>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .map_err(|e| query_error("cannot list the catalog", &e))?;
        let mut tables: Vec<CatalogTable> = Vec::new();
        for row in rows {
            let (home, database, schema, name, view, column, kind) =
                row.map_err(|e| query_error("cannot list the catalog", &e))?;
            let database = (!home).then_some(database);
            let same = tables
                .last()
                .is_some_and(|t| t.database == database && t.schema == schema && t.name == name);
            if !same {
                tables.push(CatalogTable {
                    database,
                    schema,
                    name,
                    kind: if view { "view" } else { "table" }.to_owned(),
                    columns: Vec::new(),
                });
            }
            if let Some(t) = tables.last_mut() {
                t.columns.push(CatalogColumn { name: column, kind });
            }
        }
        Ok(Snapshot { version: 1, tables })
    }

    /// Empty tables standing in for a snapshot's tables and views, in an engine opened
    /// on no database ([`Engine::attach_snapshot_databases`] made their databases). Runs
    /// on the sealed engine: whatever a snapshot file holds cannot reach a file.
    pub fn create_snapshot_tables(&self, snapshot: &Snapshot) -> Result<(), RunError> {
        for t in &snapshot.tables {
            let prefix = match &t.database {
                Some(db) => format!("{}.", quote(db)),
                None => String::new(),
            };
            let schema = format!("{prefix}{}", quote(&t.schema));
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
                columns.push(format!("{} {}", quote(&c.name), c.kind));
            }
            let sql = format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}; CREATE TABLE {schema}.{} ({});",
                quote(&t.name),
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
                .execute_batch(&format!("ATTACH ':memory:' AS {}", quote(name)))
                .map_err(|e| query_error("schema snapshot: cannot attach", &e))?;
        }
        Ok(())
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A type as DuckDB prints one: words, digits, parentheses, brackets, commas and quoted
/// field names; no `;`, string literal or comment can hide in it.
fn plausible_type(kind: &str) -> bool {
    !kind.trim().is_empty()
        && kind
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " _(),[]\".".contains(c))
}
