//! The analytics connection and its sandbox, called directly: what holds even when SQL
//! reaches DuckDB without passing the validator.

use std::path::{Path, PathBuf};

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
        // Refused by the sandbox itself, not by a typo in the test's SQL.
        let Err(e) = engine.execute_unvalidated(&sql) else {
            panic!("the sandbox let through: {sql}");
        };
        assert!(
            e.message.contains("Permission Error") || e.message.contains("has been locked"),
            "{sql}: refused for another reason: {}",
            e.message
        );
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
    for write in ["INSERT INTO orders VALUES (9)", "DROP TABLE orders"] {
        let Err(e) = engine.execute_unvalidated(write) else {
            panic!("the read-only analytics file accepted: {write}");
        };
        assert!(e.message.contains("read-only"), "{write}: {}", e.message);
    }
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
    let refused = engine
        .execute_unvalidated("INSERT INTO sales.deals VALUES (1)")
        .unwrap_err();
    assert!(refused.message.contains("read-only"), "{}", refused.message);
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

/// The reference system's layout: `<root>/analytics/analytics.duckdb` with views over
/// `<root>/analytics/data/`, and `<root>/extracts/crm/extract.duckdb` with views over
/// `<root>/extracts/crm/data/*.parquet`. Every file is written by DuckDB itself.
struct Warehouse {
    dir: tempfile::TempDir,
}

impl Warehouse {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let analytics = root.join("analytics");
        let crm = root.join("extracts").join("crm");
        std::fs::create_dir_all(analytics.join("data")).unwrap();
        std::fs::create_dir_all(crm.join("data")).unwrap();
        let a = analytics.display();
        let c = crm.display();
        let writer = duckdb::Connection::open_in_memory().unwrap();
        writer
            .execute_batch(&format!(
                "COPY (SELECT range AS id, 'page ' || range AS page FROM range(5))
                   TO '{a}/data/pages.parquet' (FORMAT parquet);
                 COPY (SELECT 1 AS id, '{{\"kind\": \"click\", \"n\": 3}}' AS payload
                       UNION ALL SELECT 2, '{{\"kind\": \"view\", \"n\": 4}}')
                   TO '{a}/data/events.json' (FORMAT json);
                 COPY (SELECT range AS deal, range * 10 AS amount FROM range(2))
                   TO '{c}/data/part-0.parquet' (FORMAT parquet);
                 COPY (SELECT range + 2 AS deal, range * 10 AS amount FROM range(3))
                   TO '{c}/data/part-1.parquet' (FORMAT parquet);"
            ))
            .unwrap();
        make_db(
            &analytics.join("analytics.duckdb"),
            &format!(
                "CREATE VIEW pages AS SELECT * FROM read_parquet('{a}/data/pages.parquet');
                 CREATE VIEW events AS
                   SELECT id, payload->>'$.kind' AS kind,
                          CAST(json_extract(payload, '$.n') AS INTEGER) AS n
                   FROM read_json('{a}/data/events.json');"
            ),
        );
        make_db(
            &crm.join("extract.duckdb"),
            &format!("CREATE VIEW deals AS SELECT * FROM read_parquet('{c}/data/*.parquet');"),
        );
        Self { dir }
    }

    fn database(&self) -> PathBuf {
        self.dir.path().join("analytics").join("analytics.duckdb")
    }

    fn extracts(&self) -> PathBuf {
        self.dir.path().join("extracts")
    }

    fn sealed(&self) -> da::engine::SealedEngine {
        let engine = Engine::open(
            &options(Some(&self.database()), Some(&self.extracts())),
            &no_env,
        )
        .unwrap();
        assert!(engine.warnings.is_empty(), "{:?}", engine.warnings);
        engine.seal().unwrap()
    }
}

#[test]
fn views_over_files_beside_the_databases_answer_after_the_seal() {
    // Guards against the seal cutting off the reference layout: with external access off
    // and no allowed folders, every one of these views failed with "file system operations
    // are disabled by configuration".
    let warehouse = Warehouse::new();
    let engine = warehouse.sealed();
    assert_eq!(scalar(&engine, "SELECT count(*) FROM pages"), "5");
    assert_eq!(
        scalar(
            &engine,
            "SELECT string_agg(kind, ',' ORDER BY id) FROM events"
        ),
        "click,view"
    );
    assert_eq!(scalar(&engine, "SELECT sum(n) FROM events"), "7");
    assert_eq!(
        scalar(&engine, "SELECT sum(amount) FROM crm.deals"),
        "40",
        "a glob over an extract's data folder"
    );
}

