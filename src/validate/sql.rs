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

use std::fmt;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Function, Ident, InTarget, ObjectName, ObjectNamePart, PipeOperator, Query, Select,
    SetExpr, Spanned, Statement, TableFactor, TableWithJoins, Value, ValueWithSpan, Visit, Visitor,
};
use sqlparser::dialect::{BigQueryDialect, Dialect, DuckDbDialect};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Span, Token, TokenWithSpan, Tokenizer, Whitespace};

/// Which engine a SQL text is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlDialect {
    /// The final step, run on a local DuckDB.
    DuckDb,
    /// An alias subquery, run on BigQuery.
    BigQuery,
}

/// Policy for BigQuery table references. Empty `allowed_datasets` = no restriction.
#[derive(Debug, Clone, Default)]
pub struct BigQueryPolicy {
    /// Project used for `dataset.table` references and for bare `dataset` entries below.
    pub default_project: Option<String>,
    /// entries "dataset" (in default_project) or "project.dataset"
    pub allowed_datasets: Vec<String>,
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

/// The stable values of [`SqlProblem::code`].
pub mod codes {
    /// NUL, `\r` or another control character other than `\n` and `\t`.
    pub const CONTROL_CHAR: &str = "sql_control_char";
    /// Non-ASCII whitespace or an invisible format character outside string literals.
    pub const UNICODE_WHITESPACE: &str = "sql_unicode_whitespace";
    /// The text is longer than [`super::MAX_SQL_BYTES`].
    pub const TOO_LONG: &str = "sql_too_long";
    /// sqlparser cannot read the text.
    pub const PARSE_ERROR: &str = "sql_parse_error";
    /// No statement at all (empty or comments only).
    pub const EMPTY: &str = "sql_empty";
    /// More than one statement, or a `;` that is not the last character.
    pub const MULTIPLE_STATEMENTS: &str = "sql_multiple_statements";
    /// The statement is not a read-only query (DDL, DML, settings, scripting, …).
    pub const NOT_QUERY: &str = "sql_not_query";
    /// A query node whose body writes (data-modifying CTE, `WITH … DELETE`, `SELECT … INTO`).
    pub const DATA_MODIFYING: &str = "sql_data_modifying";
    /// DuckDB: a FROM item that DuckDB would read as a file or URL.
    pub const FILE_TABLE: &str = "sql_file_table";
    /// A table function (or other computed table source) in FROM.
    pub const TABLE_FUNCTION: &str = "sql_table_function";
    /// A catalog or metadata relation, or a qualified name outside the allowed shapes.
    pub const SYSTEM_TABLE: &str = "sql_system_table";
    /// A function that is dangerous, not allowlisted, or qualified.
    pub const FORBIDDEN_FUNCTION: &str = "sql_forbidden_function";
    /// BigQuery: a table outside the allowed datasets.
    pub const DATASET_NOT_ALLOWED: &str = "sql_dataset_not_allowed";
}

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

/// `^[A-Za-z_][A-Za-z0-9_]{0,63}$` with no trailing newline accepted (hand-written, no regex crate).
pub fn is_identifier(s: &str) -> bool {
    let Some((first, rest)) = s.as_bytes().split_first() else {
        return false;
    };
    s.len() <= 64
        && (first.is_ascii_alphabetic() || *first == b'_')
        && rest.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
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
    check_control_chars(sql, &mut problems);

    let engine: Box<dyn Dialect> = match dialect {
        SqlDialect::DuckDb => Box::new(DuckDbDialect {}),
        SqlDialect::BigQuery => Box::new(BigQueryDialect {}),
    };
    let tokens = match Tokenizer::new(engine.as_ref(), sql).tokenize_with_location() {
        Ok(tokens) => tokens,
        Err(err) => {
            let at = Some(pos_of(err.location)).filter(|p| p.0 > 0);
            problems.push(parse_problem(&err.message, at, sql, &[], dialect));
            return finish(problems, Vec::new(), Vec::new());
        }
    };
    check_unicode_whitespace(sql, &tokens, &mut problems);
    check_semicolons(&tokens, &mut problems);
    let starts = statement_starts(&tokens);

    let parsed = Parser::new(engine.as_ref())
        .with_tokens_with_locations(tokens.clone())
        .parse_statements();
    let statements = match parsed {
        Ok(statements) => statements,
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
            return finish(problems, Vec::new(), Vec::new());
        }
    };

    if statements.is_empty() {
        problems.push(problem(
            codes::EMPTY,
            "the SQL text contains no statement".to_owned(),
            "Write one SELECT query; comments alone do not count.",
            (1, 1),
        ));
    }

    let mut checker = Checker {
        dialect,
        policy,
        fallback: (1, 1),
        problems: Vec::new(),
        tables: Vec::new(),
        params: Vec::new(),
        cte_frames: Vec::new(),
        alias_scopes: Vec::new(),
    };
    for (index, statement) in statements.iter().enumerate() {
        let start = starts
            .get(index)
            .copied()
            .or_else(|| Some(pos_of(statement.span().start)).filter(|p| p.0 > 0))
            .unwrap_or((1, 1));
        if let Statement::Query(_) = statement {
            checker.fallback = start;
            // The checker never breaks, so the flow result carries nothing.
            let _ = statement.visit(&mut checker);
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
    problems.append(&mut checker.problems);
    finish(problems, checker.tables, checker.params)
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

// ---------------------------------------------------------------------------------------
// Raw-text screening

/// Iterates characters with sqlparser's notion of position: only `\n` starts a new line.
fn chars_with_pos(sql: &str) -> impl Iterator<Item = (char, Pos)> + '_ {
    let mut line = 1;
    let mut column = 1;
    sql.chars().map(move |c| {
        let at = (line, column);
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
        (c, at)
    })
}

fn is_forbidden_control(c: char) -> bool {
    // U+0085 (NEL) is also whitespace and is reported as such, outside literals only.
    c.is_control() && c != '\n' && c != '\t' && c != '\u{85}'
}

fn is_suspicious_space(c: char) -> bool {
    (c.is_whitespace() && !c.is_ascii())
        // Invisible format characters: not whitespace to sqlparser, unknown to the engines.
        || matches!(
            c,
            '\u{180E}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
        )
}

fn describe_char(c: char) -> String {
    let name = match c {
        '\0' => " (NUL)",
        '\r' => " (carriage return)",
        '\u{0B}' => " (vertical tab)",
        '\u{0C}' => " (form feed)",
        '\u{1B}' => " (escape)",
        '\u{7F}' => " (delete)",
        '\u{85}' => " (next line)",
        '\u{A0}' => " (no-break space)",
        '\u{2028}' => " (line separator)",
        '\u{2029}' => " (paragraph separator)",
        '\u{200B}' => " (zero-width space)",
        '\u{FEFF}' => " (byte-order mark)",
        _ => "",
    };
    format!("U+{:04X}{name}", u32::from(c))
}

fn more_suffix(count: usize) -> String {
    match count {
        0 | 1 => String::new(),
        2 => " (1 more occurrence)".to_owned(),
        n => format!(" ({} more occurrences)", n - 1),
    }
}

fn check_control_chars(sql: &str, problems: &mut Vec<SqlProblem>) {
    let mut found = chars_with_pos(sql).filter(|(c, _)| is_forbidden_control(*c));
    let Some((c, at)) = found.next() else {
        return;
    };
    let count = 1 + found.count();
    let hint = if c == '\r' {
        "Use \\n line endings (convert CRLF to LF). DuckDB and BigQuery end a `--` comment at \
         a carriage return and the validator does not, so text after it would run unchecked."
    } else {
        "Remove the control character; inside a string, build it with chr(n) instead."
    };
    problems.push(problem(
        codes::CONTROL_CHAR,
        format!(
            "control character {} is not allowed{}",
            describe_char(c),
            more_suffix(count)
        ),
        hint,
        at,
    ));
}

fn is_string_literal(token: &Token) -> bool {
    matches!(
        token,
        Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_)
    )
}

fn check_unicode_whitespace(sql: &str, tokens: &[TokenWithSpan], problems: &mut Vec<SqlProblem>) {
    if sql.is_ascii() {
        return;
    }
    // Token spans are in source order; string literals may hold any character.
    let literals: Vec<(Pos, Pos)> = tokens
        .iter()
        .filter(|t| is_string_literal(&t.token))
        .map(|t| (pos_of(t.span.start), pos_of(t.span.end)))
        .collect();
    let inside_literal = |at: Pos| {
        let next = literals.partition_point(|(start, _)| *start <= at);
        next > 0 && literals.get(next - 1).is_some_and(|(_, end)| at < *end)
    };
    let mut found =
        chars_with_pos(sql).filter(|(c, at)| is_suspicious_space(*c) && !inside_literal(*at));
    let Some((c, at)) = found.next() else {
        return;
    };
    let count = 1 + found.count();
    problems.push(problem(
        codes::UNICODE_WHITESPACE,
        format!(
            "non-ASCII whitespace {} outside a string literal{}",
            describe_char(c),
            more_suffix(count)
        ),
        "Replace it with an ordinary space or newline. The engines do not all agree on which \
         Unicode characters separate tokens, so the query could run differently from how it \
         was checked.",
        at,
    ));
}

fn is_blank(token: &Token) -> bool {
    matches!(
        token,
        Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab) | Token::EOF
    )
}

fn is_trivia(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_) | Token::EOF)
}

fn check_semicolons(tokens: &[TokenWithSpan], problems: &mut Vec<SqlProblem>) {
    let semicolons: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| t.token == Token::SemiColon)
        .map(|(i, _)| i)
        .collect();
    let Some((&last, earlier)) = semicolons.split_last() else {
        return;
    };
    // Only a `;` that strip_one_semicolon removes is harmless; comments after it are not.
    let trailing_ok = tokens
        .get(last + 1..)
        .is_some_and(|rest| rest.iter().all(|t| is_blank(&t.token)));
    let offending = if trailing_ok {
        earlier.first()
    } else {
        semicolons.first()
    };
    if let Some(token) = offending.and_then(|&i| tokens.get(i)) {
        problems.push(problem(
            codes::MULTIPLE_STATEMENTS,
            "more than one statement: a `;` is followed by more text".to_owned(),
            "Send exactly one query. A single `;` is allowed only as the very last character \
             (comments after it are not).",
            pos_of(token.span.start),
        ));
    }
}

/// Start of each statement: the first token that is not whitespace, a comment or `;`,
/// at the beginning and after each run of semicolons.
fn statement_starts(tokens: &[TokenWithSpan]) -> Vec<Pos> {
    let mut starts = Vec::new();
    let mut expecting = true;
    for token in tokens.iter().filter(|t| !is_trivia(&t.token)) {
        if token.token == Token::SemiColon {
            expecting = true;
        } else if expecting {
            starts.push(pos_of(token.span.start));
            expecting = false;
        }
    }
    starts
}

// ---------------------------------------------------------------------------------------
// Parse errors

