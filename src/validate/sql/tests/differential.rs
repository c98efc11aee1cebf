//! Differential check against DuckDB's own parser: every final-step text the validator
//! accepts must read the same to DuckDB — the same number of statements, and the same
//! string literals — or the validator would have checked other SQL than DuckDB runs.

use duckdb::Connection;
use serde_json::Value;
use sqlparser::dialect::DuckDbDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::corpus::CASES;
use super::hardening::HARDENING_CASES;
use super::*;

/// Accepted texts that `json_serialize_sql` cannot take, with the reason; checked to be
/// refused by DuckDB for that reason, so the list cannot hide a real difference.
const DUCKDB_CANNOT_SERIALIZE: &[(&str, &str)] = &[];

/// The string literals sqlparser reads, in order.
fn sqlparser_strings(sql: &str) -> Vec<String> {
    let tokens = Tokenizer::new(&DuckDbDialect {}, sql)
        .tokenize()
        .expect("accepted SQL tokenizes");
    tokens
        .into_iter()
        .filter_map(|token| match token {
            Token::SingleQuotedString(s) | Token::TripleSingleQuotedString(s) => Some(s),
            Token::DollarQuotedString(d) => Some(d.value),
            _ => None,
        })
        .collect()
}

/// DuckDB's parse tree of `sql` as JSON (`{"error": …, "statements": […]}`).
fn duckdb_tree(conn: &Connection, sql: &str) -> Value {
    let text: String = conn
        .query_row("SELECT json_serialize_sql(?)", [sql], |row| row.get(0))
        .expect("json_serialize_sql runs");
    serde_json::from_str(&text).expect("json_serialize_sql returns JSON")
}

/// Every string in the tree, and the VARCHAR constants (DuckDB's string literals) apart.
fn duckdb_strings(tree: &Value, all: &mut Vec<String>, constants: &mut Vec<String>) {
    match tree {
        Value::String(s) => all.push(s.clone()),
        Value::Array(items) => {
            for item in items {
                duckdb_strings(item, all, constants);
            }
        }
        Value::Object(map) => {
            if map.get("class").and_then(Value::as_str) == Some("CONSTANT")
                && tree["value"]["type"]["id"] == "VARCHAR"
                && let Some(s) = tree["value"]["value"].as_str()
            {
                constants.push(s.to_owned());
            }
            for value in map.values() {
                duckdb_strings(value, all, constants);
            }
        }
        _ => {}
    }
}

/// How DuckDB's reading of an accepted text differs from sqlparser's, if it does.
fn difference(conn: &Connection, sql: &str) -> Option<String> {
    let tree = duckdb_tree(conn, sql);
    if tree["error"] != false {
        return Some(format!("DuckDB cannot parse it: {}", tree["error_message"]));
    }
    let statements = tree["statements"].as_array().map_or(0, Vec::len);
    if statements != 1 {
        return Some(format!("DuckDB reads {statements} statements"));
    }
    let (mut all, mut constants) = (Vec::new(), Vec::new());
    duckdb_strings(&tree["statements"], &mut all, &mut constants);
    let ours = sqlparser_strings(sql);
    if let Some(s) = ours.iter().find(|s| !all.contains(s)) {
        return Some(format!("DuckDB has no string {s:?}"));
    }
    if let Some(s) = constants.iter().find(|s| !ours.contains(s)) {
        return Some(format!("sqlparser has no string {s:?}, DuckDB does"));
    }
    None
}

#[test]
fn accepted_final_steps_read_the_same_to_duckdb() {
    let conn = Connection::open_in_memory().expect("in-memory DuckDB");
    let accepted: Vec<(&str, &str)> = CASES
        .iter()
        .chain(HARDENING_CASES)
        // Attacks included: whatever the validator lets through must read the same.
        .filter(|(_, sql, dialect, _)| {
            *dialect == Duck && codes_of(sql, Duck, &NO_POLICY).is_empty()
        })
        .map(|(name, sql, _, _)| (*name, *sql))
        .collect();
    assert!(
        accepted.len() >= 55,
        "only {} accepted texts",
        accepted.len()
    );
    let mut failures = Vec::new();
    for (name, sql) in accepted {
        let skipped = DUCKDB_CANNOT_SERIALIZE.iter().find(|(n, _)| *n == name);
        match (difference(&conn, sql), skipped) {
            (None, None) => {}
            (Some(why), Some((_, reason))) if why.contains(reason) => {}
            (Some(why), _) => failures.push(format!("`{name}` {sql:?}: {why}")),
            (None, Some(_)) => {
                failures.push(format!("`{name}` is listed as unparsable but parses"))
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_check_sees_the_differences_it_guards_against() {
    let conn = Connection::open_in_memory().expect("in-memory DuckDB");
    // What the validator refuses as ambiguous really is read differently by DuckDB.
    for sql in ["SELECT $1$x$1$", "SELECT $1$ FROM orders $1$ AS note"] {
        assert!(difference(&conn, sql).is_some(), "{sql}");
    }
    // And two statements are two statements to both.
    let tree = duckdb_tree(&conn, "SELECT 1; SELECT 2");
    assert_eq!(tree["statements"].as_array().map(Vec::len), Some(2));
}