#[test]
fn the_allowed_folders_are_the_only_files_the_sealed_engine_reads() {
    // Guards the exception made for the views: only the analytics and extract folders
    // open, by path prefix that cannot be escaped, and the setting cannot be widened later.
    let warehouse = Warehouse::new();
    let root = warehouse.dir.path();
    let outside = tempfile::tempdir().unwrap();
    let o = outside.path().display();
    // Real files, so a refusal is the sandbox and not "file not found".
    let writer = duckdb::Connection::open_in_memory().unwrap();
    writer
        .execute_batch(&format!(
            "COPY (SELECT 'secret' AS s) TO '{o}/x.parquet' (FORMAT parquet);"
        ))
        .unwrap();
    let sibling = root.join("analytics_private");
    std::fs::create_dir_all(&sibling).unwrap();
    std::fs::write(sibling.join("s.csv"), "password\nhunter2\n").unwrap();
    std::fs::write(root.join("s.csv"), "password\nhunter2\n").unwrap();
    let engine = warehouse.sealed();
    let a = root.join("analytics");
    let a = a.display();
    for sql in [
        format!("SELECT * FROM read_parquet('{o}/x.parquet')"),
        "SELECT * FROM read_csv('/etc/passwd')".to_owned(),
        format!("SELECT * FROM read_csv('{a}/../s.csv')"),
        format!(
            "SELECT * FROM read_csv('{}')",
            sibling.join("s.csv").display()
        ),
        format!("SELECT * FROM glob('{o}/*')"),
        format!("SET allowed_directories = ['{o}']"),
        format!("SET allowed_paths = ['{o}/x.parquet']"),
    ] {
        let err = engine.execute_unvalidated(&sql);
        assert!(err.is_err(), "the sandbox let through: {sql}");
    }
}

#[test]
fn a_symlink_inside_an_allowed_folder_does_not_lead_out_of_it() {
    // DuckDB resolves symlinks before it compares paths: a link planted in the analytics
    // folder reaches nothing outside it (and data folders that are links elsewhere are
    // refused the same way).
    let warehouse = Warehouse::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("s.csv"), "password\nhunter2\n").unwrap();
    let link = warehouse.dir.path().join("analytics").join("link");
    std::os::unix::fs::symlink(outside.path(), &link).unwrap();
    let engine = warehouse.sealed();
    let sql = format!("SELECT * FROM read_csv('{}/s.csv')", link.display());
    let err = engine.execute_unvalidated(&sql).unwrap_err().to_string();
    assert!(err.contains("disabled by configuration"), "{err}");
}

#[test]
fn the_allowed_folders_are_not_writable_through_the_engine() {
    // Guards against DuckDB's allowed_directories being read-write: COPY and ATTACH into the
    // analytics folder would otherwise write beside the analytics file.
    let warehouse = Warehouse::new();
    let engine = warehouse.sealed();
    let a = warehouse.dir.path().join("analytics");
    for sql in [
        format!("COPY (SELECT 1 AS x) TO '{}/out.csv'", a.display()),
        format!("EXPORT DATABASE '{}/dump'", a.display()),
        format!("ATTACH '{}/new.duckdb' AS fresh", a.display()),
        format!("SELECT 1; COPY (SELECT 1) TO '{}/out2.csv'", a.display()),
    ] {
        let result = engine.execute_as_if_checked(&sql, 10);
        assert!(result.is_err(), "the engine ran: {sql}");
    }
    for name in ["out.csv", "out2.csv", "dump", "new.duckdb"] {
        assert!(!a.join(name).exists(), "{name} was written");
    }
    // Why the engine checks statements itself: DuckDB's own sandbox lets a COPY write into
    // an allowed folder. If this starts failing, DuckDB made them read-only.
    engine
        .execute_unvalidated(&format!(
            "COPY (SELECT 1 AS x) TO '{}/raw.csv'",
            a.display()
        ))
        .expect("DuckDB's allowed_directories are writable");
    assert!(a.join("raw.csv").exists());
}

/// An extracts folder whose extracts hold the given `_remote_attach` rows.
fn extracts_with_rows(dir: &Path, extracts: &[(&str, &str)]) -> PathBuf {
    let root = dir.join("extracts");
    for (name, rows) in extracts {
        std::fs::create_dir_all(root.join(name)).unwrap();
        make_db(
            &root.join(name).join("extract.duckdb"),
            &format!(
                "CREATE TABLE _remote_attach (alias VARCHAR, extension VARCHAR, url VARCHAR, token_env VARCHAR);
                 INSERT INTO _remote_attach VALUES {rows};"
            ),
        );
    }
    root
}

fn allowing(extensions: &[&str], database: Option<&Path>, extracts: &Path) -> EngineOptions {
    let mut opts = options(database, Some(extracts));
    opts.remote_attach.extensions = extensions.iter().map(|e| (*e).to_owned()).collect();
    opts
}

