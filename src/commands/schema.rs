//! `da schema plan|config|lock`: print the committed JSON schema; `da schema snapshot`:
//! the analytics database's catalog.

use std::io::Write;

use crate::schema::Kind;

pub fn run(kind: Kind, out: &mut dyn Write) -> std::io::Result<()> {
    let schema = match kind {
        Kind::Plan => crate::plan::json_schema(),
        Kind::Config => crate::config::json_schema(),
        Kind::Lock => crate::lock::json_schema(),
    };
    out.write_all(schema.text().as_bytes())
}

/// The analytics database's tables, views and column types, as JSON: what
/// `da plan check --schema-snapshot` binds against on a machine without the database.
pub fn snapshot(
    settings: &crate::settings::Settings,
    out: &mut dyn Write,
) -> Result<u8, crate::error::Error> {
    use crate::error::Error;
    if settings.config.analytics.database.is_none() {
        return Err(Error::Usage(
            "no analytics database: pass --db FILE or set analytics.database".to_owned(),
        ));
    }
    let catalog =
        crate::lock::bind::CatalogSource::database(crate::runner::engine_options(settings));
    let snapshot = catalog.snapshot()?;
    let mut text =
        serde_json::to_string_pretty(&snapshot).map_err(|e| Error::Internal(e.to_string()))?;
    text.push('\n');
    out.write_all(text.as_bytes()).map_err(|source| Error::Io {
        context: "cannot write the snapshot".to_owned(),
        source,
    })?;
    Ok(crate::error::exit::OK)
}
