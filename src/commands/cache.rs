//! `da cache ls` and `da cache clear`: the alias result cache's entries.

use std::io::Write;

use crate::error::{Error, exit};
use crate::report::human_bytes;
use crate::settings::Settings;
use crate::source::cache;

/// List (or clear) the cache folder's entries, written to `out`.
pub fn run(clear: bool, json: bool, settings: &Settings, out: &mut dyn Write) -> Result<u8, Error> {
    let Some(dir) = settings.cache_dir() else {
        return Err(Error::Usage(
            "no cache folder: set cache.dir in the config (there is no HOME or XDG_CACHE_HOME)"
                .to_owned(),
        ));
    };
    let io = |context: &str| {
        let context = format!("{context} {}", dir.display());
        move |source| Error::Io { context, source }
    };
    let written = if clear {
        let removed = cache::clear(&dir).map_err(io("cannot clear the cache folder"))?;
        if json {
            writeln!(
                out,
                "{}",
                serde_json::json!({"removed": removed, "dir": dir})
            )
        } else {
            writeln!(
                out,
                "removed {removed} cached results from {}",
                dir.display()
            )
        }
    } else {
        let entries = cache::list(&dir).map_err(io("cannot read the cache folder"))?;
        if json {
            serde_json::to_writer_pretty(&mut *out, &entries)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        } else {
            table(&dir, &entries, out)
        }
    };
    written.map_err(io("cannot write the listing of"))?;
    Ok(exit::OK)
}

fn table(
    dir: &std::path::Path,
    entries: &[cache::Entry],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(out, "cache {} ({} entries)", dir.display(), entries.len())?;
    for e in entries {
        writeln!(
            out,
            "{}  {:>10}  {}s old",
            e.key,
            human_bytes(e.bytes),
            e.age_seconds
        )?;
    }
    Ok(())
}
