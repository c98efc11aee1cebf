//! Plan parameters: typed values from `--param name=value` or defaults, and the
//! `{{ name }}` template rendering that turns them into correctly quoted SQL literals.
//!
//! Values never reach SQL as raw text. `@name` (BigQuery) and `$name` (DuckDB) travel as
//! query parameters; `{{ name }}` renders a literal of the declared type; an identifier
//! needs the explicit `ident` filter, which only lets `[A-Za-z_][A-Za-z0-9_]*` through.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use minijinja::value::{Object, ObjectRepr, Value as JinjaValue};
use minijinja::{Environment, UndefinedBehavior};

use crate::dialect::{SqlDialect, is_identifier};
use crate::document::LineIndex;
use crate::plan::model::{ParamSpec, ParamType};

/// A parameter value, parsed by its declared type.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    String(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
    Date(NaiveDate),
    /// UTC.
    Timestamp(NaiveDateTime),
}

impl ParamValue {
    /// Parse command-line text by the declared type; the error says what was expected.
    pub fn parse(kind: ParamType, text: &str) -> Result<Self, String> {
        let t = text.trim();
        match kind {
            ParamType::String => Ok(Self::String(text.to_owned())),
            ParamType::Integer => t
                .parse()
                .map(Self::Integer)
                .map_err(|_| format!("`{text}` is not an integer")),
            ParamType::Number => t
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Self::Number)
                .ok_or_else(|| format!("`{text}` is not a finite number")),
            ParamType::Boolean => match t.to_ascii_lowercase().as_str() {
                "true" => Ok(Self::Boolean(true)),
                "false" => Ok(Self::Boolean(false)),
                _ => Err(format!("`{text}` is not a boolean (true or false)")),
            },
            ParamType::Date => NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map(Self::Date)
                .map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD)")),
            ParamType::Timestamp => parse_timestamp(t).map(Self::Timestamp).ok_or_else(|| {
                format!("`{text}` is not a timestamp (RFC 3339 or YYYY-MM-DD HH:MM:SS)")
            }),
        }
    }

    /// A stand-in of the right type, used to check templates when no value is known.
    pub fn placeholder(kind: ParamType) -> Self {
        match kind {
            ParamType::String => Self::String(String::new()),
            ParamType::Integer => Self::Integer(0),
            ParamType::Number => Self::Number(0.0),
            ParamType::Boolean => Self::Boolean(false),
            ParamType::Date => Self::Date(NaiveDate::default()),
            ParamType::Timestamp => Self::Timestamp(NaiveDateTime::default()),
        }
    }

    pub fn kind(&self) -> ParamType {
        match self {
            Self::String(_) => ParamType::String,
            Self::Integer(_) => ParamType::Integer,
            Self::Number(_) => ParamType::Number,
            Self::Boolean(_) => ParamType::Boolean,
            Self::Date(_) => ParamType::Date,
            Self::Timestamp(_) => ParamType::Timestamp,
        }
    }

    /// The value as plain text (dates ISO, timestamps `YYYY-MM-DD HH:MM:SS[.ffffff]`).
    pub fn to_text(&self) -> String {
        match self {
            Self::String(s) => s.clone(),
            Self::Integer(i) => i.to_string(),
            Self::Number(f) => f.to_string(),
            Self::Boolean(b) => b.to_string(),
            Self::Date(d) => d.format("%Y-%m-%d").to_string(),
            Self::Timestamp(t) => t.format("%Y-%m-%d %H:%M:%S%.f").to_string(),
        }
    }

    /// A SQL literal of this value, quoted for the dialect.
    pub fn sql_literal(&self, dialect: SqlDialect) -> String {
        match self {
            Self::String(s) => quote_string(s, dialect),
            Self::Integer(i) => i.to_string(),
            Self::Number(f) => format!("{f:?}"),
            Self::Boolean(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
            Self::Date(_) => format!("DATE '{}'", self.to_text()),
            Self::Timestamp(_) => format!("TIMESTAMP '{}'", self.to_text()),
        }
    }
}

fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.naive_utc())
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok())
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok())
}

/// Quote a string literal. DuckDB doubles quotes; GoogleSQL escapes with backslashes.
fn quote_string(s: &str, dialect: SqlDialect) -> String {
    match dialect {
        SqlDialect::DuckDb => format!("'{}'", s.replace('\'', "''")),
        SqlDialect::BigQuery => {
            let mut out = String::with_capacity(s.len() + 2);
            out.push('\'');
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\'' => out.push_str("\\'"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                    c => out.push(c),
                }
            }
            out.push('\'');
            out
        }
    }
}

/// Resolved parameter values, by name.
pub type Params = BTreeMap<String, ParamValue>;

/// A problem resolving parameters; `name` is the parameter concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamProblem {
    pub code: &'static str,
    pub name: String,
    pub message: String,
    pub hint: String,
}

/// Resolve declared parameters from given `name=value` pairs and defaults.
///
/// With `require_all` false (offline checks), a required parameter with no value gets a
/// placeholder of its type so templates can still be rendered and validated.
pub fn resolve(
    specs: &BTreeMap<String, ParamSpec>,
    given: &[(String, String)],
    require_all: bool,
) -> (Params, Vec<ParamProblem>) {
    let mut values = Params::new();
    let mut problems = Vec::new();
    for (name, _) in given {
        if !specs.contains_key(name) {
            let declared: Vec<&str> = specs.keys().map(String::as_str).collect();
            problems.push(ParamProblem {
                code: "unknown_param",
                name: name.clone(),
                message: format!("parameter `{name}` is not declared by the plan"),
                hint: if declared.is_empty() {
                    "this plan declares no parameters".to_owned()
                } else {
                    format!("declared parameters: {}", declared.join(", "))
                },
            });
        }
    }
    for (name, spec) in specs {
        let given_value = given.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v);
        let value = match (given_value, &spec.default) {
            (Some(text), _) => ParamValue::parse(spec.kind, text).map_err(|why| ParamProblem {
                code: "invalid_param",
                name: name.clone(),
                message: format!("parameter `{name}` ({}): {why}", spec.kind.name()),
                hint: format!("pass --param {name}=<{}>", spec.kind.name()),
            }),
            (None, Some(default)) => {
                ParamValue::parse(spec.kind, &default.as_text()).map_err(|why| ParamProblem {
                    code: "invalid_param_default",
                    name: name.clone(),
                    message: format!(
                        "default of parameter `{name}` ({}): {why}",
                        spec.kind.name()
                    ),
                    hint: format!("write a default of type {}", spec.kind.name()),
                })
            }
            (None, None) if require_all => Err(ParamProblem {
                code: "missing_param",
                name: name.clone(),
                message: format!("required parameter `{name}` has no value"),
                hint: format!(
                    "pass --param {name}=<{}> or give it a default",
                    spec.kind.name()
                ),
            }),
            (None, None) => Ok(ParamValue::placeholder(spec.kind)),
        };
        match value {
            Ok(v) => {
                values.insert(name.clone(), v);
            }
            Err(p) => problems.push(p),
        }
    }
    (values, problems)
}

/// A template that failed to render, with its 1-based line in the SQL text when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    /// Where in the SQL text, 1-based, when minijinja can tell.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// What to do about it.
    pub hint: &'static str,
    /// The template ran past its budget (fuel or rendered size), rather than being wrong.
    pub too_expensive: bool,
}

/// Most bytes one rendered SQL text may have: the SQL validator's own limit
/// (`validate::sql::MAX_SQL_BYTES`), so nothing longer is worth producing.
pub const MAX_RENDERED_BYTES: usize = 1024 * 1024;

/// minijinja fuel for rendering one SQL text. One fuel is one instruction or 64 bytes of
/// data made, so this allows a few hundred thousand steps or some tens of MiB of string
/// work: orders of magnitude above an honest plan's templates (loops over a few dozen
/// columns), and small enough that any template stops within a fraction of a second.
pub const TEMPLATE_FUEL: u64 = 500_000;

