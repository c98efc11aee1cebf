//! sqlparser's refusals as positioned problems: the position comes out of the error text,
//! the message is rewritten as a sentence, and known engine syntax gets a specific hint.
//!
//! Also recognises statements sqlparser cannot parse but that are clearly not queries
//! (`ATTACH`, `PRAGMA`, …), so they get `sql_not_query` rather than a parse error.

use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::rules::not_query_hint;
use super::screen::{chars_with_pos, is_trivia};
use super::{Pos, SqlDialect, SqlProblem, codes, pos_of, problem};

/// Splits sqlparser's " at Line: X, Column: Y" suffix off an error message.
pub(super) fn split_location(message: &str) -> (&str, Option<Pos>) {
    if let Some((head, tail)) = message.rsplit_once(" at Line: ")
        && let Some((line, column)) = tail.split_once(", Column: ")
        && let (Ok(line), Ok(column)) = (line.trim().parse(), column.trim().parse())
    {
        return (head, Some((line, column)));
    }
    (message, None)
}

fn end_of_text(sql: &str) -> Pos {
    chars_with_pos(sql)
        .last()
        .map(|(c, (line, column))| {
            if c == '\n' {
                (line + 1, 1)
            } else {
                (line, column + 1)
            }
        })
        .unwrap_or((1, 1))
}

/// The character just before a position, if any.
fn char_before(sql: &str, at: Pos) -> Option<char> {
    let mut previous = None;
    for (c, here) in chars_with_pos(sql) {
        if here >= at {
            return previous;
        }
        previous = Some(c);
    }
    previous
}

/// First word of the statement that contains `at` (or of the last statement).
fn statement_first_word(tokens: &[TokenWithSpan], at: Option<Pos>) -> Option<(String, Pos)> {
    let mut current = None;
    let mut expecting = true;
    for token in tokens.iter().filter(|t| !is_trivia(&t.token)) {
        let here = pos_of(token.span.start);
        if at.is_some_and(|at| here > at) {
            break;
        }
        if token.token == Token::SemiColon {
            expecting = true;
        } else if expecting {
            expecting = false;
            current = match &token.token {
                Token::Word(word) if word.quote_style.is_none() => {
                    Some((word.value.to_ascii_uppercase(), here))
                }
                _ => None,
            };
        }
    }
    current
}

/// Statement keywords that sqlparser cannot parse but that are clearly not queries.
const NOT_QUERY_WORDS: &[&str] = &[
    "ALTER",
    "ANALYZE",
    "ASSERT",
    "ATTACH",
    "BEGIN",
    "BREAK",
    "CALL",
    "CHECKPOINT",
    "COMMENT",
    "COMMIT",
    "CONTINUE",
    "COPY",
    "CREATE",
    "DEALLOCATE",
    "DECLARE",
    "DELETE",
    "DESC",
    "DESCRIBE",
    "DETACH",
    "DROP",
    "EXECUTE",
    "EXPLAIN",
    "EXPORT",
    "FOR",
    "FORCE",
    "GRANT",
    "IF",
    "IMPORT",
    "INSERT",
    "INSTALL",
    "LEAVE",
    "LOAD",
    "LOOP",
    "MERGE",
    "PRAGMA",
    "PREPARE",
    "RAISE",
    "REPEAT",
    "REPLACE",
    "RESET",
    "RETURN",
    "REVOKE",
    "ROLLBACK",
    "SET",
    "SHOW",
    "START",
    "SUMMARIZE",
    "TRUNCATE",
    "UPDATE",
    "UPSERT",
    "USE",
    "VACUUM",
    "WHILE",
];

pub(super) fn parse_problem(
    raw: &str,
    at: Option<Pos>,
    sql: &str,
    tokens: &[TokenWithSpan],
    dialect: SqlDialect,
) -> SqlProblem {
    let first_word = statement_first_word(tokens, at);
    if let Some((word, word_at)) = &first_word
        && NOT_QUERY_WORDS.contains(&word.as_str())
    {
        return problem(
            codes::NOT_QUERY,
            format!("statement `{word}` is not allowed: only a read-only query is"),
            not_query_hint(word, dialect),
            *word_at,
        );
    }
    let (detail, found) = describe_parse_error(raw);
    let position = at.unwrap_or_else(|| end_of_text(sql));
    let hint = parse_hint(
        dialect,
        raw,
        found.as_deref(),
        sql,
        position,
        first_word.as_ref().map(|(w, _)| w.as_str()),
    );
    problem(
        codes::PARSE_ERROR,
        format!("cannot parse the SQL: {detail}"),
        hint,
        position,
    )
}

