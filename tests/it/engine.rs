//! The analytics connection and its sandbox, called directly: what holds even when SQL
//! reaches DuckDB without passing the validator.

use std::path::Path;

use da::engine::{Engine, EngineOptions, RemoteAttachPolicy};

fn options(database: Option<&Path>, extracts: Option<&Path>) -> EngineOptions {
    EngineOptions {
        database: database.map(Path::to_owned),
        extracts: extracts.map(Path::to_owned),
        memory_limit: "512MB".to_owned(),
        threads: 1,
        remote_attach: RemoteAttachPolicy {
            extensions: vec!["bigquery".to_owned()],
            token_envs: vec!["KBC_TOKEN".to_owned()],
        },
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn make_db(path: &Path, sql: &str) {
    let conn = duckdb::Connection::open(path).unwrap();
    conn.execute_batch(sql).unwrap();
}

fn scalar(engine: &da::engine::SealedEngine, sql: &str) -> String {
    let batches = engine.execute_unvalidated(sql).unwrap();
    arrow::util::display::array_value_to_string(batches[0].column(0), 0).unwrap()
}

#[test]
fn the_sealed_engine_cannot_read_files_even_without_validation() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.csv");
    std::fs::write(&secret, "password\nhunter2\n").unwrap();
    let engine = Engine::open(&options(None, None), &no_env)
        .unwrap()
        .seal()
        .unwrap();
    let s = secret.display();
    for sql in [
        format!("SELECT * FROM read_text('{s}')"),
        format!("SELECT * FROM read_csv('{s}')"),
        format!("SELECT * FROM '{s}'"),
        format!(
            "COPY (SELECT 1) TO '{}'",
            dir.path().join("out.csv").display()
        ),
        format!("ATTACH '{}' AS x", dir.path().join("x.duckdb").display()),
        "SET enable_external_access = true".to_owned(),
        "SET lock_configuration = false".to_owned(),
        "INSTALL httpfs".to_owned(),
        "LOAD httpfs".to_owned(),
        "SELECT * FROM glob('/etc/*')".to_owned(),
    ] {
        let result = engine.execute_unvalidated(&sql);
        assert!(result.is_err(), "the sandbox let through: {sql}");
    }
    assert!(!dir.path().join("out.csv").exists());
    assert!(!dir.path().join("x.duckdb").exists());
}

#[test]
fn load_works_on_a_read_only_connection() {
    // Pinned answer to the design's open question: READ_ONLY guards the database file, not
    // the extension mechanism. A statically linked extension LOADs; a missing one fails
    // because it is not installed, never because the connection is read-only.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.duckdb");
    make_db(&db, "CREATE TABLE t AS SELECT 1 AS x");
    let config = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .unwrap();
    let conn = duckdb::Connection::open_with_flags(&db, config).unwrap();
    conn.execute_batch("LOAD core_functions")
        .expect("LOAD of a linked extension on a read-only connection");
    let err = conn.execute_batch("LOAD bigquery").unwrap_err().to_string();
    assert!(
        !err.to_lowercase().contains("read-only") && !err.to_lowercase().contains("read only"),
        "{err}"
    );
    assert!(
        conn.execute_batch("CREATE TABLE u (x INT)").is_err(),
        "the file itself stays read-only"
    );
}

#[test]
fn the_analytics_file_is_read_only_and_aliases_register_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("analytics.duckdb");
    make_db(
        &db,
        "CREATE TABLE orders AS SELECT range AS id FROM range(3)",
    );
    let engine = Engine::open(&options(Some(&db), None), &no_env).unwrap();
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("id", arrow::datatypes::DataType::Int64, false),
    ]));
    let batch = arrow::record_batch::RecordBatch::try_new(
        schema.clone(),
        vec![std::sync::Arc::new(arrow::array::Int64Array::from(vec![
            1, 2,
        ]))],
    )
    .unwrap();
    engine.register("traffic", &schema, vec![batch]).unwrap();
    let engine = engine.seal().unwrap();
    assert_eq!(
        scalar(
            &engine,
            "SELECT count(*) FROM orders JOIN traffic USING (id)"
        ),
        "2"
    );
    assert!(
        engine
            .execute_unvalidated("INSERT INTO orders VALUES (9)")
            .is_err()
    );
    assert!(engine.execute_unvalidated("DROP TABLE orders").is_err());
}

