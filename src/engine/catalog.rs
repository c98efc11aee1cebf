//! The catalog of an open connection: databases, tables, views and typed columns, read from
//! DuckDB's own metadata functions. Only fixed SQL runs here; nothing is written.
//! `crate::catalog` opens the connection as a run does and shows the result.

use duckdb::Connection;
use schemars::JsonSchema;
use serde::Serialize;

use crate::dialect::is_identifier;
use crate::error::{ErrorType, RunError};

/// Everything the final step can read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Catalog {
    /// The database that unqualified table names resolve to: the analytics file's name
    /// (its file stem), or `memory` when no analytics database is configured.
    pub default_database: String,
    /// Attached databases: the analytics database, each extract, each remote source.
    pub databases: Vec<Database>,
    /// Tables and views, sorted by database, schema and name.
    pub relations: Vec<Relation>,
    /// What could not be attached (an extract skipped, a remote source refused).
    pub warnings: Vec<String>,
}

/// One attached database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Database {
    pub name: String,
    /// The file behind it; none for an in-memory database.
    pub path: Option<String>,
    pub read_only: bool,
}

/// A table or a view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Relation {
    pub database: String,
    pub schema: String,
    pub name: String,
    /// How to write it in a plan's final SQL (`orders`, `crm.accounts`, `crm.sales.deals`).
    pub qualified_name: String,
    pub kind: RelationKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RelationKind {
    Table,
    View,
}

impl RelationKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::View => "view",
        }
    }
}

/// One column, with its DuckDB type as DuckDB spells it (`DECIMAL(12,2)`, `VARCHAR[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Column {
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
}

/// Read the catalog of an open connection. The system and temp databases and DuckDB's
/// internal objects are left out: a plan cannot usefully read them.
pub(super) fn read(conn: &Connection, warnings: &[String]) -> Result<Catalog, RunError> {
    let fail = |e: duckdb::Error| {
        RunError::new(
            ErrorType::QueryError,
            format!("cannot read the catalog: {e}"),
        )
        .detail("original_error", e.to_string())
    };
    let default_database: String = conn
        .query_row("SELECT current_database()", [], |r| r.get(0))
        .map_err(fail)?;
    let databases = databases(conn).map_err(fail)?;
    let mut relations = relations(conn, &default_database).map_err(fail)?;
    add_columns(conn, &mut relations).map_err(fail)?;
    Ok(Catalog {
        default_database,
        databases,
        relations,
        warnings: warnings.to_vec(),
    })
}

fn databases(conn: &Connection) -> duckdb::Result<Vec<Database>> {
    rows(
        conn,
        "SELECT database_name, path, readonly FROM duckdb_databases()
         WHERE NOT internal AND database_name NOT IN ('system', 'temp')
         ORDER BY database_name",
        |r| {
            Ok(Database {
                name: r.get(0)?,
                path: r.get::<_, Option<String>>(1)?.filter(|p| !p.is_empty()),
                read_only: r.get(2)?,
            })
        },
    )
}

/// Tables and views, without their columns yet.
fn relations(conn: &Connection, default_database: &str) -> duckdb::Result<Vec<Relation>> {
    rows(
        conn,
        "SELECT database_name, schema_name, table_name, 'table', comment FROM duckdb_tables()
         WHERE NOT internal AND NOT temporary AND database_name NOT IN ('system', 'temp')
         UNION ALL
         SELECT database_name, schema_name, view_name, 'view', comment FROM duckdb_views()
         WHERE NOT internal AND NOT temporary AND database_name NOT IN ('system', 'temp')
         ORDER BY 1, 2, 3",
        |r| {
            let (database, schema, name): (String, String, String) =
                (r.get(0)?, r.get(1)?, r.get(2)?);
            let kind = if r.get::<_, String>(3)? == "view" {
                RelationKind::View
            } else {
                RelationKind::Table
            };
            Ok(Relation {
                qualified_name: qualified(default_database, &database, &schema, &name),
                database,
                schema,
                name,
                kind,
                comment: r.get::<_, Option<String>>(4)?.filter(|c| !c.is_empty()),
                columns: Vec::new(),
            })
        },
    )
}