#[test]
fn an_available_allow_listed_extension_loads_and_its_attach_is_attempted() {
    // `parquet` is linked into this DuckDB, so its LOAD succeeds; the ATTACH then fails on
    // its own terms ("Unrecognized storage type"), which proves it ran after the LOAD. The
    // warning now names the step that failed; before, it did not say which.
    let dir = tempfile::tempdir().unwrap();
    let extracts = extracts_with_rows(dir.path(), &[("crm", "('pq', 'parquet', 'x', '')")]);
    let engine = Engine::open(&allowing(&["parquet"], None, &extracts), &no_env).unwrap();
    let w = engine.warnings.join("\n");
    assert!(
        w.contains("`pq` (parquet) not attached: ATTACH failed"),
        "{w}"
    );
    assert!(!w.contains("LOAD parquet failed"), "{w}");
}

#[test]
fn a_missing_allow_listed_extension_fails_as_not_installed_and_the_run_goes_on() {
    // The LOAD must reach DuckDB's extension lookup: the warning carries DuckDB's own
    // "not found" text, never a refusal by the engine's configuration. (DuckDB looks for the
    // file before it checks trust, so a missing extension read "not found" before too; what
    // the old configuration broke, an installed community extension, is pinned by the unit
    // test `community_extensions_are_trusted_while_reattach_loads_and_not_after`.)
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("analytics.duckdb");
    make_db(&db, "CREATE TABLE orders AS SELECT 1 AS id");
    let extracts = extracts_with_rows(
        dir.path(),
        &[("crm", "('bq', 'bigquery', 'project=acme', '')")],
    );
    let engine = Engine::open(&allowing(&["bigquery"], Some(&db), &extracts), &no_env).unwrap();
    let w = engine.warnings.join("\n");
    assert!(
        w.contains("`bq` (bigquery) not attached: LOAD bigquery failed"),
        "{w}"
    );
    assert!(w.contains("not found"), "{w}");
    for refusal in ["disabled", "configuration", "community", "signature"] {
        assert!(
            !w.contains(refusal),
            "refused by configuration ({refusal}): {w}"
        );
    }
    let engine = engine.seal().unwrap();
    assert_eq!(scalar(&engine, "SELECT count(*) FROM orders"), "1");
}

#[test]
fn the_same_remote_source_in_several_extracts_is_attached_once() {
    // Guards the design's deduplication: identical rows are one source (one LOAD, one
    // ATTACH, one warning); a second row reusing an alias is skipped, not attached twice.
    let dir = tempfile::tempdir().unwrap();
    let row = "('bq', 'bigquery', 'project=acme', '')";
    let extracts = extracts_with_rows(
        dir.path(),
        &[
            ("crm", row),
            ("sales", row),
            (
                "web",
                "('pq', 'parquet', 'a', ''), ('pq', 'parquet', 'b', '')",
            ),
        ],
    );
    let engine = Engine::open(
        &allowing(&["bigquery", "parquet"], None, &extracts),
        &no_env,
    )
    .unwrap();
    let about = |alias: &str| {
        engine
            .warnings
            .iter()
            .filter(|w| w.contains(&format!("`{alias}`")))
            .count()
    };
    assert_eq!(about("bq"), 1, "{:?}", engine.warnings);
    assert_eq!(about("pq"), 2, "{:?}", engine.warnings);
    assert!(
        engine
            .warnings
            .iter()
            .any(|w| w.contains("`pq`") && w.contains("already defines")),
        "{:?}",
        engine.warnings
    );
}

#[test]
fn after_the_seal_no_extension_can_be_loaded() {
    // What DuckDB answers after the seal: "Loading external extensions is disabled through
    // configuration" for any LOAD from disk, a file-system refusal for INSTALL. (`LOAD
    // parquet` / `LOAD json` still succeed: they are linked in and already loaded, and this
    // DuckDB has no setting that turns the statement off.) The seal refused these before
    // too; this pins that the trust re-attach needs at open does not outlive it.
    let dir = tempfile::tempdir().unwrap();
    let extracts = extracts_with_rows(dir.path(), &[("crm", "('pq', 'parquet', 'x', '')")]);
    let engine = Engine::open(&allowing(&["parquet"], None, &extracts), &no_env)
        .unwrap()
        .seal()
        .unwrap();
    for sql in [
        "LOAD bigquery",
        "LOAD httpfs",
        "INSTALL json",
        "LOAD '/tmp/x.duckdb_extension'",
    ] {
        let err = engine.execute_unvalidated(sql).unwrap_err().to_string();
        assert!(
            err.contains("disabled through configuration")
                || err.contains("disabled by configuration"),
            "{sql} reached the extension lookup: {err}"
        );
    }
    for setting in [
        "allow_community_extensions",
        "autoload_known_extensions",
        "autoinstall_known_extensions",
    ] {
        assert_eq!(
            scalar(&engine, &format!("SELECT current_setting('{setting}')")),
            "false",
            "{setting}"
        );
    }
}