#[test]
fn a_run_keeps_working_when_the_analytics_file_is_replaced_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("analytics.duckdb");
    make_db(
        &db,
        "CREATE TABLE orders AS SELECT range AS id FROM range(3)",
    );
    let engine = Engine::open(&options(Some(&db), None), &no_env)
        .unwrap()
        .seal()
        .unwrap();
    let next = dir.path().join("next.duckdb");
    make_db(
        &next,
        "CREATE TABLE orders AS SELECT range AS id FROM range(10)",
    );
    std::fs::rename(&next, &db).unwrap();
    assert_eq!(
        scalar(&engine, "SELECT count(*) FROM orders"),
        "3",
        "the open run keeps the old file"
    );
    let fresh = Engine::open(&options(Some(&db), None), &no_env)
        .unwrap()
        .seal()
        .unwrap();
    assert_eq!(
        scalar(&fresh, "SELECT count(*) FROM orders"),
        "10",
        "a new run sees the new file"
    );
}

#[test]
fn extracts_attach_read_only_and_malicious_folder_names_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let extracts = dir.path().join("extracts");
    for name in ["sales", "foo) AS x; DROP TABLE users; --"] {
        std::fs::create_dir_all(extracts.join(name)).unwrap();
        make_db(
            &extracts.join(name).join("extract.duckdb"),
            "CREATE TABLE deals AS SELECT 42 AS amount",
        );
    }
    let engine = Engine::open(&options(None, Some(&extracts)), &no_env).unwrap();
    assert!(
        engine
            .warnings
            .iter()
            .any(|w| w.contains("not a valid identifier")),
        "{:?}",
        engine.warnings
    );
    let engine = engine.seal().unwrap();
    assert_eq!(scalar(&engine, "SELECT amount FROM sales.deals"), "42");
    assert!(
        engine
            .execute_unvalidated("INSERT INTO sales.deals VALUES (1)")
            .is_err()
    );
    assert_eq!(
        scalar(
            &engine,
            "SELECT count(*) FROM duckdb_databases() WHERE database_name LIKE 'foo%'"
        ),
        "0"
    );
}

#[test]
fn remote_attach_rows_are_filtered_and_failures_only_warn() {
    let dir = tempfile::tempdir().unwrap();
    let extracts = dir.path().join("extracts");
    std::fs::create_dir_all(extracts.join("crm")).unwrap();
    make_db(
        &extracts.join("crm").join("extract.duckdb"),
        "CREATE TABLE accounts AS SELECT 7 AS n;
         CREATE TABLE _remote_attach (alias VARCHAR, extension VARCHAR, url VARCHAR, token_env VARCHAR);
         INSERT INTO _remote_attach VALUES
           ('web', 'httpfs', 'https://evil.example/x', ''),
           ('leak', 'bigquery', 'project=p', 'SESSION_SECRET'),
           ('bq', 'bigquery', 'project=acme', '');",
    );
    let engine = Engine::open(&options(None, Some(&extracts)), &no_env).unwrap();
    let w = engine.warnings.join("\n");
    assert!(
        w.contains("`web`") && w.contains("not in the allowlist"),
        "{w}"
    );
    assert!(w.contains("`leak`") && w.contains("token_env"), "{w}");
    // bigquery is allowed but not installed here: LOAD fails, the run goes on.
    assert!(w.contains("`bq` (bigquery) not attached"), "{w}");
    let engine = engine.seal().unwrap();
    assert_eq!(
        scalar(&engine, "SELECT n FROM crm.accounts"),
        "7",
        "local data keeps working"
    );
}