/// Each relation's columns, in table order.
fn add_columns(conn: &Connection, relations: &mut [Relation]) -> duckdb::Result<()> {
    let columns = rows(
        conn,
        "SELECT database_name, schema_name, table_name, column_name, data_type, is_nullable
         FROM duckdb_columns()
         WHERE NOT internal AND database_name NOT IN ('system', 'temp')
         ORDER BY database_name, schema_name, table_name, column_index",
        |r| {
            let key: (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let column = Column {
                name: r.get(3)?,
                data_type: r.get(4)?,
                nullable: r.get(5)?,
            };
            Ok((key, column))
        },
    )?;
    for ((database, schema, table), column) in columns {
        let owner = relations
            .iter_mut()
            .find(|rel| rel.database == database && rel.schema == schema && rel.name == table);
        if let Some(rel) = owner {
            rel.columns.push(column);
        }
    }
    Ok(())
}

fn rows<T>(
    conn: &Connection,
    sql: &str,
    map: impl FnMut(&duckdb::Row<'_>) -> duckdb::Result<T>,
) -> duckdb::Result<Vec<T>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], map)?;
    rows.collect()
}

/// The shortest name that reaches a relation from the default database's `main` schema.
fn qualified(default_database: &str, database: &str, schema: &str, name: &str) -> String {
    let parts: Vec<&str> = match (database == default_database, schema == "main") {
        (true, true) => vec![name],
        (true, false) => vec![schema, name],
        (false, true) => vec![database, name],
        (false, false) => vec![database, schema, name],
    };
    parts
        .into_iter()
        .map(quote_identifier)
        .collect::<Vec<_>>()
        .join(".")
}

/// A name as SQL spells it: bare when it is a plain identifier, else double-quoted.
fn quote_identifier(name: &str) -> String {
    if is_identifier(name) {
        name.to_owned()
    } else {
        super::types::quote_ident(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_as_short_as_the_default_database_allows() {
        assert_eq!(
            qualified("analytics", "analytics", "main", "orders"),
            "orders"
        );
        assert_eq!(
            qualified("analytics", "analytics", "crm", "deals"),
            "crm.deals"
        );
        assert_eq!(
            qualified("analytics", "sales", "main", "deals"),
            "sales.deals"
        );
        assert_eq!(
            qualified("memory", "sales", "raw", "deals"),
            "sales.raw.deals"
        );
        assert_eq!(
            qualified("memory", "memory", "main", "odd \"name\""),
            "\"odd \"\"name\"\"\""
        );
    }

    #[test]
    fn the_catalog_lists_tables_views_and_typed_columns_but_not_temporary_objects() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE orders (id BIGINT NOT NULL, amount DECIMAL(12,2), tags VARCHAR[]);
             COMMENT ON TABLE orders IS 'one row per order';
             CREATE VIEW big_orders AS SELECT id FROM orders WHERE amount > 100;
             CREATE TEMP TABLE scratch (x INTEGER);",
        )
        .unwrap();
        let catalog = read(&conn, &["an extract was skipped".to_owned()]).unwrap();
        assert_eq!(catalog.default_database, "memory");
        assert_eq!(catalog.warnings, ["an extract was skipped"]);
        let names: Vec<(&str, RelationKind)> = catalog
            .relations
            .iter()
            .map(|r| (r.qualified_name.as_str(), r.kind))
            .collect();
        assert_eq!(
            names,
            [
                ("big_orders", RelationKind::View),
                ("orders", RelationKind::Table)
            ]
        );
        let orders = &catalog.relations[1];
        assert_eq!(orders.comment.as_deref(), Some("one row per order"));
        let columns: Vec<(&str, &str, bool)> = orders
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.data_type.as_str(), c.nullable))
            .collect();
        assert_eq!(
            columns,
            [
                ("id", "BIGINT", false),
                ("amount", "DECIMAL(12,2)", true),
                ("tags", "VARCHAR[]", true)
            ]
        );
        assert_eq!(catalog.relations[0].columns[0].name, "id");
    }
}