/// minijinja's own hard limits, which a too-large loop or repeat meets before the fuel
/// runs out; they say the same thing as running out of fuel.
const SIZE_LIMIT_MESSAGES: &[&str] = &[
    "range has too many elements",
    "repeated string is too large",
    "repeated sequence is too large",
];

/// Collects rendered output and refuses to grow past `MAX_RENDERED_BYTES`.
#[derive(Default)]
struct CappedOutput {
    bytes: Vec<u8>,
    over: bool,
}

impl std::io::Write for CappedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_RENDERED_BYTES {
            self.over = true;
            return Err(std::io::Error::other("the rendered SQL is too large"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Filters that mark text as safe, i.e. as SQL to print unquoted. `safe` does so for any
/// string; `escape`/`e` and `tojson` return safe strings of HTML- or JSON-escaped text, which is
/// not SQL quoting. Each is refused by name, so the error says why.
const UNQUOTED_FILTERS: &[&str] = &["safe", "escape", "e", "tojson"];

/// Render `{{ ... }}` templates in one SQL text. Text without `{{`/`{%` is returned as is.
///
/// Only two kinds of output are written unquoted: a parameter's own literal, exactly as
/// `ParamValue::sql_literal` built it, and what `ident` lets through. Every other value is
/// quoted as a string literal. minijinja keeps a string "safe" through filters such as
/// `replace`, `upper` or `trim`, so a safe mark alone proves nothing: `{{ name | replace("'", "") }}`
/// would otherwise print a parameter's raw text as SQL.
pub fn render(sql: &str, params: &Params, dialect: SqlDialect) -> Result<String, TemplateError> {
    if !sql.contains("{{") && !sql.contains("{%") && !sql.contains("{#") {
        return Ok(sql.to_owned());
    }
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.add_filter("ident", ident_filter);
    for name in UNQUOTED_FILTERS {
        env.add_filter(
            *name,
            move |_: JinjaValue| -> Result<JinjaValue, minijinja::Error> {
                Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!(
                        "the `{name}` filter is not allowed: it would write text into the SQL \
                     unquoted; use `{{{{ name }}}}` for a value or `{{{{ name | ident }}}}` \
                     for an identifier"
                    ),
                ))
            },
        );
    }
    let literals: BTreeMap<&str, String> = params
        .iter()
        .map(|(name, value)| (name.as_str(), value.sql_literal(dialect)))
        .collect();
    let trusted: HashSet<String> = literals.values().cloned().collect();
    env.set_formatter(move |out, _state, value| {
        let text = sql_text(value, dialect, &trusted)?;
        out.write_str(&text).map_err(minijinja::Error::from)
    });
    let ctx: BTreeMap<&str, JinjaValue> = literals
        .into_iter()
        .map(|(name, literal)| (name, JinjaValue::from_safe_string(literal)))
        .collect();
    let mut output = CappedOutput::default();
    let rendered = env
        .template_from_str(sql)
        .and_then(|template| template.render_captured_to(ctx, &mut output));
    match rendered {
        Ok(_) => String::from_utf8(output.bytes).map_err(|_| TemplateError {
            message: "the template rendered text that is not UTF-8".to_owned(),
            line: None,
            column: None,
            hint: VALUES_HINT,
            too_expensive: false,
        }),
        Err(err) => Err(template_error(sql, &err, output.over)),
    }
}

const VALUES_HINT: &str =
    "`{{ name }}` must name a declared parameter; identifiers need `{{ name | ident }}`";

/// What to do about a failed template, by what went wrong.
fn hint(kind: minijinja::ErrorKind) -> &'static str {
    use minijinja::ErrorKind;
    match kind {
        ErrorKind::SyntaxError => {
            "close every `{{` with `}}` and every `{%` with `%}`; `{{ name }}` writes a parameter's value"
        }
        ErrorKind::UndefinedError => {
            "declare the name under `params:`, or fix its spelling; `{{ name }}` writes a declared parameter's value"
        }
        ErrorKind::UnknownFilter | ErrorKind::InvalidOperation => {
            "`{{ name }}` writes a value quoted, `{{ name | ident }}` an identifier; filters that would write raw SQL are refused"
        }
        _ => VALUES_HINT,
    }
}

