//! Syntax-tree validation of plan SQL (BigQuery alias queries and the final DuckDB step).
//!
//! Plan SQL comes from people and AI agents we do not trust, so it is checked on the
//! tree `sqlparser` builds, never by substring matching: substring blocklists both refuse
//! legitimate SQL (`last_update`, `';'`, `'https://…'`) and miss attacks (`"Read_Text"(…)`,
//! `FROM secrets.csv`, NBSP between keywords). The pipeline fails closed at every step:
//!
//! 1. Screen the raw text: control characters (`\r` included, because the engines end `--`
//!    comments at a carriage return and sqlparser does not) and non-ASCII whitespace outside
//!    string literals are refused, since either would let the engine see other SQL than the
//!    validator saw.
//! 2. Tokenize and parse with the matching sqlparser dialect; anything it cannot read is
//!    refused. Exactly one statement is allowed, with at most one `;` at the very end.
//! 3. The statement must be a query, and every query node in it (CTEs, subqueries) must be
//!    read-only.
//! 4. Table references, table functions and scalar functions are checked per dialect:
//!    DuckDB functions against an allowlist, BigQuery functions against a denylist plus a
//!    rule that refuses qualified (UDF or remote) function names.
//!
//! The validator is the primary control, not the only one: the runner must still harden
//! DuckDB (external access off, locked configuration, timeouts) and dry-run BigQuery jobs.
//!
//! Where the parts live: `screen` reads the raw text and tokens before parsing,
//! `parse_error` turns sqlparser's refusals into positioned problems, `walker` visits the
//! tree and tracks scopes (CTE names, range variables), `rules` and `relations` hold what
//! is allowed per node, and `functions` the function allow- and denylists as data.

mod functions;
mod parse_error;
mod relations;
mod rules;
mod screen;
mod walker;

#[cfg(test)]
mod tests;

use sqlparser::ast::{Spanned, Statement};
use sqlparser::dialect::{BigQueryDialect, Dialect, DuckDbDialect};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, TokenWithSpan, Tokenizer};

use crate::dialect::{SqlDialect, is_identifier};

use parse_error::{parse_problem, split_location};
use rules::{not_query_hint, statement_kind};
use walker::Checker;

/// Policy for BigQuery table references. Empty `allowed_datasets` = no restriction.
#[derive(Debug, Clone, Default)]
pub struct BigQueryPolicy {
    /// Project used for `dataset.table` references and for bare `dataset` entries below.
    pub default_project: Option<String>,
    /// entries "dataset" (in default_project) or "project.dataset"
    pub allowed_datasets: Vec<String>,
}

impl BigQueryPolicy {
    /// Whether a table in `project.dataset` may be read: always when no list is set.
    pub fn allows(&self, project: &str, dataset: &str) -> bool {
        self.allowed_datasets.is_empty() || relations::dataset_allowed(self, project, dataset)
    }
}

/// One reason a SQL text is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlProblem {
    /// Stable snake_case identifier; see [`codes`].
    pub code: &'static str,
    /// Names the construct, e.g. "table function `read_text` is not allowed".
    pub message: String,
    /// What to do instead.
    pub hint: String,
    /// 1-based line within the SQL text.
    pub line: usize,
    /// 1-based column (characters) within the SQL text.
    pub column: usize,
}

/// Result of [`analyze`].
#[derive(Debug, Clone, Default)]
pub struct SqlAnalysis {
    /// Everything found, ordered by position. Empty means the SQL may run.
    pub problems: Vec<SqlProblem>,
    /// Lower-cased names of the relations the query reads (DuckDB: unqualified or `main.`-qualified names, excluding CTE names in scope; BigQuery: full dotted names as written). Used to warn about unused aliases.
    ///
    /// DuckDB `main.x` is reported as `x`; an extract table `<extract>.x` keeps both parts.
    /// BigQuery array paths (`FROM t AS u, u.items`) are not relations and are left out.
    pub tables: Vec<String>,
    /// Parameter placeholders used (`@name` for BigQuery, `$name` for DuckDB), names without the sigil, deduplicated, in order of appearance.
    ///
    /// A positional `?` is reported as `"?"` and `$1` as `"1"`, so that a runner binding
    /// named parameters can refuse them.
    pub params: Vec<String>,
}

/// The SQL rules' diagnostic codes, kept in the one registry (`diagnostic::codes`).
pub use crate::diagnostic::codes::sql as codes;

/// Longest SQL text accepted, in bytes. BigQuery's own limit is 1 MiB of query text, and a
/// cap keeps the parse tree (and so the stack the walk needs) bounded.
pub const MAX_SQL_BYTES: usize = 1024 * 1024;

/// Stack for the parse-and-walk thread. sqlparser builds left-deep trees for long operator
/// chains (`1+1+…`, `UNION` chains) without hitting its recursion limit, and both the walk
/// and the drop of such a tree recurse once per level. The deepest tree a `MAX_SQL_BYTES`
/// text can produce (`1+1+…`, ~520k levels) needed between 48 and 64 MiB in an unoptimised
/// build; this leaves four times that. Untouched stack pages cost no memory.
const ANALYSIS_STACK_BYTES: usize = 256 * 1024 * 1024;

