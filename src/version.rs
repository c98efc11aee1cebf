//! The text of `da --version`: our version and the version of the bundled DuckDB, which
//! decides SQL behaviour and so belongs in every bug report.

use std::sync::OnceLock;

/// `0.1.0 (DuckDB v2.0.0)`; clap puts `da ` in front.
pub fn text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{} (DuckDB {})",
            env!("CARGO_PKG_VERSION"),
            duckdb_version()
        )
    })
}

/// The DuckDB library's own version string (`v2.0.0`). Read from the library rather than
/// from a connection: clap builds the version text on every invocation, and opening a
/// database for it would slow down every command.
pub fn duckdb_version() -> String {
    // SAFETY: `duckdb_library_version` takes no arguments and returns a pointer to a
    // NUL-terminated string that is static in the linked library and never freed.
    let raw = unsafe { std::ffi::CStr::from_ptr(duckdb::ffi::duckdb_library_version()) };
    raw.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_library_version_is_the_one_sql_reports() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let from_sql: String = conn
            .query_row("SELECT version()", [], |r| r.get(0))
            .unwrap();
        assert_eq!(super::duckdb_version(), from_sql);
        assert!(super::text().contains(&from_sql), "{}", super::text());
    }
}
