//! Keep the server's own file-system layout out of what analyst tokens are shown.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;
use crate::settings::Settings;

/// What a server path is replaced with.
const HIDDEN: &str = "<server>";

/// The server's folders and files that messages may name: the working folder, the
/// config's folder, the analytics database, extracts, warehouse and credentials, each as
/// configured and as the absolute path it resolves to. Longest first, so a file is
/// hidden whole rather than after its folder.
pub fn server_paths(settings: &Settings) -> Vec<String> {
    let config = &settings.config;
    let mut paths: Vec<PathBuf> = [
        std::env::current_dir().ok(),
        settings
            .config_path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_owned),
        config.analytics.database.clone(),
        config.analytics.extracts.clone(),
        config.bigquery.local_warehouse.clone(),
        config.bigquery.credentials.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let resolved: Vec<PathBuf> = paths
        .iter()
        .filter_map(|p| std::path::absolute(p).ok())
        .chain(paths.iter().filter_map(|p| p.canonicalize().ok()))
        .collect();
    paths.extend(resolved);
    let mut texts: Vec<String> = paths
        .iter()
        .filter(|p| p.is_absolute() && p.parent().is_some())
        .map(|p| p.display().to_string())
        .collect();
    texts.sort_by_key(|t| std::cmp::Reverse(t.len()));
    texts.dedup();
    texts
}

/// `text` with every server path replaced by `<server>`.
pub fn redact(text: &str, paths: &[String]) -> String {
    paths.iter().fold(text.to_owned(), |text, path| {
        text.replace(path.as_str(), HIDDEN)
    })
}

/// Diagnostics with server paths hidden from their message and hint.
pub fn redact_diagnostics(diagnostics: &mut [Diagnostic], paths: &[String]) {
    for d in diagnostics {
        d.message = redact(&d.message, paths);
        d.hint = d.hint.as_deref().map(|h| redact(h, paths));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_paths_are_hidden_whole() {
        let paths = vec!["/srv/da/analytics.duckdb".to_owned(), "/srv/da".to_owned()];
        assert_eq!(
            redact(
                "cannot open /srv/da/analytics.duckdb (in /srv/da/extracts)",
                &paths
            ),
            "cannot open <server> (in <server>/extracts)"
        );
    }
}