/// Splits sqlparser's " at Line: X, Column: Y" suffix off an error message.
fn split_location(message: &str) -> (&str, Option<Pos>) {
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

fn parse_problem(
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
    let before = char_before(sql, at);
    let specific = match dialect {
        SqlDialect::DuckDb => {
            if found == Some("*") && before == Some('*') {
                Some("The `**` operator is not supported here; use pow(x, y).")
            } else if found.is_some_and(|f| f.starts_with('\''))
                && matches!(before, Some('e' | 'E'))
            {
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
            } else if found == Some("GLOB") {
                Some("The GLOB operator is not supported; use LIKE or regexp_matches().")
            } else if found == Some("FOR") {
                Some("List comprehensions are not supported; use list_transform / list_filter.")
            } else if found == Some("#") {
                Some("Positional column references (#1) are not supported; name the column.")
            } else if found == Some("%") || (found == Some("EOF") && upper.contains('%')) {
                Some("Percentage limits are not supported; use a plain LIMIT n.")
            } else {
                None
            }
        }
        SqlDialect::BigQuery => {
            if matches!(found, Some("MODEL" | "TABLE")) || upper.contains("(MODEL") {
                Some(
                    "Table-valued functions with MODEL or TABLE arguments (ML.*, VECTOR_SEARCH, \
                     APPENDS) are not allowed; select from tables directly.",
                )
            } else {
                None
            }
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

// ---------------------------------------------------------------------------------------
// Statement kinds

/// Collects the leading identifier of a Debug rendering and stops the rest early.
struct LeadingWord(String);

impl fmt::Write for LeadingWord {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if c.is_ascii_alphanumeric() || c == '_' {
                self.0.push(c);
            } else {
                return Err(fmt::Error);
            }
        }
        Ok(())
    }
}

/// Readable statement kind from the AST variant name, e.g. `CreateTable` → `CREATE TABLE`.
fn statement_kind(statement: &Statement) -> String {
    let mut word = LeadingWord(String::new());
    // Stops with an error at the first non-identifier character, by design.
    let _ = fmt::write(&mut word, format_args!("{statement:?}"));
    let variant = word.0;
    let fixed = match variant.as_str() {
        "AttachDatabase" | "AttachDuckDBDatabase" => Some("ATTACH"),
        "DetachDuckDBDatabase" => Some("DETACH"),
        "ExplainTable" => Some("DESCRIBE"),
        "StartTransaction" => Some("BEGIN"),
        "ExportData" => Some("EXPORT DATA"),
        "CreateFunction" => Some("CREATE FUNCTION"),
        "UNCache" => Some("UNCACHE"),
        _ => None,
    };
    if let Some(fixed) = fixed {
        return fixed.to_owned();
    }
    let mut out = String::new();
    let mut previous_lower = false;
    for c in variant.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push(' ');
        }
        previous_lower = c.is_ascii_lowercase();
        out.push(c.to_ascii_uppercase());
    }
    if out.is_empty() {
        "UNKNOWN".to_owned()
    } else {
        out
    }
}

fn not_query_hint(kind: &str, dialect: SqlDialect) -> String {
    let first = kind.split(' ').next().unwrap_or(kind);
    let specific = match first {
        "DESCRIBE" | "DESC" | "SHOW" | "SUMMARIZE" => {
            "To see columns, run `SELECT * FROM t LIMIT 0`; to profile data, write the \
             aggregates (count, min, max, …) yourself."
        }
        "DECLARE" | "SET" | "BEGIN" | "EXECUTE" | "IF" | "LOOP" | "WHILE" | "FOR" | "CALL"
            if dialect == SqlDialect::BigQuery =>
        {
            "BigQuery scripts and procedures are not allowed; write one SELECT and pass values \
             as query parameters (@name)."
        }
        "SET" | "RESET" | "PRAGMA" | "USE" => {
            "Settings are fixed by the runner and cannot be changed from a plan."
        }
        _ if dialect == SqlDialect::BigQuery => {
            "Write one read-only query: SELECT … or WITH … SELECT …. Writes, schema changes, \
             scripts, EXPORT DATA and procedure calls are not available in plans."
        }
        _ => {
            "Write one read-only query: SELECT …, WITH … SELECT …, or FROM … SELECT …. Writes, \
             schema changes, settings, file and extension commands are not available in plans."
        }
    };
    specific.to_owned()
}

// ---------------------------------------------------------------------------------------
// Tree walk

/// CTE names of one WITH clause and how many of them the code being visited can see.
struct CteFrame {
    /// The query that owns the WITH clause; compared by address only.
    owner: *const Query,
    /// Lower-cased CTE names, in order.
    names: Vec<String>,
    /// The CTE bodies, by address, to notice when the walk enters and leaves them.
    bodies: Vec<*const Query>,
    /// CTE `i` sees the names before it (and itself when RECURSIVE); the main body sees all.
    visible: usize,
    recursive: bool,
}

struct Checker<'p> {
    dialect: SqlDialect,
    policy: &'p BigQueryPolicy,
    /// Position used when a node carries no span: the start of the statement.
    fallback: Pos,
    problems: Vec<SqlProblem>,
    tables: Vec<String>,
    params: Vec<String>,
    cte_frames: Vec<CteFrame>,
    /// Lower-cased range-variable names of each enclosing SELECT's FROM (BigQuery array paths).
    alias_scopes: Vec<Vec<String>>,
}

