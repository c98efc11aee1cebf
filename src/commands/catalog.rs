//! `da catalog`: the tables, views and columns a plan's final SQL can read, for people
//! (`table`) or scripts (`json`). Read-only: the analytics database and extracts are opened
//! exactly as a run opens them.

use std::io::Write;

use crate::catalog::{self, Catalog};
use crate::error::{Error, exit};
use crate::settings::Settings;

/// How to show the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

/// Show the catalog; warnings (an extract skipped, ...) go to `err`.
pub fn run(
    settings: &Settings,
    format: Format,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Error> {
    let catalog = catalog::load(settings)?;
    let written = match format {
        Format::Json => serde_json::to_writer_pretty(&mut *out, &catalog)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        Format::Table => {
            for warning in &catalog.warnings {
                let _ = writeln!(err, "warning: {warning}");
            }
            out.write_all(table(&catalog).as_bytes())
        }
    };
    match written {
        // `da catalog | head` is a success.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(exit::OK),
        other => other
            .map(|()| exit::OK)
            .map_err(|e| Error::Usage(format!("cannot write: {e}"))),
    }
}

/// Each relation as `name (kind)`, then its columns and types aligned, then a count.
pub fn table(catalog: &Catalog) -> String {
    let mut text = String::new();
    for rel in &catalog.relations {
        text.push_str(&format!("{} ({})", rel.qualified_name, rel.kind.name()));
        if let Some(comment) = &rel.comment {
            text.push_str(&format!(" -- {}", comment.escape_debug()));
        }
        text.push('\n');
        let width = rel
            .columns
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0);
        for column in &rel.columns {
            let null = if column.nullable { "" } else { " NOT NULL" };
            text.push_str(&format!(
                "  {:width$}  {}{null}\n",
                column.name.escape_debug().to_string(),
                column.data_type
            ));
        }
        text.push('\n');
    }
    let tables = catalog
        .relations
        .iter()
        .filter(|r| r.kind == catalog::RelationKind::Table)
        .count();
    let views = catalog.relations.len() - tables;
    let databases: Vec<&str> = catalog.databases.iter().map(|d| d.name.as_str()).collect();
    text.push_str(&format!(
        "{tables} {}, {views} {} in {} {} ({})\n",
        plural(tables, "table", "tables"),
        plural(views, "view", "views"),
        databases.len(),
        plural(databases.len(), "database", "databases"),
        databases.join(", ")
    ));
    text
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Column, Database, Relation, RelationKind};

    #[test]
    fn the_table_lists_columns_under_each_relation() {
        let catalog = Catalog {
            default_database: "analytics".to_owned(),
            databases: vec![Database {
                name: "analytics".to_owned(),
                path: Some("analytics.duckdb".to_owned()),
                read_only: true,
            }],
            relations: vec![Relation {
                database: "analytics".to_owned(),
                schema: "main".to_owned(),
                name: "orders".to_owned(),
                qualified_name: "orders".to_owned(),
                kind: RelationKind::Table,
                comment: None,
                columns: vec![
                    Column {
                        name: "order_id".to_owned(),
                        data_type: "BIGINT".to_owned(),
                        nullable: false,
                    },
                    Column {
                        name: "amount".to_owned(),
                        data_type: "DECIMAL(12,2)".to_owned(),
                        nullable: true,
                    },
                ],
            }],
            warnings: Vec::new(),
        };
        assert_eq!(
            table(&catalog),
            "orders (table)\n  order_id  BIGINT NOT NULL\n  amount    DECIMAL(12,2)\n\n\
             1 table, 0 views in 1 database (analytics)\n"
        );
    }
}