/// A render failure as a `TemplateError`, at the failing expression when minijinja knows
/// it; budget failures say what the budget is.
fn template_error(sql: &str, err: &minijinja::Error, over_size: bool) -> TemplateError {
    let detail = err.detail().unwrap_or_default();
    let too_expensive = over_size
        || err.kind() == minijinja::ErrorKind::OutOfFuel
        || SIZE_LIMIT_MESSAGES.iter().any(|m| detail.contains(m));
    let message = if over_size {
        format!("the rendered SQL would be longer than {MAX_RENDERED_BYTES} bytes")
    } else if err.kind() == minijinja::ErrorKind::OutOfFuel {
        format!("the template did more work than its budget ({TEMPLATE_FUEL} steps) allows")
    } else if detail.is_empty() {
        err.kind().to_string()
    } else {
        format!("{}: {detail}", err.kind())
    };
    let at = err
        .range()
        .map(|r| LineIndex::new(sql).line_col(sql, r.start));
    TemplateError {
        message,
        line: at.map(|at| at.line).or_else(|| err.line()),
        column: at.map(|at| at.column),
        hint: hint(err.kind()),
        too_expensive,
    }
}

/// How one `{{ … }}` value is written into SQL; see [`render`] for what may go unquoted.
fn sql_text(
    value: &JinjaValue,
    dialect: SqlDialect,
    trusted: &HashSet<String>,
) -> Result<String, minijinja::Error> {
    if let Some(ident) = value.downcast_object_ref::<SqlIdent>() {
        return Ok(ident.0.clone());
    }
    if value.is_safe() {
        let text = value.to_string();
        if trusted.contains(&text) {
            return Ok(text);
        }
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            "text derived from a parameter cannot be written into the SQL unquoted; \
             use `{{ name }}` for a value or `{{ name | ident }}` for an identifier",
        ));
    }
    Ok(if value.is_undefined() || value.is_none() {
        "NULL".to_owned()
    } else if let Some(text) = value.as_str() {
        quote_string(text, dialect)
    } else if value.kind() == minijinja::value::ValueKind::Bool {
        if value.is_true() { "TRUE" } else { "FALSE" }.to_owned()
    } else if value.kind() == minijinja::value::ValueKind::Number {
        value.to_string()
    } else {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            "only scalar values can be rendered into SQL",
        ));
    })
}

/// What `ident` returns: an identifier the formatter writes as is. A type of its own, so
/// that no other template value can pass for one.
#[derive(Debug)]
struct SqlIdent(String);