/// Turns sqlparser's error text into a sentence, and returns the offending token if named.
fn describe_parse_error(raw: &str) -> (String, Option<String>) {
    let raw = raw.trim().trim_end_matches('.');
    if let Some(rest) = raw.strip_prefix("Expected: ")
        && let Some((expected, found)) = rest.rsplit_once(", found: ")
    {
        let shown = if found == "EOF" {
            "the end of the text".to_owned()
        } else {
            format!("`{found}`")
        };
        return (
            format!("expected {expected}, found {shown}"),
            Some(found.to_owned()),
        );
    }
    if let Some(rest) = raw.strip_prefix("No infix parser for token ") {
        // The token is printed with Debug, e.g. `Word(Word { value: "GLOB", … })`.
        let token = rest
            .split_once("value: \"")
            .and_then(|(_, v)| v.split_once('"'))
            .map_or(rest, |(v, _)| v);
        return (
            format!("unexpected `{token}` after an expression"),
            Some(token.to_owned()),
        );
    }
    let mut chars = raw.chars();
    let sentence = chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default();
    (sentence, None)
}

fn parse_hint(
    dialect: SqlDialect,
    raw: &str,
    found: Option<&str>,
    sql: &str,
    at: Pos,
    first_word: Option<&str>,
) -> String {
    let upper = sql.to_ascii_uppercase();
    let specific = match dialect {
        SqlDialect::DuckDb => {
            let before = char_before(sql, at);
            duckdb_hint(raw, found, before, &upper, first_word)
        }
        SqlDialect::BigQuery => {
            (matches!(found, Some("MODEL" | "TABLE")) || upper.contains("(MODEL")).then_some(
                "Table-valued functions with MODEL or TABLE arguments (ML.*, VECTOR_SEARCH, \
                 APPENDS) are not allowed; select from tables directly.",
            )
        }
    };
    match specific {
        Some(hint) => hint.to_owned(),
        None => {
            let name = match dialect {
                SqlDialect::DuckDb => "DuckDB",
                SqlDialect::BigQuery => "BigQuery",
            };
            format!(
                "Fix the syntax near this position. The validator parses with sqlparser's \
                 {name} dialect, so engine-specific syntax it does not know has to be \
                 rewritten in plain SELECT syntax."
            )
        }
    }
}

/// DuckDB syntax that sqlparser does not read, recognised by the token it stopped at
/// (`found`), the character before it and the text as a whole (`upper`, upper-cased).
fn duckdb_hint(
    raw: &str,
    found: Option<&str>,
    before: Option<char>,
    upper: &str,
    first_word: Option<&str>,
) -> Option<&'static str> {
    if found == Some("*") && before == Some('*') {
        Some("The `**` operator is not supported here; use pow(x, y).")
    } else if found.is_some_and(|f| f.starts_with('\'')) && matches!(before, Some('e' | 'E')) {
        Some(
            "E'…' escape strings are not supported; use a plain '…' string and chr(n) \
             for special characters.",
        )
    } else if upper.contains("USING SAMPLE") || upper.contains("TABLESAMPLE") {
        Some(
            "Sampling clauses (USING SAMPLE, TABLESAMPLE) are not supported; use \
             `ORDER BY random() LIMIT n` or `WHERE random() < 0.1`.",
        )
    } else if matches!(first_word, Some("PIVOT" | "UNPIVOT")) {
        Some(
            "The DuckDB PIVOT/UNPIVOT statement is not supported; use `SELECT … FROM t \
             PIVOT (agg(x) FOR col IN (…))` or conditional aggregation \
             (`sum(x) FILTER (WHERE …)`).",
        )
    } else if raw.contains("MATCH_CONDITION") {
        Some(
            "ASOF joins are not supported; use a window function or a correlated \
             subquery that picks the latest matching row.",
        )
    } else {
        match found {
            Some("GLOB") => {
                Some("The GLOB operator is not supported; use LIKE or regexp_matches().")
            }
            Some("FOR") => {
                Some("List comprehensions are not supported; use list_transform / list_filter.")
            }
            Some("#") => {
                Some("Positional column references (#1) are not supported; name the column.")
            }
            Some("%") => Some(PERCENT_LIMIT),
            Some("EOF") if upper.contains('%') => Some(PERCENT_LIMIT),
            _ => None,
        }
    }
}

const PERCENT_LIMIT: &str = "Percentage limits are not supported; use a plain LIMIT n.";