impl Checker<'_> {
    fn at(&self, span: Span) -> Pos {
        if span.start.line == 0 {
            self.fallback
        } else {
            pos_of(span.start)
        }
    }

    fn report(&mut self, code: &'static str, message: String, hint: impl Into<String>, span: Span) {
        let at = self.at(span);
        self.problems.push(problem(code, message, hint, at));
    }

    fn add_table(&mut self, name: String) {
        if !self.tables.contains(&name) {
            self.tables.push(name);
        }
    }

    fn add_param(&mut self, placeholder: &str) {
        let name = placeholder
            .strip_prefix(['$', '@', ':'])
            .filter(|n| !n.is_empty())
            .unwrap_or(placeholder);
        if !self.params.iter().any(|p| p == name) {
            self.params.push(name.to_owned());
        }
    }

    fn cte_in_scope(&self, lower: &str) -> bool {
        self.cte_frames.iter().any(|frame| {
            frame
                .names
                .get(..frame.visible)
                .is_some_and(|names| names.iter().any(|n| n == lower))
        })
    }

    fn alias_in_scope(&self, lower: &str) -> bool {
        self.alias_scopes
            .iter()
            .any(|scope| scope.iter().any(|a| a == lower))
    }

    /// Body of every query node: only SELECT, set operations, VALUES and nested queries read.
    fn check_query_body(&mut self, query: &Query) {
        let mut pending = vec![query.body.as_ref()];
        while let Some(body) = pending.pop() {
            let kind = match body {
                SetExpr::SetOperation { left, right, .. } => {
                    pending.push(right);
                    pending.push(left);
                    continue;
                }
                SetExpr::Select(_) | SetExpr::Query(_) | SetExpr::Values(_) => continue,
                SetExpr::Insert(_) => "INSERT",
                SetExpr::Update(_) => "UPDATE",
                SetExpr::Delete(_) => "DELETE",
                SetExpr::Merge(_) => "MERGE",
                SetExpr::Table(table) => {
                    let name = table
                        .table_name
                        .as_ref()
                        .map(|n| n.value.clone())
                        .unwrap_or_default();
                    self.report(
                        codes::DATA_MODIFYING,
                        format!("the `TABLE {name}` shorthand is not allowed"),
                        format!("Write `SELECT * FROM {name}` instead."),
                        body.span(),
                    );
                    continue;
                }
            };
            self.report(
                codes::DATA_MODIFYING,
                format!("`{kind}` inside a query modifies data"),
                "Only read-only queries are allowed; remove the INSERT/UPDATE/DELETE/MERGE part \
                 (data-modifying CTEs included).",
                body.span(),
            );
        }
    }

    fn check_pipe_operators(&mut self, query: &Query) {
        for operator in &query.pipe_operators {
            if let PipeOperator::Call { function, .. } = operator {
                let name = function.name.to_string();
                self.report(
                    codes::TABLE_FUNCTION,
                    format!("table function `{name}` (pipe `CALL`) is not allowed"),
                    "Select from tables directly; table-valued functions are not allowed.",
                    function.name.span(),
                );
            }
        }
    }

    fn check_function(&mut self, function: &Function) {
        let span = function.name.span();
        let Some(parts) = name_parts(&function.name) else {
            self.report(
                codes::FORBIDDEN_FUNCTION,
                format!("computed function name `{}` is not allowed", function.name),
                "Call a built-in function by its plain name.",
                span,
            );
            return;
        };
        let display = parts.join(".");
        match self.dialect {
            SqlDialect::DuckDb => self.check_duckdb_function(&parts, &display, span),
            SqlDialect::BigQuery => self.check_bigquery_function(&parts, &display, span),
        }
    }

    fn check_duckdb_function(&mut self, parts: &[String], display: &str, span: Span) {
        let last = parts.last().map(|p| p.to_lowercase()).unwrap_or_default();
        if parts.len() > 1 {
            let message = match duckdb_danger(&last) {
                Some(danger) => format!(
                    "qualified function name `{display}` is not allowed; `{last}` is dangerous: \
                     it {}",
                    danger.what
                ),
                None => format!("qualified function name `{display}` is not allowed"),
            };
            self.report(
                codes::FORBIDDEN_FUNCTION,
                message,
                "Call built-in functions by their plain name, e.g. `lower(x)`; schema- or \
                 catalog-qualified names can reach functions outside the allowlist.",
                span,
            );
        } else if let Some(danger) = duckdb_danger(&last) {
            self.report(
                codes::FORBIDDEN_FUNCTION,
                format!(
                    "function `{display}` is dangerous and not allowed: it {}",
                    danger.what
                ),
                danger.hint,
                span,
            );
        } else if !duckdb_function_allowed(&last) {
            self.report(
                codes::FORBIDDEN_FUNCTION,
                format!("function `{display}` is not on the allowlist"),
                "Use an allowlisted built-in function (the list is DUCKDB_FUNCTIONS in \
                 src/validate/sql.rs); if a harmless function is missing, ask for it to be \
                 added there.",
                span,
            );
        }
    }

    fn check_bigquery_function(&mut self, parts: &[String], display: &str, span: Span) {
        let lower: Vec<String> = parts.iter().map(|p| p.to_lowercase()).collect();
        let (namespace, name) = match lower.as_slice() {
            [name] => (None, name.as_str()),
            [namespace, name] => (Some(namespace.as_str()), name.as_str()),
            _ => {
                self.report(
                    codes::FORBIDDEN_FUNCTION,
                    format!(
                        "multi-part function name `{display}` is not allowed: it names a \
                         user-defined or remote function"
                    ),
                    "Use built-in BigQuery functions only (SAFE.x and NET.x are allowed).",
                    span,
                );
                return;
            }
        };
        match namespace {
            // SAFE.x is the same function returning NULL on error; NET.x are pure functions.
            None | Some("safe") => {
                if let Some(what) = bigquery_danger(name) {
                    self.report(
                        codes::FORBIDDEN_FUNCTION,
                        format!("function `{display}` is dangerous and not allowed: it {what}"),
                        "Use built-in scalar and aggregate functions on the allowed tables only.",
                        span,
                    );
                }
            }
            Some("net") => {}
            Some(namespace @ ("ml" | "ai" | "aead" | "keys" | "obj" | "vector")) => {
                let what = match namespace {
                    "ml" | "ai" => {
                        "calls machine-learning or generative models (cost, data leaves the warehouse)"
                    }
                    "aead" | "keys" => "uses encryption keysets",
                    _ => "reads objects or indexes outside plain tables",
                };
                self.report(
                    codes::FORBIDDEN_FUNCTION,
                    format!("function `{display}` is dangerous and not allowed: it {what}"),
                    "Use built-in scalar and aggregate functions on the allowed tables only.",
                    span,
                );
            }
            Some(_) => self.report(
                codes::FORBIDDEN_FUNCTION,
                format!(
                    "multi-part function name `{display}` is not allowed: it names a \
                     user-defined or remote function"
                ),
                "Use built-in BigQuery functions only (SAFE.x and NET.x are allowed).",
                span,
            ),
        }
    }

    fn check_table_function(&mut self, name: &ObjectName, span: Span) {
        let parts = name_parts(name).unwrap_or_else(|| vec![name.to_string()]);
        let display = parts.join(".");
        let lower = display.to_lowercase();
        // range/generate_series/unnest take plain values and touch no files; the runtime
        // they can burn is bounded by the runner's timeout and interrupt, exactly like a
        // large cross join of registered tables, so refusing them would buy nothing.
        let allowed: &[&str] = match self.dialect {
            SqlDialect::DuckDb => &["range", "generate_series", "unnest"],
            SqlDialect::BigQuery => &["unnest"],
        };
        if allowed.contains(&lower.as_str()) {
            return;
        }
        let danger = match self.dialect {
            SqlDialect::DuckDb => duckdb_danger(&lower).map(|d| d.what),
            SqlDialect::BigQuery => bigquery_danger(&lower),
        };
        let message = match danger {
            Some(what) => {
                format!("table function `{display}` is dangerous and not allowed: it {what}")
            }
            None => format!("table function `{display}` is not allowed"),
        };
        let hint = match self.dialect {
            SqlDialect::DuckDb => {
                "Read only the plan's aliases and extracts, by name (`FROM alias`); the only \
                 table functions allowed are range, generate_series and unnest."
            }
            SqlDialect::BigQuery => {
                "Select from tables by name; UNNEST is the only function allowed in FROM."
            }
        };
        self.report(codes::TABLE_FUNCTION, message, hint, span);
    }

    fn check_relation(&mut self, name: &ObjectName, span: Span) {
        let mut idents: Vec<&Ident> = Vec::new();
        for part in &name.0 {
            match part {
                ObjectNamePart::Identifier(ident) => idents.push(ident),
                ObjectNamePart::Function(_) => {
                    self.report(
                        codes::TABLE_FUNCTION,
                        format!("computed table name `{name}` is not allowed"),
                        "Name the table directly.",
                        span,
                    );
                    return;
                }
            }
        }
        match self.dialect {
            SqlDialect::DuckDb => self.check_duckdb_relation(&idents, span),
            SqlDialect::BigQuery => self.check_bigquery_relation(&idents, span),
        }
    }

    fn check_duckdb_relation(&mut self, idents: &[&Ident], span: Span) {
        let display = idents
            .iter()
            .map(|i| i.value.as_str())
            .collect::<Vec<_>>()
            .join(".");
        let lower: Vec<String> = idents.iter().map(|i| i.value.to_lowercase()).collect();
        let joined = lower.join(".");
        if idents.iter().any(|i| i.quote_style == Some('\'')) {
            self.report(
                codes::FILE_TABLE,
                format!("`FROM '{display}'` reads a file or URL"),
                "Query a registered alias or extract table by name; the final step cannot read \
                 files.",
                span,
            );
            return;
        }
        if idents.iter().any(|i| looks_like_path(&i.value)) || has_file_extension(&joined) {
            self.report(
                codes::FILE_TABLE,
                format!("`{display}` looks like a file path; DuckDB would read it as a file"),
                "Query a registered alias or extract table by name; the final step cannot read \
                 files.",
                span,
            );
            return;
        }
        let table = lower.last().map(String::as_str).unwrap_or_default();
        let system = is_duckdb_system_relation(table)
            || lower.split_last().is_some_and(|(_, qualifiers)| {
                qualifiers
                    .iter()
                    .any(|q| DUCKDB_SYSTEM_SCHEMAS.contains(&q.as_str()))
            });
        // `name`, `main.name`, or `<extract>.<table>` with plain identifiers; nothing deeper.
        let shape_ok = match lower.as_slice() {
            [_] => true,
            [schema, _] if schema == "main" => true,
            [_, _] => idents.iter().all(|i| is_identifier(&i.value)),
            _ => false,
        };
        if system || !shape_ok {
            let message = if system {
                format!("`{display}` is a DuckDB catalog or metadata relation")
            } else {
                format!("table name `{display}` is not allowed")
            };
            self.report(
                codes::SYSTEM_TABLE,
                message,
                "Read only the plan's aliases and extracts: `name`, `main.name` or \
                 `<extract>.<table>`. Catalog, settings and metadata views are not available.",
                span,
            );
            return;
        }
        if lower.len() == 1 && self.cte_in_scope(table) {
            return;
        }
        let reported = match lower.as_slice() {
            [schema, table] if schema == "main" => table.clone(),
            _ => joined,
        };
        self.add_table(reported);
    }

    fn check_bigquery_relation(&mut self, idents: &[&Ident], span: Span) {
        // A backticked `a.b.c` may arrive as one identifier; BigQuery reads it as three.
        let parts: Vec<&str> = idents.iter().flat_map(|i| i.value.split('.')).collect();
        let display = parts.join(".");
        let lower = display.to_lowercase();
        if let [first, _] = parts.as_slice()
            && self.alias_in_scope(&first.to_lowercase())
        {
            // `FROM t AS u, u.items`: an array path of a range variable, not a table.
            return;
        }
        if parts.len() == 1 && self.cte_in_scope(&lower) {
            return;
        }
        self.add_table(lower);
        let restricted = !self.policy.allowed_datasets.is_empty();
        let metadata = parts.iter().any(|p| {
            p.eq_ignore_ascii_case("information_schema") || p.to_lowercase().starts_with("region-")
        });
        if metadata {
            if restricted {
                self.report(
                    codes::SYSTEM_TABLE,
                    format!("`{display}` is a BigQuery INFORMATION_SCHEMA (metadata) view"),
                    "Metadata views expose jobs, other users' query text and objects outside \
                     the allowed datasets; query tables in the allowed datasets instead.",
                    span,
                );
            }
            return;
        }
        if !restricted {
            return;
        }
        let default_project = self.policy.default_project.as_deref();
        let (project, dataset) = match parts.as_slice() {
            [project, dataset, _] => (*project, *dataset),
            [dataset, _] => match default_project {
                Some(project) => (project, *dataset),
                None => {
                    self.report(
                        codes::DATASET_NOT_ALLOWED,
                        format!("table `{display}` names no project and no default project is set"),
                        format!(
                            "Write the full name `project.{display}`; allowed datasets: {}.",
                            self.policy.allowed_datasets.join(", ")
                        ),
                        span,
                    );
                    return;
                }
            },
            _ => {
                self.report(
                    codes::DATASET_NOT_ALLOWED,
                    format!("table name `{display}` does not name a dataset"),
                    format!(
                        "Qualify it as `dataset.table` or `project.dataset.table`; allowed \
                         datasets: {}.",
                        self.policy.allowed_datasets.join(", ")
                    ),
                    span,
                );
                return;
            }
        };
        if !dataset_allowed(self.policy, project, dataset) {
            self.report(
                codes::DATASET_NOT_ALLOWED,
                format!("dataset `{project}.{dataset}` (in `{display}`) is not allowed"),
                format!(
                    "Read only from the allowed datasets: {}.",
                    self.policy.allowed_datasets.join(", ")
                ),
                span,
            );
        }
    }

    fn check_table_factor(&mut self, factor: &TableFactor) {
        match factor {
            TableFactor::Table { name, args, .. } => {
                if args.is_some() {
                    self.check_table_function(name, name.span());
                } else {
                    self.check_relation(name, name.span());
                }
            }
            TableFactor::Function { name, .. } => self.check_table_function(name, name.span()),
            // Their inner queries, relations and expressions are visited on their own.
            TableFactor::Derived { .. }
            | TableFactor::NestedJoin { .. }
            | TableFactor::UNNEST { .. }
            | TableFactor::Pivot { .. }
            | TableFactor::Unpivot { .. } => {}
            other => {
                let mut word = LeadingWord(String::new());
                let _ = fmt::write(&mut word, format_args!("{other:?}"));
                self.report(
                    codes::TABLE_FUNCTION,
                    format!("table source `{}` is not allowed", word.0),
                    "Select from tables, subqueries or UNNEST only.",
                    other.span(),
                );
            }
        }
    }
}

