//! The BigQuery dataset policy and what `analyze` reports as tables and parameters.

use super::*;

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