impl Object for SqlIdent {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `{{ name | ident }}`: the parameter's raw text as an identifier, if it is one.
fn ident_filter(value: JinjaValue) -> Result<JinjaValue, minijinja::Error> {
    // Literals are pre-rendered; strip our own quotes to get the raw string back.
    let text = value.to_string();
    let raw = text
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .unwrap_or(&text);
    if is_identifier(raw) {
        Ok(JinjaValue::from_object(SqlIdent(raw.to_owned())))
    } else {
        Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("`{raw}` is not a valid identifier ([A-Za-z_][A-Za-z0-9_]{{0,63}})"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, ParamValue)]) -> Params {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn templates_render_typed_literals() {
        let p = params(&[
            (
                "since",
                ParamValue::Date(NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()),
            ),
            ("name", ParamValue::String("O'Brien".to_owned())),
            ("n", ParamValue::Integer(5)),
        ]);
        let out = render(
            "SELECT {{ n }} WHERE d > {{ since }} AND x = {{ name }}",
            &p,
            SqlDialect::DuckDb,
        )
        .unwrap();
        assert_eq!(
            out,
            "SELECT 5 WHERE d > DATE '2026-01-02' AND x = 'O''Brien'"
        );
        let out = render("x = {{ name }}", &p, SqlDialect::BigQuery).unwrap();
        assert_eq!(out, r"x = 'O\'Brien'");
    }

    #[test]
    fn expressions_on_values_stay_quoted() {
        let p = params(&[("name", ParamValue::String("a".to_owned()))]);
        let out = render("{{ name ~ ' OR 1=1' }}", &p, SqlDialect::DuckDb).unwrap();
        assert!(out.starts_with('\'') && out.ends_with('\''), "{out}");
    }

    #[test]
    fn identifiers_need_the_ident_filter_and_a_valid_name() {
        let p = params(&[
            ("col", ParamValue::String("views".to_owned())),
            ("bad", ParamValue::String("x; DROP TABLE t".to_owned())),
        ]);
        assert_eq!(
            render("SELECT {{ col | ident }}", &p, SqlDialect::DuckDb).unwrap(),
            "SELECT views"
        );
        assert!(render("SELECT {{ bad | ident }}", &p, SqlDialect::DuckDb).is_err());
    }

    #[test]
    fn filters_that_print_unquoted_text_are_refused() {
        let p = params(&[("name", ParamValue::String("x' OR 1=1 --".to_owned()))]);
        for filter in ["safe", "escape", "e", "tojson"] {
            let sql = format!("SELECT 1\nWHERE a = {{{{ name | {filter} }}}}");
            let err = render(&sql, &p, SqlDialect::DuckDb).unwrap_err();
            assert!(
                err.message
                    .contains(&format!("`{filter}` filter is not allowed")),
                "{filter}: {}",
                err.message
            );
            assert_eq!(err.line, Some(2), "{filter}");
        }
        assert!(render("{{ 'DROP TABLE t' | safe }}", &p, SqlDialect::DuckDb).is_err());
    }

    /// One DuckDB string literal and nothing else: quoted, with every inner quote doubled.
    fn is_one_duckdb_literal(sql: &str) -> bool {
        sql.len() >= 2
            && sql.starts_with('\'')
            && sql.ends_with('\'')
            && sql[1..sql.len() - 1].replace("''", "").find('\'').is_none()
    }

    #[test]
    fn text_derived_from_a_literal_is_never_written_unquoted() {
        let p = params(&[("name", ParamValue::String("x OR 1=1".to_owned()))]);
        // minijinja keeps `trim`'s result "safe", which used to print the raw value as SQL.
        let err = render("{{ name | trim(\"'\") }}", &p, SqlDialect::DuckDb).unwrap_err();
        assert!(err.message.contains("unquoted"), "{}", err.message);
        // Whatever a filter or operator makes of a parameter is refused or stays one literal.
        for template in [
            "{{ name | trim(\"'\") }}",
            "{{ name | replace(\"'\", \"\") }}",
            "{{ name | upper }}",
            "{{ name | reverse }}",
            "{{ name | first }}",
            "{{ name[1:-1] }}",
            "{{ name ~ name }}",
            "{{ name | format }}",
            "{{ name | join(\"\") }}",
            "{{ name | string }}",
            "{% filter trim(\"'\") %}{{ name }}{% endfilter %}",
            "{% set v = name | trim(\"'\") %}{{ v }}",
            "{% macro m() %}{{ name }}{% endmacro %}{{ m() | trim(\"'\") }}",
            "{% macro m() %}{{ name | trim(\"'\") }}{% endmacro %}{{ m() }}",
            "{{ [name] | join }}",
            "{{ name | list | join }}",
        ] {
            if let Ok(sql) = render(template, &p, SqlDialect::DuckDb) {
                assert!(is_one_duckdb_literal(&sql), "{template} rendered {sql}");
            }
        }
        assert_eq!(
            render(
                "{{ name }} {{ name | string }} {{ 'a' ~ 'b' }}",
                &p,
                SqlDialect::DuckDb
            )
            .unwrap(),
            "'x OR 1=1' 'x OR 1=1' 'ab'"
        );
    }

    /// Guards against templates that hang the checker or abort the process on allocation:
    /// each must end quickly as a budget error at its line, never as a crash or a hang.
    #[test]
    fn templates_past_their_budget_are_refused_at_their_line() {
        let p = params(&[("name", ParamValue::String("a".to_owned()))]);
        for template in [
            "SELECT 1\n{% for i in range(100000000) %}UNION ALL SELECT 1{% endfor %}",
            "SELECT 1\n{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}",
            "SELECT 1\nWHERE a = {{ 'x' * 100000000 }}",
            "SELECT 1\nWHERE a = {{ 'x' * 1000000000000 }}",
            "SELECT 1\n{% set a = name * 1000000 %}{% for i in range(40) %}{% set a = a ~ a %}{% endfor %}",
        ] {
            let err = render(template, &p, SqlDialect::DuckDb).unwrap_err();
            assert!(err.too_expensive, "{template}: {}", err.message);
            assert_eq!(err.line, Some(2), "{template}");
        }
        // Cheap to make but longer than any SQL text the validator accepts.
        let err = render(
            "{% for i in range(100000) %}UNION ALL SELECT 1 {% endfor %}",
            &p,
            SqlDialect::DuckDb,
        )
        .unwrap_err();
        assert!(
            err.too_expensive && err.message.contains("bytes"),
            "{}",
            err.message
        );
        // An honest loop over a few dozen values is well inside the budget.
        let sql = render(
            "SELECT {% for i in range(60) %}c{{ i }}, {% endfor %}{{ name }}",
            &p,
            SqlDialect::DuckDb,
        )
        .unwrap();
        assert!(sql.ends_with("c59, 'a'"), "{sql}");
    }

    #[test]
    fn undefined_names_are_errors_with_a_line() {
        let err = render(
            "SELECT 1\nWHERE {{ nope }}",
            &Params::new(),
            SqlDialect::DuckDb,
        )
        .unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("undefined"), "{}", err.message);
    }

