//! The validator's behaviour through `analyze`, the way callers see it: the case corpus,
//! the BigQuery dataset policy, positions, messages and robustness on garbage.

mod corpus;
mod differential;
mod hardening;
mod policy;

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

/// Checks a table of (name, sql, dialect, expected codes), reporting every mismatch at once.
fn assert_cases(cases: &[(&str, &str, SqlDialect, &[&str])], policy: &BigQueryPolicy) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, sql, dialect, want)| mismatch(name, sql, *dialect, policy, want))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
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

fn policy() -> BigQueryPolicy {
    BigQueryPolicy {
        default_project: Some("acme".to_owned()),
        allowed_datasets: vec!["sales".to_owned(), "shared-proj.public_ds".to_owned()],
    }
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
    assert!(
        p.hint.contains("src/validate/sql/functions.rs"),
        "{}",
        p.hint
    );
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
fn strip_one_semicolon_removes_exactly_one() {
    assert_eq!(strip_one_semicolon("SELECT 1;"), "SELECT 1");
    assert_eq!(strip_one_semicolon("SELECT 1;;"), "SELECT 1;");
    assert_eq!(strip_one_semicolon("SELECT 1 ; \n"), "SELECT 1 ");
    assert_eq!(strip_one_semicolon("SELECT 1"), "SELECT 1");
    assert_eq!(strip_one_semicolon(""), "");
}