impl Visitor for Checker<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let address: *const Query = query;
        if let Some(frame) = self.cte_frames.last_mut()
            && let Some(i) = frame.bodies.iter().position(|b| std::ptr::eq(*b, address))
        {
            frame.visible = if frame.recursive { i + 1 } else { i };
        }
        if let Some(with) = &query.with {
            self.cte_frames.push(CteFrame {
                owner: address,
                names: with
                    .cte_tables
                    .iter()
                    .map(|cte| cte.alias.name.value.to_lowercase())
                    .collect(),
                bodies: with
                    .cte_tables
                    .iter()
                    .map(|cte| -> *const Query { &*cte.query })
                    .collect(),
                visible: 0,
                recursive: with.recursive,
            });
        }
        self.check_query_body(query);
        self.check_pipe_operators(query);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let address: *const Query = query;
        if self
            .cte_frames
            .last()
            .is_some_and(|frame| std::ptr::eq(frame.owner, address))
        {
            self.cte_frames.pop();
        }
        if let Some(frame) = self.cte_frames.last_mut()
            && let Some(i) = frame.bodies.iter().position(|b| std::ptr::eq(*b, address))
        {
            frame.visible = i + 1;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        if select.into.is_some() {
            self.report(
                codes::DATA_MODIFYING,
                "`SELECT … INTO` creates a table".to_owned(),
                "Remove the INTO clause; the runner stores the result.",
                select.select_token.0.span,
            );
        }
        let mut scope = Vec::new();
        if self.dialect == SqlDialect::BigQuery {
            collect_range_variables(&select.from, &mut scope);
        }
        self.alias_scopes.push(scope);
        ControlFlow::Continue(())
    }

    fn post_visit_select(&mut self, _select: &Select) -> ControlFlow<()> {
        self.alias_scopes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        self.check_table_factor(factor);
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        match expr {
            Expr::Function(function) => self.check_function(function),
            // `x IN name` reads a relation outside FROM. Only the SQLite dialect parses it
            // today; checking it here keeps that true if a dialect starts to.
            Expr::In {
                target: InTarget::Table { name, args },
                ..
            } => {
                if args.is_some() {
                    self.check_table_function(name, name.span());
                } else {
                    self.check_relation(name, name.span());
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_value(&mut self, value: &ValueWithSpan) -> ControlFlow<()> {
        if let Value::Placeholder(placeholder) = &value.value {
            self.add_param(placeholder);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_ident(&mut self, ident: &Ident) -> ControlFlow<()> {
        // sqlparser's BigQuery dialect reads `@name` as an identifier; `@@x` are system variables.
        if self.dialect == SqlDialect::BigQuery
            && ident.quote_style.is_none()
            && ident.value.starts_with('@')
            && !ident.value.starts_with("@@")
        {
            self.add_param(&ident.value);
        }
        ControlFlow::Continue(())
    }
}

/// Name parts with quotes removed, dotted identifiers split; `None` for computed names.
fn name_parts(name: &ObjectName) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    for part in &name.0 {
        match part {
            ObjectNamePart::Identifier(ident) => {
                parts.extend(ident.value.split('.').map(str::to_owned));
            }
            ObjectNamePart::Function(_) => return None,
        }
    }
    Some(parts)
}

fn collect_range_variables(from: &[TableWithJoins], out: &mut Vec<String>) {
    for item in from {
        range_variable(&item.relation, out);
        for join in &item.joins {
            range_variable(&join.relation, out);
        }
    }
}

fn range_variable(factor: &TableFactor, out: &mut Vec<String>) {
    match factor {
        TableFactor::Table { name, alias, .. } => match alias {
            Some(alias) => out.push(alias.name.value.to_lowercase()),
            // An unaliased table is its own range variable, named by its last part.
            None => {
                if let Some(last) = name_parts(name).and_then(|p| p.last().cloned()) {
                    out.push(last.to_lowercase());
                }
            }
        },
        TableFactor::NestedJoin {
            table_with_joins,
            alias,
        } => {
            if let Some(alias) = alias {
                out.push(alias.name.value.to_lowercase());
            }
            collect_range_variables(std::slice::from_ref(table_with_joins.as_ref()), out);
        }
        TableFactor::Derived { alias, .. }
        | TableFactor::UNNEST { alias, .. }
        | TableFactor::Function { alias, .. }
        | TableFactor::Pivot { alias, .. }
        | TableFactor::Unpivot { alias, .. } => {
            if let Some(alias) = alias {
                out.push(alias.name.value.to_lowercase());
            }
        }
        _ => {}
    }
}

fn dataset_allowed(policy: &BigQueryPolicy, project: &str, dataset: &str) -> bool {
    policy.allowed_datasets.iter().any(|entry| {
        let entry = entry.trim().trim_matches('`');
        match entry.split_once('.') {
            // Project IDs are lower-case and matched as such; dataset names are case-sensitive.
            Some((p, d)) => !d.contains('.') && p.eq_ignore_ascii_case(project) && d == dataset,
            None => {
                policy
                    .default_project
                    .as_deref()
                    .is_some_and(|dp| dp.eq_ignore_ascii_case(project))
                    && entry == dataset
            }
        }
    })
}

// ---------------------------------------------------------------------------------------
// DuckDB names

/// Schemas whose tables are catalog metadata or session state, never plan data.
const DUCKDB_SYSTEM_SCHEMAS: &[&str] = &["information_schema", "pg_catalog", "system", "temp"];

fn is_duckdb_system_relation(lower: &str) -> bool {
    matches!(
        lower,
        "information_schema" | "pg_catalog" | "_remote_attach" | "_remote_links" | "_meta"
    ) || ["duckdb_", "pragma_", "pg_", "sqlite_"]
        .iter()
        .any(|prefix| lower.starts_with(prefix))
}

/// Extensions that make DuckDB's replacement scans read a file.
const FILE_EXTENSIONS: &[&str] = &[
    "arrow", "avro", "bz2", "csv", "db", "ddb", "delta", "duckdb", "feather", "gz", "iceberg",
    "ipc", "json", "jsonl", "lz4", "ndjson", "orc", "parq", "parquet", "sqlite", "sqlite3", "tar",
    "tsv", "txt", "xls", "xlsx", "xz", "zip", "zst", "zstd",
];

fn looks_like_path(value: &str) -> bool {
    // A dot inside one identifier can only come from quoting, and DuckDB treats such a
    // name as a file when no table matches it.
    value.contains(['/', '\\', ':', '~', '*', '?', '.'])
}

fn has_file_extension(lower: &str) -> bool {
    lower
        .rsplit_once('.')
        .is_some_and(|(_, extension)| FILE_EXTENSIONS.contains(&extension))
}

/// Why a DuckDB function is refused outright, rather than merely not allowlisted.
#[derive(Clone, Copy)]
struct Danger {
    what: &'static str,
    hint: &'static str,
}

const READS_FILES: Danger = Danger {
    what: "reads files or URLs",
    hint: "Read only the plan's aliases and extracts, by name.",
};
const RUNS_SQL: Danger = Danger {
    what: "runs SQL built from strings, which the validator cannot see",
    hint: "Write the query directly.",
};
const METADATA: Danger = Danger {
    what: "exposes database metadata, settings, variables or secrets",
    hint: "Query the plan's aliases and extracts only.",
};
const SIDE_EFFECTS: Danger = Danger {
    what: "has side effects (writes files or logs, changes configuration or sequences)",
    hint: "Plans may only read; remove the call.",
};
const SLEEPS: Danger = Danger {
    what: "blocks for a long time, beyond the query timeout",
    hint: "Remove the call.",
};
const REMOTE: Danger = Danger {
    what: "queries an external database",
    hint: "Declare the data as a BigQuery alias or an extract instead.",
};

fn duckdb_danger(lower: &str) -> Option<Danger> {
    let exact = match lower {
        "glob" | "sniff_csv" | "csv_scan" | "json_scan" | "arrow_scan" | "seq_scan"
        | "pandas_scan" | "list_files" | "write_csv" | "write_parquet" | "copy_database"
        | "import_database" | "export_database" => Some(READS_FILES),
        "getenv" | "current_setting" | "getvariable" | "which_secret" | "in_search_path" => {
            Some(METADATA)
        }
        "query"
        | "query_table"
        | "json_serialize_sql"
        | "json_deserialize_sql"
        | "json_serialize_plan"
        | "from_substrait"
        | "from_substrait_json"
        | "get_substrait"
        | "get_substrait_json" => Some(RUNS_SQL),
        "sleep_ms" | "pg_sleep" => Some(SLEEPS),
        "write_log"
        | "checkpoint"
        | "force_checkpoint"
        | "truncate_duckdb_logs"
        | "nextval"
        | "setval"
        | "currval"
        | "setseed"
        | "start_ui"
        | "start_ui_server"
        | "stop_ui_server"
        | "load_aws_credentials"
        | "add_parquet_key"
        | "register_external_resource"
        | "create_external_resource"
        | "destroy_external_resource"
        | "deregister_external_resource"
        | "add_grammar_extension"
        | "remove_grammar_extension" => Some(SIDE_EFFECTS),
        _ => None,
    };
    if exact.is_some() {
        return exact;
    }
    const PREFIXES: &[(&str, Danger)] = &[
        ("read_", READS_FILES),
        ("parquet_", READS_FILES),
        ("st_read", READS_FILES),
        ("iceberg_", READS_FILES),
        ("delta_", READS_FILES),
        ("http_", READS_FILES),
        ("json_execute", RUNS_SQL),
        ("duckdb_", METADATA),
        ("pragma_", METADATA),
        ("pg_", METADATA),
        ("enable_", SIDE_EFFECTS),
        ("disable_", SIDE_EFFECTS),
        ("bigquery_", REMOTE),
        ("postgres_", REMOTE),
        ("mysql_", REMOTE),
        ("sqlite_", REMOTE),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| lower.starts_with(prefix))
        .map(|(_, danger)| *danger)
}

fn duckdb_function_allowed(lower: &str) -> bool {
    DUCKDB_FUNCTIONS
        .iter()
        .any(|group| group.split_ascii_whitespace().any(|name| name == lower))
}

/// DuckDB functions an analyst may call, lower-cased, grouped by kind. Built from
/// `duckdb_functions()` of DuckDB 2.0 (core, json and icu), minus everything that touches
/// files, settings, catalogs, sequences or the session, plus names the parser treats
/// specially (`coalesce`, `columns`, `grouping`, `current_timestamp`, …). Unknown functions
/// are refused, so a harmless missing one only costs an addition here.
const DUCKDB_FUNCTIONS: &[&str] = &[
    // aggregate and window
    "any_value approx_count_distinct approx_quantile approx_top_k arbitrary arg_max \
     arg_max_null arg_max_nulls_last arg_min arg_min_null arg_min_nulls_last argmax argmin \
     array_agg avg bit_and bit_or bit_xor bitstring_agg bool_and bool_or corr count count_if \
     countif covar_pop covar_samp cume_dist dense_rank entropy favg fill first first_value fsum \
     geomean geometric_mean group_concat grouping grouping_id histogram histogram_exact \
     kahan_sum kurtosis kurtosis_pop lag last last_value lead list listagg lttb mad max max_by \
     mean median min min_by mode nth_value ntile percent_rank percentile_cont percentile_disc \
     product quantile quantile_cont quantile_disc rank rank_dense regr_avgx regr_avgy \
     regr_count regr_intercept regr_r2 regr_slope regr_sxx regr_sxy regr_syy \
     reservoir_quantile row_number sem skewness stddev stddev_pop stddev_samp string_agg sum \
     sumkahan var_pop var_samp variance variant_group_object wavg weighted_avg",
    // list and array
    "aggregate apply array array_aggr array_aggregate array_append array_apply array_cat \
     array_concat array_contains array_cosine_distance array_cosine_similarity \
     array_cross_product array_distance array_distinct array_dot_product array_extract \
     array_filter array_grade_up array_has array_has_all array_has_any array_indexof \
     array_inner_product array_intersect array_length array_negative_dot_product \
     array_negative_inner_product array_pop_back array_pop_front array_position array_prepend \
     array_push_back array_push_front array_reduce array_resize array_reverse \
     array_reverse_sort array_select array_slice array_sort array_to_json array_to_string \
     array_to_string_comma_default array_transform array_unique array_value array_where \
     array_zip cardinality element_at filter flatten generate_series generate_subscripts \
     grade_up len list_aggr list_aggregate list_any_value list_append list_apply \
     list_approx_count_distinct list_avg list_bit_and list_bit_or list_bit_xor list_bool_and \
     list_bool_or list_cat list_concat list_contains list_cosine_distance \
     list_cosine_similarity list_count list_distance list_distinct list_dot_product \
     list_element list_entropy list_extract list_filter list_first list_grade_up list_has \
     list_has_all list_has_any list_histogram list_indexof list_inner_product list_intersect \
     list_kurtosis list_kurtosis_pop list_last list_mad list_max list_median list_min \
     list_mode list_negative_dot_product list_negative_inner_product list_pack list_position \
     list_prepend list_product list_reduce list_resize list_reverse list_reverse_sort \
     list_select list_sem list_skewness list_slice list_sort list_stddev_pop list_stddev_samp \
     list_string_agg list_sum list_transform list_unique list_value list_var_pop \
     list_var_samp list_where list_zip range reduce unnest",
    // struct, map, union and variant
    "map map_concat map_contains map_contains_entry map_contains_value map_entries \
     map_extract map_extract_value map_from_entries map_keys map_values remap_struct row \
     struct struct_concat struct_contains struct_extract struct_extract_at struct_has \
     struct_indexof struct_insert struct_keys struct_pack struct_position struct_update \
     struct_values union_extract union_tag union_value variant_array_length \
     variant_comparator variant_contains variant_exists variant_extract \
     variant_extract_string variant_group_array variant_keys variant_normalize variant_type \
     variant_typeof",
    // json
    "from_json from_json_strict json json_array json_array_length json_contains \
     json_deep_merge json_exists json_extract json_extract_path json_extract_path_text \
     json_extract_string json_group_array json_group_object json_group_structure json_insert \
     json_keys json_merge_patch json_merge_patch_diff json_normalize json_object json_pretty \
     json_quote json_remove json_replace json_set json_strip_nulls json_structure \
     json_transform json_transform_strict json_type json_valid json_value row_to_json to_json",
    // date and time
    "age ago century current_date current_localtime current_localtimestamp current_time \
     current_timestamp date_add date_diff date_part date_sub date_trunc datediff datepart \
     datesub datetrunc day dayname dayofmonth dayofweek dayofyear days_in_month decade epoch \
     epoch_ms epoch_ns epoch_us era get_current_time get_current_timestamp hour isodow \
     isoyear julian last_day localtime localtimestamp make_date make_time make_timestamp \
     make_timestamp_ms make_timestamp_ns make_timestamptz microsecond millennium millisecond \
     minute month monthname nanosecond normalized_interval now quarter second strftime \
     strptime time_bucket timezone timezone_hour timezone_minute to_centuries to_days \
     to_decades to_hours to_microseconds to_millennia to_milliseconds to_minutes to_months \
     to_quarters to_seconds to_timestamp to_weeks to_years today transaction_timestamp \
     try_strptime week weekday weekofyear year yearweek",
    // string and regular expressions
    "ascii bar char_length character_length chr concat concat_ws contains \
     damerau_levenshtein editdist3 ends_with format format_bytes formatreadabledecimalsize \
     formatreadablesize hamming ilike_escape instr jaccard jaro_similarity \
     jaro_winkler_similarity lcase left left_grapheme length length_grapheme levenshtein \
     like_escape lower lpad ltrim mismatches nfc_normalize not_ilike_escape not_like_escape \
     octet_length ord overlay parse_dirname parse_dirpath parse_filename parse_formatted_bytes \
     parse_path path_join position prefix printf regexp_escape regexp_extract \
     regexp_extract_all regexp_full_match regexp_matches regexp_replace regexp_split_to_array \
     regexp_split_to_table repeat replace reverse right right_grapheme rpad rtrim split \
     split_part starts_with str_split str_split_regex string_split string_split_regex \
     string_to_array strip_accents strlen strpos substr substring substring_grapheme suffix \
     translate trim ucase unicode upper url_decode url_encode",
    // math and bits
    "abs acos acosh add asin asinh atan atan2 atanh bit_count bit_length bit_position \
     bitstring cbrt ceil ceiling cos cosh cot degrees divide even exp factorial fdiv floor fmod \
     gamma gcd get_bit greatest greatest_common_divisor isfinite isinf isnan lcm least \
     least_common_multiple lgamma ln log log10 log2 mod multiply nextafter pi pow power radians \
     random round round_even roundbankers set_bit sign signbit sin sinh sqrt subtract tan tanh \
     trunc xor",
    // conditionals, conversion, hashing, enums and ids
    "base64 bin binom coalesce columns decode encode enum_code enum_first enum_last enum_range \
     enum_range_boundary equi_width_bins from_base64 from_binary from_hex gen_random_uuid hash \
     hex if ifnull is_histogram_other_bin md5 md5_number md5_number_lower md5_number_upper \
     nullif sha1 sha256 switch to_base to_base64 to_binary to_hex typeof unbin unhex uuid \
     uuid_extract_timestamp uuid_extract_version uuidv4 uuidv7",
];

// ---------------------------------------------------------------------------------------
// BigQuery names

/// BigQuery functions refused by name. BigQuery has too many built-ins (and adds them too
/// often) for an allowlist to stay usable, and its dangerous reads live in a few places:
/// federated queries, identity, ML/AI, keys, and UDFs or remote functions — the last three
/// are qualified names, which the multi-part rule refuses. IAM and dry runs back this up.
fn bigquery_danger(lower: &str) -> Option<&'static str> {
    match lower {
        "external_query" => Some("runs SQL in an external database through a stored connection"),
        "session_user" => Some("discloses the identity the query runs as"),
        "vector_search"
        | "external_object_transform"
        | "appends"
        | "changes"
        | "gap_fill"
        | "range_sessionize" => Some("is a table-valued function over objects outside the query"),
        "deterministic_encrypt"
        | "deterministic_decrypt_bytes"
        | "deterministic_decrypt_string" => Some("uses encryption keysets"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use SqlDialect::{BigQuery as Bq, DuckDb as Duck};

    const NO_POLICY: BigQueryPolicy = BigQueryPolicy {
        default_project: None,
        allowed_datasets: Vec::new(),
    };

    fn codes_of(sql: &str, dialect: SqlDialect, policy: &BigQueryPolicy) -> Vec<&'static str> {
        let mut found: Vec<&'static str> = analyze(sql, dialect, policy)
            .problems
            .iter()
            .map(|p| p.code)
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Describes how the codes found differ from the codes wanted, if they do.
    fn mismatch(
        name: &str,
        sql: &str,
        dialect: SqlDialect,
        policy: &BigQueryPolicy,
        want: &[&str],
    ) -> Option<String> {
        let mut want = want.to_vec();
        want.sort_unstable();
        let analysis = analyze(sql, dialect, policy);
        let mut got: Vec<&str> = analysis.problems.iter().map(|p| p.code).collect();
        got.sort_unstable();
        got.dedup();
        (got != want).then(|| {
            format!(
                "case `{name}` {sql:?}: want {want:?}, got {:#?}",
                analysis.problems
            )
        })
    }

    fn expect(name: &str, sql: &str, dialect: SqlDialect, policy: &BigQueryPolicy, want: &[&str]) {
        if let Some(failure) = mismatch(name, sql, dialect, policy, want) {
            panic!("{failure}");
        }
    }

    const OK: &[&str] = &[];
    const CONTROL: &str = codes::CONTROL_CHAR;
    const UNICODE: &str = codes::UNICODE_WHITESPACE;
    const PARSE: &str = codes::PARSE_ERROR;
    const EMPTY: &str = codes::EMPTY;
    const MULTI: &str = codes::MULTIPLE_STATEMENTS;
    const NOT_QUERY: &str = codes::NOT_QUERY;
    const MODIFYING: &str = codes::DATA_MODIFYING;
    const FILE: &str = codes::FILE_TABLE;
    const TABLE_FN: &str = codes::TABLE_FUNCTION;
    const SYSTEM: &str = codes::SYSTEM_TABLE;
    const FUNCTION: &str = codes::FORBIDDEN_FUNCTION;
    const DATASET: &str = codes::DATASET_NOT_ALLOWED;

    /// (name, sql, dialect, expected codes) — without a BigQuery policy.
    #[rustfmt::skip]
    const CASES: &[(&str, &str, SqlDialect, &[&str])] = &[
        // --- agnes §3.1: accepted by the DuckDB validator
        ("select id", "SELECT id FROM orders", Duck, OK),
        ("with cte", "WITH cte AS (SELECT 1 AS x) SELECT x FROM cte", Duck, OK),
        ("lower-case count", "select count(*) from orders", Duck, OK),
        ("lower-case with", "with t as (select 1) select * from t", Duck, OK),
        ("trailing semicolon", "SELECT id FROM orders;", Duck, OK),
        ("trailing semicolon lower", "select count(*) from orders;", Duck, OK),
        ("leading comment", "-- leading comment\nSELECT 1 AS x", Duck, OK),
        ("two comments", "-- one\n-- two\nSELECT 1 AS x", Duck, OK),
        ("block comment", "/* block comment */ SELECT 1 AS x", Duck, OK),
        ("multi-line block before with", "/* a\n b\n*/\nWITH t AS (SELECT 1) SELECT * FROM t", Duck, OK),
        ("slash-star-slash header", "/*/ header */ SELECT 1", Duck, OK),
        ("join", "SELECT o.id, l.label FROM orders o JOIN bq_labels l ON o.id = l.id", Duck, OK),
        ("nonexistent table still parses", "SELECT * FROM nonexistent_table", Duck, OK),
        // --- agnes §3.4: accepted
        ("select as test;", "SELECT 1 as test;", Duck, OK),
        ("two literals", "SELECT 1 as test, 'hello' as msg", Duck, OK),
        ("identity alias", "SELECT 1 as identity, 2 as valid_id", Duck, OK),
        // --- the reference's false positives
        ("last_update column", "SELECT last_update FROM t", Duck, OK),
        ("call column", "SELECT call FROM t", Duck, OK),
        ("semicolon in string", "SELECT ';' AS s", Duck, OK),
        ("path in string", "SELECT * FROM t WHERE p = '/home'", Duck, OK),
        ("url in string", "SELECT 'https://x' AS u", Duck, OK),
        ("drop in comment", "-- drop this\nSELECT 1", Duck, OK),
        ("from-first", "FROM orders SELECT *", Duck, OK),
        ("created_at call_id", "SELECT created_at, call_id FROM t", Duck, OK),
        ("duckdb param", "SELECT * FROM t WHERE d > $since", Duck, OK),
        ("select 1;", "SELECT 1;", Duck, OK),
        ("union all", "select 1 union all select 2", Duck, OK),
        ("keywords in strings", "SELECT 'drop table clicked' AS e, 'duckdb_settings()' AS l", Duck, OK),
        ("read_csv in a string", "SELECT 'SELECT * FROM read_csv(''/etc/passwd'')' AS doc", Duck, OK),
        ("split_part slash", "SELECT split_part(url, '/', 3), starts_with(path, '../') FROM t", Duck, OK),
        ("string_agg semicolon", "SELECT string_agg(x, '; ') FROM t", Duck, OK),
        ("nbsp inside string", "SELECT 'a\u{a0}b' AS s", Duck, OK),
        ("comment with semicolon", "-- do not DROP this; LOAD weekly\nSELECT 1", Duck, OK),
        ("quoted keyword aliases", "SELECT 1 AS \"drop table\", 2 AS \"load\"", Duck, OK),
        // --- DuckDB syntax an analyst uses
        ("analyst functions", "SELECT date_trunc('month', d), strftime(d, '%Y'), regexp_extract(s, 'a(b)', 1), \
            list_transform(l, x -> x + 1), coalesce(a, b), round(v, 2), sum(v), approx_count_distinct(u), \
            string_agg(s, ','), split_part(s, '-', 1), starts_with(s, 'a'), epoch_ms(1), make_date(2020, 1, 1), \
            struct_pack(a := 1) FROM t GROUP BY ALL", Duck, OK),
        ("window and qualify", "SELECT a, row_number() OVER (PARTITION BY a ORDER BY b DESC) AS rn FROM t QUALIFY rn = 1", Duck, OK),
        ("casts and case", "SELECT x::INT, CAST(y AS DATE), TRY_CAST(z AS DOUBLE), CASE WHEN a > 1 THEN 'x' ELSE 'y' END FROM t", Duck, OK),
        ("literals", "SELECT {'a': 1} AS s, [1, 2, 3][1:2] AS l, MAP {'k': 1} AS m, lambda x: x + 1 AS f", Duck, OK),
        ("filter and percentile", "SELECT count(*) FILTER (WHERE a > 1), percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM t", Duck, OK),
        ("exclude and columns", "SELECT * EXCLUDE (a), COLUMNS('x_.*') FROM t", Duck, OK),
        ("distinct on, order by all", "SELECT DISTINCT ON (a) a, b FROM t ORDER BY ALL", Duck, OK),
        ("main-qualified", "SELECT * FROM main.orders", Duck, OK),
        ("extract-qualified", "SELECT * FROM crm.accounts", Duck, OK),
        ("recursive cte", "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r", Duck, OK),
        ("range table function", "SELECT * FROM range(10) t(x)", Duck, OK),
        ("unnest in from", "SELECT * FROM t, unnest(t.l) AS u(x)", Duck, OK),
        ("pivot in from", "SELECT * FROM t PIVOT (sum(v) FOR k IN ('a', 'b'))", Duck, OK),
        ("positional join", "SELECT * FROM t POSITIONAL JOIN u", Duck, OK),
        ("interval and extract", "SELECT d + INTERVAL 1 DAY, EXTRACT(year FROM d), current_date FROM t", Duck, OK),
        ("exists subquery", "SELECT * FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.id = a.id)", Duck, OK),
        ("values", "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) v(id, name)", Duck, OK),
        // --- agnes §3.1 / §3.4: rejected
        ("drop", "DROP TABLE foo", Duck, &[NOT_QUERY]),
        ("drop if exists", "DROP TABLE IF EXISTS users", Duck, &[NOT_QUERY]),
        ("delete", "DELETE FROM foo", Duck, &[NOT_QUERY]),
        ("insert", "INSERT INTO foo VALUES (1)", Duck, &[NOT_QUERY]),
        ("update", "UPDATE foo SET x=1", Duck, &[NOT_QUERY]),
        ("alter", "ALTER TABLE foo ADD COLUMN y INT", Duck, &[NOT_QUERY]),
        ("create", "CREATE TABLE foo (x INT)", Duck, &[NOT_QUERY]),
        ("create as", "CREATE TABLE t AS SELECT 1", Duck, &[NOT_QUERY]),
        ("copy to", "COPY foo TO '/tmp/out.csv'", Duck, &[NOT_QUERY]),
        ("copy query to", "COPY (SELECT 1) TO '/tmp/pwned.csv'", Duck, &[NOT_QUERY]),
        ("attach", "ATTACH '/db.duckdb'", Duck, &[NOT_QUERY]),
        ("attach as", "ATTACH 'x.duckdb' AS x", Duck, &[NOT_QUERY]),
        ("detach", "DETACH db", Duck, &[NOT_QUERY]),
        ("load", "LOAD 'extension'", Duck, &[NOT_QUERY]),
        ("install", "INSTALL httpfs", Duck, &[NOT_QUERY]),
        ("read_parquet scalar", "SELECT read_parquet('/data/file.parquet')", Duck, &[FUNCTION]),
        ("file path table", "SELECT * FROM '../secret/file'", Duck, &[FILE]),
        ("select then drop", "SELECT 1; DROP TABLE foo", Duck, &[MULTI, NOT_QUERY]),
        ("two selects", "SELECT 1; SELECT 2", Duck, &[MULTI]),
        ("double semicolon", "SELECT 1;;", Duck, &[MULTI]),
        ("read_csv_auto", "SELECT * FROM read_csv_auto('/etc/passwd')", Duck, &[TABLE_FN]),
        ("parquet_scan", "SELECT * FROM parquet_scan('/data/extracts/secret.parquet')", Duck, &[TABLE_FN]),
        ("query_table", "SELECT * FROM query_table('secret_table')", Duck, &[TABLE_FN]),
        ("information_schema", "SELECT table_name FROM information_schema.tables", Duck, &[SYSTEM]),
        ("Information_Schema mixed case", "SELECT * FROM Information_Schema.Tables", Duck, &[SYSTEM]),
        ("duckdb_tables()", "SELECT * FROM duckdb_tables()", Duck, &[TABLE_FN]),
        ("duckdb_columns()", "SELECT * FROM duckdb_columns()", Duck, &[TABLE_FN]),
        ("duckdb_databases()", "SELECT * FROM duckdb_databases()", Duck, &[TABLE_FN]),
        ("read_parquet dotdot", "SELECT * FROM read_parquet('../secret/data.parquet')", Duck, &[TABLE_FN]),
        ("pragma_table_info", "SELECT * FROM pragma_table_info('users')", Duck, &[TABLE_FN]),
        ("bigquery_query", "SELECT bigquery_query('p', 'select 1')", Duck, &[FUNCTION]),
        ("BigQuery_Query mixed case", "SELECT BigQuery_Query('p', 'select 1')", Duck, &[FUNCTION]),
        ("bigquery_query space", "SELECT bigquery_query ('p', 'select 1')", Duck, &[FUNCTION]),
        ("comment only", "-- just a comment", Duck, &[EMPTY]),
        ("block comment only", "/* nothing */", Duck, &[EMPTY]),
        ("empty", "", Duck, &[EMPTY]),
        ("whitespace", "  \n\t ", Duck, &[EMPTY]),
        ("slash-star-slash set", "/*/ SELECT 1 */ SET memory_limit='1GB'", Duck, &[NOT_QUERY]),
        ("drop tab", "DROP\tTABLE x", Duck, &[NOT_QUERY]),
        // --- security.md §2.2 bypasses
        ("read_text", "SELECT read_text('/etc/passwd')", Duck, &[FUNCTION]),
        ("quoted Read_Text", "SELECT \"Read_Text\"('/etc/passwd')", Duck, &[FUNCTION]),
        ("upper READ_TEXT", "SELECT READ_TEXT('/etc/passwd')", Duck, &[FUNCTION]),
        ("system.main.read_text", "SELECT system.main.read_text('/etc/passwd')", Duck, &[FUNCTION]),
        ("system.main.current_setting", "SELECT system.main.current_setting('secret_directory')", Duck, &[FUNCTION]),
        ("from read_text", "SELECT * FROM read_text('/etc/passwd')", Duck, &[TABLE_FN]),
        ("from file.csv", "SELECT * FROM 'file.csv'", Duck, &[FILE]),
        ("from secrets.csv", "FROM secrets.csv", Duck, &[FILE]),
        ("from quoted path", "FROM \"dir/file.parquet\"", Duck, &[FILE]),
        ("from quoted dotted", "SELECT * FROM \"secrets.json\"", Duck, &[FILE]),
        ("from tilde", "SELECT * FROM \"~/.ssh/id_rsa\"", Duck, &[FILE]),
        ("from url", "SELECT * FROM 'https://example.com/x.parquet'", Duck, &[FILE]),
        ("query()", "SELECT * FROM query('SELECT 1')", Duck, &[TABLE_FN]),
        ("json_execute_serialized_sql", "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))", Duck, &[TABLE_FN, FUNCTION]),
        ("CR comment trick", "SELECT a FROM orders --\r, read_text('x')", Duck, &[CONTROL]),
        ("NBSP delete", "DELETE\u{a0}FROM t", Duck, &[UNICODE, NOT_QUERY]),
        ("NUL byte", "SELECT 1\0", Duck, &[CONTROL, PARSE]),
        ("line separator", "SELECT\u{2028}1", Duck, &[UNICODE]),
        ("zero-width space", "SELECT\u{200b} 1", Duck, &[UNICODE, PARSE]),
        ("duckdb_settings()", "SELECT * FROM duckdb_settings()", Duck, &[TABLE_FN]),
        ("duckdb_settings view", "SELECT * FROM duckdb_settings", Duck, &[SYSTEM]),
        ("main.duckdb_tables", "SELECT * FROM main.duckdb_tables", Duck, &[SYSTEM]),
        ("system schema", "SELECT * FROM system.main.duckdb_settings", Duck, &[SYSTEM]),
        ("temp schema", "SELECT * FROM temp.orders", Duck, &[SYSTEM]),
        ("pg_catalog", "SELECT * FROM pg_catalog.pg_class", Duck, &[SYSTEM]),
        ("sqlite_master", "SELECT * FROM sqlite_master", Duck, &[SYSTEM]),
        ("_remote_attach", "SELECT * FROM _remote_attach", Duck, &[SYSTEM]),
        ("_meta", "SELECT * FROM _meta", Duck, &[SYSTEM]),
        ("current_setting", "SELECT current_setting('secret_directory')", Duck, &[FUNCTION]),
        ("getenv", "SELECT getenv('HOME')", Duck, &[FUNCTION]),
        ("getvariable", "SELECT getvariable('x')", Duck, &[FUNCTION]),
        ("method-call getenv", "SELECT 'HOME'.getenv()", Duck, &[FUNCTION]),
        ("sleep_ms", "SELECT sleep_ms(3600000)", Duck, &[FUNCTION]),
        ("pg_sleep", "SELECT pg_sleep(3600)", Duck, &[FUNCTION]),
        ("write_log", "SELECT write_log('x')", Duck, &[FUNCTION]),
        ("checkpoint()", "SELECT * FROM checkpoint()", Duck, &[TABLE_FN]),
        ("enable_logging", "SELECT * FROM enable_logging(storage := 'file')", Duck, &[TABLE_FN]),
        ("which_secret", "SELECT * FROM which_secret('s3://b/x', 's3')", Duck, &[TABLE_FN]),
        ("glob with space", "SELECT * FROM glob ('~/*')", Duck, &[TABLE_FN]),
        ("unknown function", "SELECT frobnicate(1)", Duck, &[FUNCTION]),
        ("lateral function", "SELECT * FROM t, LATERAL read_text('x')", Duck, &[TABLE_FN]),
        ("with delete", "WITH x AS (SELECT 1) DELETE FROM t", Duck, &[MODIFYING]),
        ("with insert", "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", Duck, &[MODIFYING]),
        ("data-modifying cte", "WITH g AS (DELETE FROM t RETURNING *) SELECT count(*) FROM g", Duck, &[MODIFYING]),
        ("select into", "SELECT * INTO newtable FROM t", Duck, &[MODIFYING]),
        ("cte shadows system view", "WITH a AS (SELECT * FROM duckdb_settings), duckdb_settings AS (SELECT 1) SELECT * FROM a", Duck, &[SYSTEM]),
        ("pragma", "PRAGMA version", Duck, &[NOT_QUERY]),
        ("set", "SET memory_limit = '1GB'", Duck, &[NOT_QUERY]),
        ("reset", "RESET threads", Duck, &[NOT_QUERY]),
        ("call", "CALL duckdb_settings()", Duck, &[NOT_QUERY]),
        ("explain", "EXPLAIN SELECT 1", Duck, &[NOT_QUERY]),
        ("explain analyze", "EXPLAIN ANALYZE SELECT 1", Duck, &[NOT_QUERY]),
        ("describe", "DESCRIBE orders", Duck, &[NOT_QUERY]),
        ("show tables", "SHOW TABLES", Duck, &[NOT_QUERY]),
        ("summarize", "SUMMARIZE orders", Duck, &[NOT_QUERY]),
        ("checkpoint statement", "CHECKPOINT", Duck, &[NOT_QUERY]),
        ("export database", "EXPORT DATABASE 'x'", Duck, &[NOT_QUERY]),
        ("import database", "IMPORT DATABASE 'x'", Duck, &[NOT_QUERY]),
        ("create secret", "CREATE SECRET s (TYPE s3, ENDPOINT 'attacker')", Duck, &[NOT_QUERY]),
        ("set variable", "SET VARIABLE x = 1", Duck, &[NOT_QUERY]),
        ("use", "USE other", Duck, &[NOT_QUERY]),
        ("create temp view", "CREATE TEMP VIEW orders AS SELECT 'hijacked' AS x", Duck, &[NOT_QUERY]),
        ("vacuum", "VACUUM", Duck, &[NOT_QUERY]),
        ("comment after semicolon", "SELECT 1; -- trailing", Duck, &[MULTI]),
        ("lone semicolon", ";", Duck, &[EMPTY]),
        ("power operator", "SELECT 2 ** 3", Duck, &[PARSE]),
        ("escape string", "SELECT E'\\x2fetc'", Duck, &[PARSE]),
        ("using sample", "SELECT * FROM t USING SAMPLE 10", Duck, &[PARSE]),
        ("pivot statement", "PIVOT t ON a USING sum(b)", Duck, &[PARSE]),
        // --- more shapes
        ("quoted table name", "SELECT * FROM \"Orders\"", Duck, OK),
        ("repeat scalar", "SELECT repeat('x', 3)", Duck, OK),
        ("repeat table function", "SELECT * FROM repeat('x', 3)", Duck, &[TABLE_FN]),
        ("qualified range", "SELECT * FROM main.range(10)", Duck, &[TABLE_FN]),
        ("three-part table", "SELECT * FROM a.b.c", Duck, &[SYSTEM]),
        ("quoted schema with space", "SELECT * FROM \"my extract\".t", Duck, &[SYSTEM]),
        ("two-part file name", "SELECT * FROM data.parquet", Duck, &[FILE]),
        ("pg_tables", "SELECT * FROM pg_tables", Duck, &[SYSTEM]),
        ("nextval", "SELECT nextval('s')", Duck, &[FUNCTION]),
        ("current_database not allowlisted", "SELECT current_database()", Duck, &[FUNCTION]),
        ("nested read_blob", "SELECT (SELECT read_blob('x'))", Duck, &[FUNCTION]),
        ("lateral getenv", "SELECT * FROM t JOIN LATERAL (SELECT getenv('x')) ON true", Duck, &[FUNCTION]),
        ("in subquery secrets", "SELECT * FROM t WHERE x IN (SELECT name FROM duckdb_secrets())", Duck, &[TABLE_FN]),
        ("union file", "SELECT 1 UNION ALL (SELECT * FROM 'x.csv')", Duck, &[FILE]),
        ("exists with delete cte", "SELECT 1 WHERE EXISTS (WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d)", Duck, &[MODIFYING]),
        ("several problems", "SELECT getenv('a'), frobnicate(1) FROM 'x.csv'", Duck, &[FUNCTION, FILE]),
        // --- BigQuery: accepted without a policy
        ("bq select", "SELECT id FROM project.dataset.table", Bq, OK),
        ("bq with;", "WITH t AS (SELECT 1 AS x) SELECT x FROM t;", Bq, OK),
        ("bq information_schema no policy", "SELECT * FROM dataset.INFORMATION_SCHEMA.COLUMNS", Bq, OK),
        ("bq hash comment", "# leading comment\nSELECT 1", Bq, OK),
        ("bq slash-star-slash header", "/*/ header */ SELECT 1", Bq, OK),
        ("bq param", "SELECT x FROM t WHERE d > @since", Bq, OK),
        ("bq backticks", "SELECT * FROM `my-project.ds.events_*` WHERE _TABLE_SUFFIX > '2024'", Bq, OK),
        ("bq array path", "SELECT i FROM `p.d.t` AS u, u.items AS i", Bq, OK),
        ("bq unnest", "SELECT x FROM t, UNNEST(t.arr) AS x WITH OFFSET", Bq, OK),
        ("bq safe and net", "SELECT SAFE.PARSE_DATE('%Y', s), NET.HOST(url), SAFE_CAST(x AS INT64) FROM t", Bq, OK),
        ("bq read_csv name harmless", "SELECT read_csv_auto FROM t", Bq, OK),
        ("bq split slash", "SELECT SPLIT(path, '/') FROM t", Bq, OK),
        ("bq system variable", "SELECT @@project_id", Bq, OK),
        ("bq qualify", "SELECT * FROM t QUALIFY ROW_NUMBER() OVER (PARTITION BY a ORDER BY b) = 1", Bq, OK),
        ("bq select as struct", "SELECT AS STRUCT 1 AS a, 2 AS b", Bq, OK),
        ("bq pipe syntax", "FROM t |> WHERE x > 1 |> SELECT x", Bq, OK),
        ("bq region jobs no policy", "SELECT query FROM `region-us`.INFORMATION_SCHEMA.JOBS", Bq, OK),
        ("bq cte", "WITH x AS (SELECT 1 AS a) SELECT a FROM x", Bq, OK),
        // --- BigQuery: rejected
        ("bq drop", "DROP TABLE x", Bq, &[NOT_QUERY]),
        ("bq insert", "INSERT INTO x VALUES (1)", Bq, &[NOT_QUERY]),
        ("bq delete", "DELETE FROM x WHERE true", Bq, &[NOT_QUERY]),
        ("bq update", "UPDATE x SET y=1 WHERE true", Bq, &[NOT_QUERY]),
        ("bq alter", "ALTER TABLE x ADD COLUMN z INT64", Bq, &[NOT_QUERY]),
        ("bq create", "CREATE TABLE x (y INT64)", Bq, &[NOT_QUERY]),
        ("bq truncate", "TRUNCATE TABLE x", Bq, &[NOT_QUERY]),
        ("bq merge", "MERGE INTO x USING y ON x.id=y.id WHEN MATCHED THEN UPDATE SET x.a=y.a", Bq, &[NOT_QUERY]),
        ("bq select then drop", "SELECT 1; DROP TABLE x", Bq, &[MULTI, NOT_QUERY]),
        ("bq set after comment", "/*/ SELECT 1 */ SET x = 1", Bq, &[NOT_QUERY]),
        ("bq declare", "DECLARE x INT64", Bq, &[NOT_QUERY]),
        ("bq begin end", "BEGIN SELECT 1; END", Bq, &[MULTI, NOT_QUERY]),
        ("bq execute immediate", "EXECUTE IMMEDIATE 'SELECT 1'", Bq, &[NOT_QUERY]),
        ("bq export data", "EXPORT DATA OPTIONS(uri='gs://b/x*', format='CSV') AS SELECT 1", Bq, &[NOT_QUERY]),
        ("bq temp function", "CREATE TEMP FUNCTION f() AS (1)", Bq, &[NOT_QUERY]),
        ("bq call", "CALL ds.proc()", Bq, &[NOT_QUERY]),
        ("bq external_query", "SELECT * FROM EXTERNAL_QUERY('conn', 'SELECT 1')", Bq, &[TABLE_FN]),
        ("bq external_query scalar", "SELECT EXTERNAL_QUERY('conn', 'SELECT 1')", Bq, &[FUNCTION]),
        ("bq ml", "SELECT ML.GENERATE_EMBEDDING(1)", Bq, &[FUNCTION]),
        ("bq ai", "SELECT AI.GENERATE('hi')", Bq, &[FUNCTION]),
        ("bq keys", "SELECT KEYS.NEW_KEYSET('AEAD_AES_GCM_256')", Bq, &[FUNCTION]),
        ("bq aead", "SELECT AEAD.DECRYPT_STRING(k, c, 'x') FROM t", Bq, &[FUNCTION]),
        ("bq udf", "SELECT `proj.ds.fn`(1)", Bq, &[FUNCTION]),
        ("bq dataset udf", "SELECT ds.fn(1)", Bq, &[FUNCTION]),
        ("bq session_user", "SELECT SESSION_USER()", Bq, &[FUNCTION]),
        ("bq safe external_query", "SELECT SAFE.EXTERNAL_QUERY('c', 'x')", Bq, &[FUNCTION]),
        ("bq tvf", "SELECT * FROM ds.tvf(1)", Bq, &[TABLE_FN]),
        ("bq pipe call", "FROM t |> CALL ds.tvf(1)", Bq, &[TABLE_FN]),
        ("bq ml.predict", "SELECT * FROM ML.PREDICT(MODEL m, TABLE t)", Bq, &[PARSE]),
        ("bq cr comment", "SELECT 1 --\r; DROP TABLE x", Bq, &[CONTROL]),
        ("bq drop comment", "-- drop the old rows\nSELECT 1", Bq, OK),
        ("bq with delete", "WITH x AS (SELECT 1) DELETE FROM t WHERE true", Bq, &[MODIFYING]),
    ];

    #[test]
    fn table_of_cases() {
        assert!(CASES.len() >= 80, "only {} cases", CASES.len());
        let failures: Vec<String> = CASES
            .iter()
            .filter_map(|(name, sql, dialect, want)| {
                mismatch(name, sql, *dialect, &NO_POLICY, want)
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} failing cases:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    fn policy() -> BigQueryPolicy {
        BigQueryPolicy {
            default_project: Some("acme".to_owned()),
            allowed_datasets: vec!["sales".to_owned(), "shared-proj.public_ds".to_owned()],
        }
    }

    #[test]
    fn bigquery_dataset_policy() {
        let p = policy();
        #[rustfmt::skip]
        let cases: &[(&str, &str, &[&str])] = &[
            ("3-part allowed", "SELECT * FROM acme.sales.orders", OK),
            ("backticked 3-part", "SELECT * FROM `acme.sales.orders`", OK),
            ("backticked parts", "SELECT * FROM `acme`.`sales`.orders", OK),
            ("2-part with default project", "SELECT * FROM sales.orders", OK),
            ("backticked 2-part", "SELECT * FROM `sales.orders`", OK),
            ("project.dataset entry", "SELECT * FROM `shared-proj.public_ds.t`", OK),
            ("cte", "WITH x AS (SELECT * FROM sales.orders) SELECT * FROM x", OK),
            ("array path", "SELECT i FROM sales.orders AS o, o.items AS i", OK),
            ("implicit range variable", "SELECT i FROM sales.orders, orders.items AS i", OK),
            ("unnest", "SELECT x FROM UNNEST([1, 2]) AS x", OK),
            ("other dataset", "SELECT * FROM acme.hr.salaries", &[DATASET]),
            ("other project", "SELECT * FROM `evil.sales.orders`", &[DATASET]),
            ("other 2-part", "SELECT * FROM hr.salaries", &[DATASET]),
            ("dataset case-sensitive", "SELECT * FROM acme.Sales.orders", &[DATASET]),
            ("single part", "SELECT * FROM orders", &[DATASET]),
            ("public data", "SELECT * FROM `bigquery-public-data.samples.shakespeare`", &[DATASET]),
            ("information_schema", "SELECT * FROM sales.INFORMATION_SCHEMA.COLUMNS", &[SYSTEM]),
            ("region jobs", "SELECT query FROM `region-us`.INFORMATION_SCHEMA.JOBS", &[SYSTEM]),
            ("subquery", "SELECT * FROM (SELECT * FROM hr.x) AS s", &[DATASET]),
            ("join", "SELECT * FROM sales.a JOIN hr.b ON a.id = b.id", &[DATASET]),
            ("cte name used before definition", "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", &[DATASET]),
        ];
        for (name, sql, want) in cases {
            expect(name, sql, Bq, &p, want);
        }
        let no_default = BigQueryPolicy {
            default_project: None,
            allowed_datasets: vec!["acme.sales".to_owned(), "sales".to_owned()],
        };
        expect(
            "no default 3-part",
            "SELECT * FROM acme.sales.t",
            Bq,
            &no_default,
            OK,
        );
        expect(
            "no default 2-part",
            "SELECT * FROM sales.t",
            Bq,
            &no_default,
            &[DATASET],
        );
        expect(
            "bare entry needs a project",
            "SELECT * FROM other.sales.t",
            Bq,
            &no_default,
            &[DATASET],
        );
        let hint = analyze("SELECT * FROM sales.t", Bq, &no_default).problems[0]
            .hint
            .clone();
        assert!(hint.contains("project.sales.t"), "{hint}");
    }

    #[test]
    fn tables_and_params() {
        let a = analyze(
            "WITH c AS (SELECT * FROM Orders) SELECT * FROM c JOIN main.Labels l ON true \
             JOIN crm.accounts a ON true WHERE x > $since AND y < $until AND z = $since",
            Duck,
            &NO_POLICY,
        );
        assert!(a.problems.is_empty(), "{:?}", a.problems);
        assert_eq!(a.tables, ["orders", "labels", "crm.accounts"]);
        assert_eq!(a.params, ["since", "until"]);

        let a = analyze("SELECT x FROM t WHERE d > @since", Bq, &NO_POLICY);
        assert!(a.problems.is_empty(), "{:?}", a.problems);
        assert_eq!(a.params, ["since"]);
        assert_eq!(a.tables, ["t"]);

        let a = analyze("SELECT * FROM t WHERE d > $since", Duck, &NO_POLICY);
        assert_eq!(a.params, ["since"]);

        let a = analyze(
            "SELECT * FROM `P.d.T` AS u, u.items WHERE a = @a AND b = @@project_id",
            Bq,
            &NO_POLICY,
        );
        assert_eq!(a.tables, ["p.d.t"]);
        assert_eq!(a.params, ["a"]);

        let a = analyze("SELECT $1, ?", Duck, &NO_POLICY);
        assert_eq!(a.params, ["1", "?"]);

        // A CTE is in scope for its own body only when RECURSIVE.
        let a = analyze(
            "WITH t AS (SELECT * FROM t) SELECT * FROM t",
            Duck,
            &NO_POLICY,
        );
        assert_eq!(a.tables, ["t"]);
        let a = analyze(
            "WITH RECURSIVE t AS (SELECT 1 UNION ALL SELECT * FROM t) SELECT * FROM t",
            Duck,
            &NO_POLICY,
        );
        assert!(a.tables.is_empty(), "{:?}", a.tables);
    }

    fn single(sql: &str, dialect: SqlDialect) -> SqlProblem {
        let problems = analyze(sql, dialect, &NO_POLICY).problems;
        assert_eq!(problems.len(), 1, "{sql:?}: {problems:#?}");
        problems[0].clone()
    }

    #[test]
    fn positions() {
        let p = single("SELECT a,\n  b\nFROM t, (SELECT read_text('x')) s", Duck);
        assert_eq!((p.code, p.line, p.column), (FUNCTION, 3, 17));
        let p = single("SELECT 1,\n  2,\n         read_text('x')", Duck);
        assert_eq!((p.code, p.line, p.column), (FUNCTION, 3, 10));
        let p = single("SELECT *\nFROM orders o\n  JOIN 'x.csv' f ON true", Duck);
        assert_eq!((p.code, p.line, p.column), (FILE, 3, 8));
        let p = single(
            "SELECT * FROM t WHERE a = 1\n  AND b IN (SELECT x FROM duckdb_settings())",
            Duck,
        );
        assert_eq!((p.code, p.line, p.column), (TABLE_FN, 2, 27));
        let p = single("-- header\n\nDROP TABLE x", Duck);
        assert_eq!((p.code, p.line, p.column), (NOT_QUERY, 3, 1));
        let p = single("SELECT a FROM orders --\r, read_text('x')", Duck);
        assert_eq!((p.code, p.line, p.column), (CONTROL, 1, 24));
        let p = single("SELECT 'é',\u{a0}1", Duck);
        assert_eq!((p.code, p.line, p.column), (UNICODE, 1, 12));
        let p = single("SELECT 1;\nSELECT 2", Duck);
        assert_eq!((p.code, p.line, p.column), (MULTI, 1, 9));
        let p = single("SELECT 2 ** 3", Duck);
        assert_eq!((p.code, p.line, p.column), (PARSE, 1, 11));
        assert!(p.hint.contains("pow"), "{}", p.hint);
        assert!(!p.message.contains("Line"), "{}", p.message);
        let p = single("SELECT * FROM t LIMIT", Duck);
        assert_eq!((p.code, p.line, p.column), (PARSE, 1, 22));
        let p = single("SELECT 1 FROM t\nWHERE x = 'abc", Duck);
        assert_eq!((p.code, p.line, p.column), (PARSE, 2, 11));
        let p = single("WITH x AS (SELECT 1)\nDELETE FROM t", Duck);
        assert_eq!(p.code, MODIFYING);
        assert_eq!(p.line, 2);
        let problems = analyze("SELECT x\nFROM sales.orders o, hr.people", Bq, &policy()).problems;
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(
            (problems[0].code, problems[0].line, problems[0].column),
            (DATASET, 2, 22)
        );
        let p = single("SELECT 1,\n  SESSION_USER()", Bq);
        assert_eq!((p.code, p.line, p.column), (FUNCTION, 2, 3));
    }

    #[test]
    fn messages_name_the_construct() {
        let p = single("SELECT * FROM read_text('x')", Duck);
        assert!(
            p.message.contains("`read_text`") && p.message.contains("dangerous"),
            "{}",
            p.message
        );
        let p = single("SELECT frobnicate(1)", Duck);
        assert_eq!(p.message, "function `frobnicate` is not on the allowlist");
        assert!(p.hint.contains("src/validate/sql.rs"), "{}", p.hint);
        let p = single("SELECT system.main.read_text('x')", Duck);
        assert!(
            p.message.contains("system.main.read_text") && p.message.contains("dangerous"),
            "{}",
            p.message
        );
        let p = single("DROP TABLE x", Duck);
        assert!(p.message.contains("`DROP`"), "{}", p.message);
        let p = single("CREATE TEMP FUNCTION f() AS (1)", Bq);
        assert!(p.message.contains("`CREATE FUNCTION`"), "{}", p.message);
        let p = single("SELECT * FROM t USING SAMPLE 10", Duck);
        assert!(p.hint.contains("USING SAMPLE"), "{}", p.hint);
        let p = single("SELECT E'x'", Duck);
        assert!(p.hint.contains("E'"), "{}", p.hint);
        let p = single("PIVOT t ON a USING sum(b)", Duck);
        assert!(p.hint.contains("PIVOT"), "{}", p.hint);
        let p = single("SELECT 'a' GLOB 'b'", Duck);
        assert!(
            p.message.contains("`GLOB`") && p.hint.contains("LIKE"),
            "{} / {}",
            p.message,
            p.hint
        );
    }

    #[test]
    fn never_panics_on_garbage() {
        let deep_parens = format!("SELECT {}1{}", "(".repeat(200), ")".repeat(200));
        let deep_subqueries = format!(
            "SELECT * FROM {}t{}",
            "(SELECT * FROM ".repeat(200),
            ")".repeat(200)
        );
        // The deepest tree the length cap allows: one nesting level per two bytes.
        let longest_chain = format!("SELECT 1{}", "+1".repeat((MAX_SQL_BYTES - 8) / 2));
        assert!(longest_chain.len() <= MAX_SQL_BYTES);
        assert_eq!(codes_of(&longest_chain, Duck, &NO_POLICY), OK.to_vec());
        let long_chain = format!("SELECT 1{}", "+1".repeat(100_000));
        let long_union = format!("SELECT 1{}", " UNION ALL SELECT 1".repeat(20_000));
        let inputs: Vec<(String, &[&str])> = vec![
            (String::new(), &[EMPTY]),
            ("'".to_owned(), &[PARSE]),
            ("\"".to_owned(), &[PARSE]),
            ("`".to_owned(), &[PARSE]),
            ("SELECT 'unterminated".to_owned(), &[PARSE]),
            ("SELECT \"unterminated".to_owned(), &[PARSE]),
            ("SELECT 1 /* unterminated".to_owned(), &[PARSE]),
            ("SELECT $$unterminated".to_owned(), &[PARSE]),
            (deep_parens, &[PARSE]),
            (deep_subqueries, &[PARSE]),
            ("((((((((((".to_owned(), &[PARSE]),
            (";;;".to_owned(), &[EMPTY, MULTI]),
            ("\u{feff}SELECT 1".to_owned(), &[UNICODE, PARSE]),
            ("SELECT \u{1F600}".to_owned(), &[PARSE]),
            ("\0\0\0".to_owned(), &[CONTROL, PARSE]),
            ("x".repeat(MAX_SQL_BYTES + 1), &[codes::TOO_LONG]),
        ];
        for (sql, want) in &inputs {
            for dialect in [Duck, Bq] {
                let got = codes_of(sql, dialect, &NO_POLICY);
                let mut want = want.to_vec();
                want.sort_unstable();
                assert_eq!(
                    got,
                    want,
                    "{dialect:?} {:?}",
                    sql.chars().take(60).collect::<String>()
                );
            }
        }
        // Deep left-nested trees parse without hitting the recursion limit; the walk must
        // survive them (and they are legitimate, if odd, queries).
        for sql in [long_chain, long_union] {
            for dialect in [Duck, Bq] {
                assert_eq!(codes_of(&sql, dialect, &NO_POLICY), OK.to_vec());
            }
        }
        // Every prefix of a tricky query, in both dialects.
        let tricky = "WITH a AS (SELECT 'x;y' AS s, $$z$$ AS d FROM `p.d.t` /* c */ WHERE x > @p) SELECT * FROM a -- e";
        for (i, _) in tricky.char_indices() {
            let _ = analyze(&tricky[..i], Duck, &NO_POLICY);
            let _ = analyze(&tricky[..i], Bq, &policy());
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(strip_one_semicolon("SELECT 1;"), "SELECT 1");
        assert_eq!(strip_one_semicolon("SELECT 1;;"), "SELECT 1;");
        assert_eq!(strip_one_semicolon("SELECT 1 ; \n"), "SELECT 1 ");
        assert_eq!(strip_one_semicolon("SELECT 1"), "SELECT 1");
        assert_eq!(strip_one_semicolon(""), "");
        for ok in ["a", "_a", "A1", &"a".repeat(64)] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a b", "é", "abc\n", &"a".repeat(65)] {
            assert!(!is_identifier(bad), "{bad:?}");
        }
    }

    #[test]
    fn allowlist_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for name in DUCKDB_FUNCTIONS
            .iter()
            .flat_map(|g| g.split_ascii_whitespace())
        {
            assert!(seen.insert(name), "`{name}` listed twice");
            assert_eq!(name, name.to_lowercase(), "`{name}` must be lower-case");
            assert!(
                duckdb_danger(name).is_none(),
                "`{name}` is both allowed and dangerous"
            );
        }
        assert!(seen.len() > 500, "{}", seen.len());
        for name in [
            "date_trunc",
            "strftime",
            "regexp_extract",
            "list_transform",
            "coalesce",
            "round",
            "sum",
            "row_number",
            "approx_count_distinct",
            "string_agg",
            "split_part",
            "starts_with",
            "epoch_ms",
            "make_date",
            "struct_pack",
        ] {
            assert!(duckdb_function_allowed(name), "{name}");
        }
    }
}