    /// Guards against template errors pointing at the start of the line with a hint for
    /// another mistake: an agent fixing the plan needs the failing expression and what
    /// to do about that kind of failure.
    #[test]
    fn template_errors_point_at_the_failing_expression_with_a_fitting_hint() {
        let cases = [
            ("SELECT 1\nWHERE é = {{ nope }}", (2, 14), "declare"),
            ("SELECT 1\nWHERE x = {{ 1 }", (2, 16), "close every"),
            ("SELECT {{ 'a' | safe }}", (1, 17), "refused"),
        ];
        for (sql, (line, column), hint) in cases {
            let err = render(sql, &Params::new(), SqlDialect::DuckDb).unwrap_err();
            assert_eq!(
                (err.line, err.column),
                (Some(line), Some(column)),
                "{sql}: {}",
                err.message
            );
            assert!(err.hint.contains(hint), "{sql}: {}", err.hint);
        }
    }

    #[test]
    fn values_are_parsed_by_type() {
        assert_eq!(
            ParamValue::parse(ParamType::Integer, "42"),
            Ok(ParamValue::Integer(42))
        );
        assert!(ParamValue::parse(ParamType::Integer, "4.2").is_err());
        assert!(ParamValue::parse(ParamType::Date, "2026-13-01").is_err());
        assert!(ParamValue::parse(ParamType::Boolean, "yes").is_err());
        assert!(ParamValue::parse(ParamType::Number, "NaN").is_err());
        assert!(ParamValue::parse(ParamType::Timestamp, "2026-01-01T10:00:00Z").is_ok());
    }

    #[test]
    fn missing_and_unknown_params_are_named() {
        let mut specs = BTreeMap::new();
        specs.insert(
            "since".to_owned(),
            ParamSpec {
                kind: ParamType::Date,
                default: None,
                description: None,
            },
        );
        let (_, problems) = resolve(&specs, &[("x".to_owned(), "1".to_owned())], true);
        let codes: Vec<_> = problems.iter().map(|p| (p.code, p.name.as_str())).collect();
        assert_eq!(codes, [("unknown_param", "x"), ("missing_param", "since")]);
        let (values, problems) = resolve(&specs, &[], false);
        assert!(problems.is_empty());
        assert_eq!(values["since"].kind(), ParamType::Date);
    }
}