/// Validate one SQL text. Never panics, whatever the input. Collects all problems it can (not only the first), but a parse failure is one problem.
pub fn analyze(sql: &str, dialect: SqlDialect, bq: &BigQueryPolicy) -> SqlAnalysis {
    if sql.len() > MAX_SQL_BYTES {
        return SqlAnalysis {
            problems: vec![SqlProblem {
                code: codes::TOO_LONG,
                message: format!(
                    "the SQL text is {} bytes long; at most {MAX_SQL_BYTES} are accepted",
                    sql.len()
                ),
                hint: "Shorten the query: move constant lists into an alias or an extract \
                       and join against it."
                    .to_owned(),
                line: 1,
                column: 1,
            }],
            ..SqlAnalysis::default()
        };
    }
    // A dedicated thread gives the deep-tree cases a known, large stack, and turns a panic
    // inside sqlparser into a refusal instead of a crash.
    let owned_sql = sql.to_owned();
    let policy = bq.clone();
    let worker = std::thread::Builder::new()
        .name("sql-validate".to_owned())
        .stack_size(ANALYSIS_STACK_BYTES)
        .spawn(move || analyze_here(&owned_sql, dialect, &policy));
    match worker {
        Ok(handle) => handle.join().unwrap_or_else(|_| SqlAnalysis {
            problems: vec![SqlProblem {
                code: codes::PARSE_ERROR,
                message: "the SQL validator failed on this text".to_owned(),
                hint: "Simplify the query; if it is ordinary SQL, report this as a bug.".to_owned(),
                line: 1,
                column: 1,
            }],
            ..SqlAnalysis::default()
        }),
        // Without a thread (resource exhaustion), validate on the caller's stack.
        Err(_) => analyze_here(sql, dialect, bq),
    }
}

/// Remove exactly one trailing `;` (after trailing whitespace), as the reference does; `SELECT 1;;` keeps one.
pub fn strip_one_semicolon(sql: &str) -> &str {
    sql.trim_end().strip_suffix(';').unwrap_or(sql)
}

/// (line, column), both 1-based, columns counted in characters as sqlparser does.
type Pos = (usize, usize);

fn pos_of(location: Location) -> Pos {
    (
        usize::try_from(location.line).unwrap_or(usize::MAX),
        usize::try_from(location.column).unwrap_or(usize::MAX),
    )
}

fn problem(code: &'static str, message: String, hint: impl Into<String>, at: Pos) -> SqlProblem {
    SqlProblem {
        code,
        message,
        hint: hint.into(),
        line: at.0,
        column: at.1,
    }
}

fn analyze_here(sql: &str, dialect: SqlDialect, policy: &BigQueryPolicy) -> SqlAnalysis {
    let mut problems = Vec::new();
    screen::check_control_chars(sql, &mut problems);
    let Some((tokens, statements)) = tokenize_and_parse(sql, dialect, &mut problems) else {
        return finish(problems, Vec::new(), Vec::new());
    };
    if statements.is_empty() {
        problems.push(problem(
            codes::EMPTY,
            "the SQL text contains no statement".to_owned(),
            "Write one SELECT query; comments alone do not count.",
            (1, 1),
        ));
    }
    let starts = screen::statement_starts(&tokens);
    let mut checker = Checker::new(dialect, policy);
    for (index, statement) in statements.iter().enumerate() {
        let start = starts
            .get(index)
            .copied()
            .or_else(|| Some(pos_of(statement.span().start)).filter(|p| p.0 > 0))
            .unwrap_or((1, 1));
        if let Statement::Query(_) = statement {
            checker.check_statement(statement, start);
        } else {
            let kind = statement_kind(statement);
            problems.push(problem(
                codes::NOT_QUERY,
                format!("statement `{kind}` is not allowed: only a read-only query is"),
                not_query_hint(&kind, dialect),
                start,
            ));
        }
    }
    let (mut found, tables, params) = checker.into_parts();
    problems.append(&mut found);
    finish(problems, tables, params)
}

/// Tokenizes (screening the tokens) and parses; `None` once a refusal has been recorded.
fn tokenize_and_parse(
    sql: &str,
    dialect: SqlDialect,
    problems: &mut Vec<SqlProblem>,
) -> Option<(Vec<TokenWithSpan>, Vec<Statement>)> {
    let engine: Box<dyn Dialect> = match dialect {
        SqlDialect::DuckDb => Box::new(DuckDbDialect {}),
        SqlDialect::BigQuery => Box::new(BigQueryDialect {}),
    };
    let tokens = match Tokenizer::new(engine.as_ref(), sql).tokenize_with_location() {
        Ok(tokens) => tokens,
        Err(err) => {
            let at = Some(pos_of(err.location)).filter(|p| p.0 > 0);
            problems.push(parse_problem(&err.message, at, sql, &[], dialect));
            return None;
        }
    };
    screen::check_tokens(sql, &tokens, dialect, problems);
    let parsed = Parser::new(engine.as_ref())
        .with_tokens_with_locations(tokens.clone())
        .parse_statements();
    match parsed {
        Ok(statements) => Some((tokens, statements)),
        Err(err) => {
            let (raw, at) = match &err {
                ParserError::ParserError(s) | ParserError::TokenizerError(s) => split_location(s),
                ParserError::RecursionLimitExceeded => (
                    "the query nests too deeply (parentheses, subqueries or expressions \
                     more than 50 levels deep)",
                    None,
                ),
            };
            problems.push(parse_problem(raw, at, sql, &tokens, dialect));
            None
        }
    }
}

fn finish(mut problems: Vec<SqlProblem>, tables: Vec<String>, params: Vec<String>) -> SqlAnalysis {
    // Stable, so problems at one position keep the order in which they were found.
    problems.sort_by_key(|p| (p.line, p.column));
    SqlAnalysis {
        problems,
        tables,
        params,
    }
}
