//! Alias tables: Arrow data registered as DuckDB temporary tables.
//!
//! Temporary tables live in the connection's own catalog, which stays writable when the
//! analytics file is read-only and after the seal (creating a table and appending to it
//! need neither external access nor a setting); they disappear with the connection.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use duckdb::Connection;

use super::query_error;
use super::types::{self, quote_ident};
use crate::error::{ErrorType, RunError};

/// Every table and view of the analytics database and the attached extracts, as
/// `(name, database.schema.name)`: what an alias's temporary table could hide.
pub(super) fn catalog(conn: &Connection) -> Result<Vec<(String, String)>, RunError> {
    const SQL: &str = "
        SELECT database_name, schema_name, table_name FROM duckdb_tables()
        WHERE NOT temporary AND database_name NOT IN ('system', 'temp')
        UNION ALL
        SELECT database_name, schema_name, view_name FROM duckdb_views()
        WHERE NOT internal AND NOT temporary AND database_name NOT IN ('system', 'temp')
        ORDER BY ALL";
    let read = || -> duckdb::Result<Vec<(String, String)>> {
        let mut stmt = conn.prepare(SQL)?;
        let rows = stmt.query_map([], |row| {
            let (db, schema, name): (String, String, String) =
                (row.get(0)?, row.get(1)?, row.get(2)?);
            Ok((name.clone(), format!("{db}.{schema}.{name}")))
        })?;
        rows.collect()
    };
    read().map_err(|e| query_error("cannot list the analytics tables", &e))
}

/// Create the (empty) table for `alias`, replacing one of that name.
pub(super) fn create(conn: &Connection, alias: &str, schema: &SchemaRef) -> Result<(), RunError> {
    let (schema, _) =
        types::duckdb_compatible(schema, Vec::new()).map_err(|why| refused(alias, &why))?;
    let ddl = types::create_table_sql(alias, &schema).map_err(|why| refused(alias, &why))?;
    conn.execute_batch(&format!(
        "DROP TABLE IF EXISTS temp.main.{}; {ddl}",
        quote_ident(alias)
    ))
    .map_err(|e| failed(alias, &e))
}

/// Append `batches` to the table `create` made for `alias` with the same `schema`.
pub(super) fn append(
    conn: &Connection,
    alias: &str,
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<(), RunError> {
    let (_, batches) =
        types::duckdb_compatible(schema, batches).map_err(|why| refused(alias, &why))?;
    let mut appender = conn
        .appender_to_catalog_and_db(alias, "temp", "main")
        .map_err(|e| failed(alias, &e))?;
    for batch in batches {
        if batch.num_rows() > 0 {
            appender
                .append_record_batch(batch)
                .map_err(|e| failed(alias, &e))?;
        }
    }
    appender.flush().map_err(|e| failed(alias, &e))
}

fn refused(alias: &str, why: &str) -> RunError {
    RunError::new(
        ErrorType::QueryError,
        format!("cannot register alias `{alias}`: {why}"),
    )
    .detail("alias", alias)
}

fn failed(alias: &str, e: &duckdb::Error) -> RunError {
    query_error(&format!("cannot register alias `{alias}`"), e).detail("alias", alias)
}
