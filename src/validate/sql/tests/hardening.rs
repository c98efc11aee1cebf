//! Regression cases from the adversarial review (issue 14): BigQuery names that are array
//! paths only through range variables to their left, raw and bytes literals with
//! backslashes, and DuckDB dollar quotes that read as parameters. Each attack comes with
//! look-alikes that must keep passing.

use super::*;

const AMBIGUOUS: &str = codes::AMBIGUOUS_LITERAL;

/// (name, sql, dialect, expected codes), checked with the dataset policy of [`policy`].
#[rustfmt::skip]
pub(super) const HARDENING_CASES: &[(&str, &str, SqlDialect, &[&str])] = &[
    // --- scope: `x.y` is an array path only through a range variable strictly to its left
    ("own alias", "SELECT * FROM hr.salaries AS hr", Bq, &[DATASET]),
    ("own alias without AS", "SELECT * FROM hr.salaries hr", Bq, &[DATASET]),
    ("own alias upper-case", "SELECT * FROM HR.salaries AS hr", Bq, &[DATASET]),
    ("own implicit name", "SELECT * FROM hr.hr", Bq, &[DATASET]),
    ("alias to the right", "SELECT * FROM hr.salaries, sales.orders AS hr", Bq, &[DATASET]),
    ("implicit name to the right", "SELECT * FROM hr.salaries, sales.hr", Bq, &[DATASET]),
    ("join to the right", "SELECT * FROM hr.salaries JOIN sales.orders AS hr ON true", Bq, &[DATASET]),
    ("left join to the right", "SELECT * FROM sales.a LEFT JOIN hr.salaries ON true JOIN sales.b AS hr ON true", Bq, &[DATASET]),
    ("unnest alias to the right", "SELECT * FROM hr.salaries, UNNEST([1, 2]) AS hr", Bq, &[DATASET]),
    ("derived alias", "SELECT * FROM (SELECT * FROM hr.salaries) AS hr", Bq, &[DATASET]),
    ("derived before its alias", "SELECT * FROM (SELECT * FROM hr.x) AS t, sales.orders AS hr", Bq, &[DATASET]),
    ("inside a nested join", "SELECT * FROM (hr.salaries JOIN sales.orders AS hr ON true)", Bq, &[DATASET]),
    ("on clause sees only the left", "SELECT * FROM sales.a JOIN sales.b ON EXISTS (SELECT 1 FROM hr.salaries) JOIN sales.c AS hr ON true", Bq, &[DATASET]),
    ("alias only inside the subquery", "SELECT * FROM sales.t WHERE EXISTS (SELECT 1 FROM hr.salaries AS hr)", Bq, &[DATASET]),
    ("alias of a sibling subquery", "SELECT (SELECT 1 FROM sales.t AS hr), (SELECT 1 FROM hr.salaries)", Bq, &[DATASET]),
    ("alias of a later cte body", "WITH a AS (SELECT * FROM hr.salaries), b AS (SELECT * FROM sales.t AS hr) SELECT 1", Bq, &[DATASET]),
    ("cte name is not a range variable", "WITH hr AS (SELECT 1 AS x) SELECT * FROM hr.salaries", Bq, &[DATASET]),
    ("backticked dotted name is a table", "SELECT * FROM sales.orders AS hr, `hr.salaries`", Bq, &[DATASET]),
    ("three parts are never a path", "SELECT * FROM acme.hr.salaries AS acme", Bq, &[DATASET]),
    ("pivot hides the inner alias", "SELECT * FROM sales.t AS hr PIVOT (SUM(v) FOR k IN ('a')) AS p, hr.salaries", Bq, &[DATASET]),
    ("pipe join before the from", "SELECT (SELECT 1 FROM sales.u |> JOIN sales.v ON true) FROM hr.salaries AS hr", Bq, &[DATASET]),
    ("union branch alias", "SELECT * FROM sales.t AS hr UNION ALL SELECT * FROM hr.salaries", Bq, &[DATASET]),
    // --- scope: legitimate array paths
    ("path through earlier alias", "SELECT i FROM sales.orders AS o, o.items AS i", Bq, OK),
    ("path through earlier implicit name", "SELECT i FROM sales.orders, orders.items AS i", Bq, OK),
    ("path in a join", "SELECT i FROM sales.orders AS o JOIN o.items AS i ON true", Bq, OK),
    ("path through a nested join", "SELECT * FROM (sales.a AS a JOIN sales.b AS b ON true), a.items", Bq, OK),
    ("unnest of a column", "SELECT x FROM sales.t, UNNEST(t.arr) AS x", Bq, OK),
    ("correlated path in the select list", "SELECT (SELECT COUNT(*) FROM o.items) FROM sales.orders AS o", Bq, OK),
    ("correlated path in where", "SELECT * FROM sales.orders AS o WHERE EXISTS (SELECT 1 FROM o.items)", Bq, OK),
    ("correlated path in on", "SELECT * FROM sales.a AS a JOIN sales.b AS b ON EXISTS (SELECT 1 FROM a.items)", Bq, OK),
    ("derived table after its source", "SELECT * FROM sales.orders AS o, (SELECT * FROM o.items) AS i", Bq, OK),
    // --- raw and bytes literals with a backslash (GoogleSQL does not end them at \')
    ("raw hides a from", r"SELECT r'\', ' FROM hr.salaries --' AS x", Bq, &[AMBIGUOUS]),
    ("raw upper-case", r"SELECT R'\' AS x", Bq, &[AMBIGUOUS]),
    ("raw double-quoted", r#"SELECT r"\", (SELECT 1) --" AS x"#, Bq, &[AMBIGUOUS]),
    ("raw triple-quoted", r"SELECT r'''\''' AS x", Bq, &[AMBIGUOUS]),
    ("raw double backslash", r"SELECT x FROM sales.t WHERE y = r'\\'", Bq, &[AMBIGUOUS]),
    ("raw in a regexp", r"SELECT REGEXP_CONTAINS(s, r'\d+') FROM sales.t", Bq, &[AMBIGUOUS]),
    ("bytes with escape", r"SELECT b'\x00' AS x", Bq, &[AMBIGUOUS]),
    ("bytes double-quoted", r#"SELECT B"a\\b" AS x"#, Bq, &[AMBIGUOUS]),
    ("bytes triple-quoted", r#"SELECT b"""\""" AS x"#, Bq, &[AMBIGUOUS]),
    ("bytes quote escape", r"SELECT b'\'' AS x", Bq, &[PARSE]),
    ("raw bytes prefix", r"SELECT br'\' AS x", Bq, &[PARSE]),
    ("raw bytes hides a from", r"SELECT rb'\', ' FROM hr.salaries --' AS x", Bq, &[DATASET]),
    // --- raw and bytes literals that read the same everywhere
    ("raw without backslash", "SELECT r'a+b', R\"x\", r'''multi\nline''' AS x", Bq, OK),
    ("raw regexp without backslash", "SELECT REGEXP_CONTAINS(s, r'^[a-z]+$') FROM sales.t", Bq, OK),
    ("bytes without backslash", "SELECT b'abc', B\"x\", b'''y''' AS x", Bq, OK),
    ("plain strings keep their escapes", r"SELECT 'it\'s', 'a\\b', '\n' AS x", Bq, OK),
    // --- DuckDB dollar quotes whose tag reads as a parameter
    ("digit tag", "SELECT $1$ FROM orders $1$ AS note", Duck, &[AMBIGUOUS]),
    ("digit tag hides a call", "SELECT $1$, read_text('/etc/passwd') --$1$", Duck, &[AMBIGUOUS]),
    ("multi-digit tag", "SELECT $12$x$12$", Duck, &[AMBIGUOUS]),
    ("digit tag, empty body", "SELECT $1$$1$", Duck, &[AMBIGUOUS]),
    ("digit tag in where", "SELECT * FROM t WHERE a = $1$ OR 1=1 $1$", Duck, &[AMBIGUOUS]),
    ("digit tag after concat", "SELECT 'a' || $2$b$2$", Duck, &[AMBIGUOUS]),
    ("digit-first tag", "SELECT $1a$x$1a$", Duck, &[AMBIGUOUS]),
    ("non-ascii tag", "SELECT $é$x$é$", Duck, &[AMBIGUOUS]),
    ("non-ascii digit tag", "SELECT $a\u{661}$x$a\u{661}$", Duck, &[AMBIGUOUS]),
    ("tag is a parameter name", "SELECT $since$x$since$ FROM t WHERE d > $since", Duck, &[AMBIGUOUS]),
    ("tag is a parameter name in another case", "SELECT $Since$x$Since$ FROM t WHERE d > $since", Duck, &[AMBIGUOUS]),
    // --- dollar quotes that read the same everywhere
    ("empty tag", "SELECT $$a$b$$ AS s", Duck, OK),
    ("identifier tag", "SELECT $body$it's$body$ AS s", Duck, OK),
    ("underscore tag", "SELECT $_1$x$_1$ AS s", Duck, OK),
    ("dollar quote next to a parameter", "SELECT $$x$$ AS s, $q$y$q$ AS t FROM t WHERE d > $since", Duck, OK),
    ("dollar in an identifier", "SELECT a$b FROM t", Duck, OK),
];

#[test]
fn hardening_cases() {
    let attacks = HARDENING_CASES.iter().filter(|c| !c.3.is_empty()).count();
    assert!(attacks >= 40, "only {attacks} attack cases");
    assert_cases(HARDENING_CASES, &policy());
}

#[test]
fn ambiguous_literals_are_named_and_placed() {
    let p = single("SELECT 1,\n  r'a\\b' AS x", Bq);
    assert_eq!((p.code, p.line, p.column), (AMBIGUOUS, 2, 3));
    assert!(p.hint.contains("plain string"), "{}", p.hint);
    let p = single("SELECT 1,\n  $1$x$1$", Duck);
    assert_eq!((p.code, p.line, p.column), (AMBIGUOUS, 2, 3));
    assert!(p.message.contains("`$1$`"), "{}", p.message);
    assert!(p.hint.contains("$body$"), "{}", p.hint);
}

#[test]
fn a_path_does_not_count_as_a_table_read() {
    let a = analyze(
        "SELECT * FROM sales.orders AS o, o.items, hr.x AS hr",
        Bq,
        &NO_POLICY,
    );
    assert_eq!(a.tables, ["sales.orders", "hr.x"]);
}
