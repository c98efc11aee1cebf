//! Settings: defaults < config file < `DA_*` environment < flags, merged in one place.
//!
//! Commands receive a `Settings` and never see clap types or raw environment variables:
//! this is the only module that reads the process environment or a token file, and it
//! keeps the few variables needed later (credentials, the emulator, remote-attach tokens)
//! in a snapshot taken once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{self, Backend, InstanceConfig, Limits};
use crate::diagnostic::FileReport;
use crate::document::Syntax;
use crate::error::{BqErrorKind, Error, RunError};
use crate::output::guard::Protected;
use crate::schema;
use crate::validate::Context;
use crate::validate::sql::BigQueryPolicy;

/// Variables read after start-up, besides the `DA_*` settings and the configured
/// remote-attach token variables.
const SNAPSHOT: [&str; 9] = [
    "XDG_CACHE_HOME",
    "DA_BIGQUERY_ACCESS_TOKEN",
    "DA_BIGQUERY_ACCESS_TOKEN_FILE",
    "BIGQUERY_EMULATOR_HOST",
    "BIGQUERY_STORAGE_EMULATOR_HOST",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "CLOUDSDK_CONFIG",
    "HOME",
    "GCE_METADATA_HOST",
];

/// Overrides given on the command line (flags win over everything).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub database: Option<PathBuf>,
    pub max_result_rows: Option<u64>,
    /// `--credentials FILE`: a Google credentials file.
    pub credentials: Option<PathBuf>,
    /// `--cache` (every alias, default TTL 1 h) / `--no-cache`; `None`: as the plan says.
    pub cache: Option<bool>,
    /// `--refresh`: fetch cached aliases again and store the new results.
    pub refresh_cache: bool,
}

/// How a run uses the alias result cache, from the flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheUse {
    pub force: Option<bool>,
    pub refresh: bool,
}

/// Checked settings for one invocation. They travel whole to worker processes (serde), so a
/// worker runs with exactly its server's settings and reads no environment of its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub config: InstanceConfig,
    /// The file the configuration came from, if any.
    pub config_path: Option<PathBuf>,
    /// The environment variables read after start-up, captured once (non-empty only).
    env: BTreeMap<String, String>,
    /// The cache flags of this invocation.
    pub cache_use: CacheUse,
}

/// How to reach BigQuery, from the configuration and the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigQueryAccess {
    /// Base URL including `/bigquery/v2`; `None` is Google's.
    pub endpoint: Option<String>,
    /// A bearer token to use as is (from the environment, a token file, or an emulator).
    pub token: Option<String>,
    /// The Storage Read API's gRPC endpoint (`http://host:port`); `None` is Google's.
    pub storage_endpoint: Option<String>,
}

impl Settings {
    /// Resolve settings from the process environment and the flags.
    pub fn from_process_env(overrides: &Overrides) -> Result<Self, Error> {
        #[allow(clippy::disallowed_methods)] // the one place the environment is read
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self::resolve(overrides, &env)
    }

    /// Resolve settings from an optional config file, an environment and the flags.
    pub fn resolve(
        overrides: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let config_path = overrides
            .config
            .clone()
            .or_else(|| env("DA_CONFIG").map(PathBuf::from));
        let mut config = match &config_path {
            Some(path) => load_config(path)?,
            None => InstanceConfig::default(),
        };
        apply_env(&mut config, env)?;
        if config.budget.is_some_and(|b| b.is_set()) && config.bigquery.dry_run == Some(false) {
            return Err(Error::Usage(
                "budget needs dry runs to be enforced, but bigquery.dry_run is false: remove the budget or turn dry runs back on".to_owned(),
            ));
        }
        if !config.bigquery.allowed_datasets.is_empty() && config.bigquery.dry_run == Some(false) {
            return Err(Error::Usage(
                "bigquery.allowed_datasets is enforced on the tables BigQuery's dry run reports, but bigquery.dry_run is false: remove the list or turn dry runs back on".to_owned(),
            ));
        }
        if let Some(db) = &overrides.database {
            config.analytics.database = Some(db.clone());
        }
        if let Some(file) = &overrides.credentials {
            config.bigquery.credentials = Some(file.clone());
        }
        if let Some(rows) = overrides.max_result_rows {
            config.remote_query.max_result_rows = rows;
        }
        let names = SNAPSHOT
            .iter()
            .map(|n| (*n).to_owned())
            .chain(config.analytics.remote_attach_token_envs.iter().cloned());
        let snapshot = names
            .filter_map(|name| env(&name).filter(|v| !v.is_empty()).map(|v| (name, v)))
            .collect();
        Ok(Self {
            config,
            config_path,
            env: snapshot,
            cache_use: CacheUse {
                force: overrides.cache,
                refresh: overrides.refresh_cache,
            },
        })
    }

    /// The alias result cache's folder: `cache.dir` (relative to the config file), else
    /// `da` in the user cache folder; `None` when there is no home to put it in.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = &self.config.cache.dir {
            return Some(dir.clone());
        }
        self.env("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| self.env("HOME").map(|h| PathBuf::from(h).join(".cache")))
            // A folder of its own: `~/.cache/da` also holds the build's target directory.
            .map(|base| base.join("da").join("alias-cache"))
    }

    /// US dollars per TiB billed (`bigquery.price_per_tib`, or the on-demand list price).
    pub fn price_per_tib(&self) -> f64 {
        self.config
            .bigquery
            .price_per_tib
            .unwrap_or(config::DEFAULT_PRICE_PER_TIB)
    }

    /// The instance limits.
    pub fn limits(&self) -> Limits {
        self.config.remote_query
    }

    /// A variable of the environment snapshot.
    pub fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }

    /// What validation needs from these settings, with the given parameter values.
    pub fn context<'a>(
        &self,
        given_params: &'a [(String, String)],
        require_params: bool,
    ) -> Context<'a> {
        Context {
            limits: self.limits(),
            max_bytes_billed: self
                .config
                .bigquery
                .max_bytes_billed
                .unwrap_or(config::DEFAULT_MAX_BYTES_BILLED),
            budget: self.config.budget.unwrap_or_default(),
            precheck: self.config.bigquery.precheck.unwrap_or_default(),
            bigquery: self.bigquery_policy(),
            given_params,
            require_params,
            protected: self.protected_paths(),
        }
    }

    /// The inputs outputs may never replace or write into: the configuration, the
    /// analytics database (and its write-ahead log), extracts, the local warehouse.
    pub fn protected_paths(&self) -> Vec<Protected> {
        let a = &self.config.analytics;
        let mut wal = a.database.clone().map(PathBuf::into_os_string);
        if let Some(w) = &mut wal {
            w.push(".wal");
        }
        [
            (self.config_path.clone(), "the configuration"),
            (a.database.clone(), "the analytics database"),
            (
                wal.map(PathBuf::from),
                "the analytics database's write-ahead log",
            ),
            (a.extracts.clone(), "the extracts folder"),
            (
                self.config.bigquery.local_warehouse.clone(),
                "the local warehouse",
            ),
        ]
        .into_iter()
        .filter_map(|(path, what)| path.map(|p| Protected::new(p, what)))
        .collect()
    }

    pub fn bigquery_policy(&self) -> BigQueryPolicy {
        BigQueryPolicy {
            default_project: self.config.bigquery.project.clone(),
            allowed_datasets: self.config.bigquery.allowed_datasets.clone(),
        }
    }

    /// `bigquery` when a project or endpoint is configured, `local` otherwise.
    pub fn backend(&self) -> Backend {
        let bq = &self.config.bigquery;
        bq.backend.unwrap_or(if bq.project.is_some() {
            Backend::Bigquery
        } else {
            Backend::Local
        })
    }

    /// Settings that are valid but probably not what was meant, one sentence each.
    pub fn warnings(&self) -> Vec<String> {
        let bq = &self.config.bigquery;
        let mut out = Vec::new();
        if let (Some(Backend::Local), Some(project)) = (bq.backend, &bq.project) {
            out.push(format!(
                "bigquery.project `{project}` is ignored: bigquery.backend is local, so aliases read the Parquet files in bigquery.local_warehouse"
            ));
        }
        out
    }

    /// The endpoint and token to use. An emulator named the way Google's tools expect
    /// (`BIGQUERY_EMULATOR_HOST`) wins over the configured endpoint and needs no
    /// credentials; a token file keeps the token out of `ps` and logs.
    pub fn bigquery_access(&self) -> Result<BigQueryAccess, RunError> {
        let emulator = self.env("BIGQUERY_EMULATOR_HOST");
        let endpoint = emulator
            .as_ref()
            .map(|host| format!("http://{host}/bigquery/v2"))
            .or_else(|| self.config.bigquery.endpoint.clone());
        let from_file = match self.env("DA_BIGQUERY_ACCESS_TOKEN_FILE") {
            Some(file) => Some(
                std::fs::read_to_string(&file)
                    .map(|t| t.trim().to_owned())
                    .map_err(|e| {
                        RunError::bq(
                            BqErrorKind::AuthFailed,
                            format!("cannot read DA_BIGQUERY_ACCESS_TOKEN_FILE {file}: {e}"),
                        )
                        .hint(
                            "point DA_BIGQUERY_ACCESS_TOKEN_FILE at a file holding an access token",
                        )
                    })?,
            ),
            None => None,
        };
        let token = self
            .env("DA_BIGQUERY_ACCESS_TOKEN")
            .or(from_file)
            .or_else(|| emulator.as_ref().map(|_| "emulator".to_owned()));
        // An emulator's gRPC side has a variable of its own; without one, an emulator's
        // REST host is tried, and a refused session falls back to REST.
        let storage_endpoint = self
            .env("BIGQUERY_STORAGE_EMULATOR_HOST")
            .or(emulator)
            .map(|host| format!("http://{host}"))
            .or_else(|| self.config.bigquery.storage_endpoint.clone());
        Ok(BigQueryAccess {
            endpoint,
            token,
            storage_endpoint,
        })
    }
}

/// `NO_COLOR` is set (https://no-color.org): never colour output.
pub fn no_color() -> bool {
    #[allow(clippy::disallowed_methods)] // the one place the environment is read
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

fn load_config(path: &Path) -> Result<InstanceConfig, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::io("read", path, source))?;
    let syntax = Syntax::from_path(path).unwrap_or(Syntax::Yaml);
    let mut config: InstanceConfig = match schema::load(&text, syntax, config::json_schema()) {
        Ok((_, config)) => config,
        Err(diagnostics) => {
            return Err(Error::InvalidConfig(Box::new(FileReport {
                path: path.display().to_string(),
                source: Some(text),
                diagnostics,
            })));
        }
    };
    // Paths in the file are relative to the file, so a config works from any directory.
    let base = path.parent().unwrap_or(Path::new(""));
    let rebase = |p: &mut Option<PathBuf>| {
        if let Some(inner) = p.as_mut().filter(|p| p.is_relative()) {
            *inner = base.join(&*inner);
        }
    };
    rebase(&mut config.analytics.database);
    rebase(&mut config.analytics.extracts);
    rebase(&mut config.analytics.schema_snapshot);
    rebase(&mut config.bigquery.local_warehouse);
    rebase(&mut config.bigquery.credentials);
    rebase(&mut config.cache.dir);
    Ok(config)
}

fn apply_env(
    config: &mut InstanceConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), Error> {
    let number = |name: &str| -> Result<Option<u64>, Error> {
        env(name)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        Error::Usage(format!("{name}={v} is not a positive whole number"))
                    })
            })
            .transpose()
    };
    let rq = &mut config.remote_query;
    if let Some(n) = number("DA_MAX_BQ_REGISTRATION_ROWS")? {
        rq.max_bq_registration_rows = n;
    }
    if let Some(n) = number("DA_MAX_MEMORY_MB")? {
        rq.max_memory_mb = n;
    }
    if let Some(n) = number("DA_MAX_RESULT_ROWS")? {
        rq.max_result_rows = n;
    }
    if let Some(n) = number("DA_TIMEOUT_SECONDS")? {
        rq.timeout_seconds = n;
    }
    let bq = &mut config.bigquery;
    if let Some(v) = env("DA_BIGQUERY_PROJECT") {
        bq.project = Some(v);
    }
    if let Some(v) = env("DA_BIGQUERY_LOCATION") {
        bq.location = Some(v);
    }
    if let Some(v) = env("DA_BIGQUERY_ENDPOINT") {
        bq.endpoint = Some(v);
    }
    if let Some(v) = env("DA_BIGQUERY_BACKEND") {
        bq.backend = Some(match v.as_str() {
            "local" => Backend::Local,
            "bigquery" => Backend::Bigquery,
            _ => {
                return Err(Error::Usage(format!(
                    "DA_BIGQUERY_BACKEND={v}: expected local or bigquery"
                )));
            }
        });
    }
    if let Some(v) = env("DA_LOCAL_WAREHOUSE") {
        bq.local_warehouse = Some(PathBuf::from(v));
    }
    if let Some(v) = env("DA_ANALYTICS_DATABASE") {
        config.analytics.database = Some(PathBuf::from(v));
    }
    if let Some(v) = env("DA_ANALYTICS_EXTRACTS") {
        config.analytics.extracts = Some(PathBuf::from(v));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn defaults_match_the_reference() {
        let s = Settings::resolve(&Overrides::default(), &env_of(&[])).unwrap();
        assert_eq!(
            s.limits(),
            Limits {
                max_bq_registration_rows: 500_000,
                max_memory_mb: 2048,
                max_result_rows: 100_000,
                max_output_rows: None,
                timeout_seconds: 300,
            }
        );
        assert_eq!(s.backend(), Backend::Local);
    }

    #[test]
    fn flags_beat_environment() {
        let overrides = Overrides {
            max_result_rows: Some(7),
            ..Overrides::default()
        };
        let s = Settings::resolve(
            &overrides,
            &env_of(&[("DA_MAX_RESULT_ROWS", "9"), ("DA_TIMEOUT_SECONDS", "5")]),
        )
        .unwrap();
        assert_eq!(s.limits().max_result_rows, 7);
        assert_eq!(s.limits().timeout_seconds, 5);
    }

    #[test]
    fn bad_environment_values_are_usage_errors() {
        let err = Settings::resolve(
            &Overrides::default(),
            &env_of(&[("DA_MAX_MEMORY_MB", "lots")]),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{err:?}");
        assert!(err.to_string().contains("DA_MAX_MEMORY_MB"), "{err}");
    }

    #[test]
    fn an_emulator_wins_over_the_endpoint_and_needs_no_credentials() {
        let s = Settings::resolve(
            &Overrides::default(),
            &env_of(&[
                (
                    "DA_BIGQUERY_ENDPOINT",
                    "https://example.invalid/bigquery/v2",
                ),
                ("BIGQUERY_EMULATOR_HOST", "127.0.0.1:9050"),
            ]),
        )
        .unwrap();
        let access = s.bigquery_access().unwrap();
        assert_eq!(
            access.endpoint.as_deref(),
            Some("http://127.0.0.1:9050/bigquery/v2")
        );
        assert_eq!(access.token.as_deref(), Some("emulator"));
        // The Read API tries the emulator's host when it names no gRPC host of its own.
        assert_eq!(
            access.storage_endpoint.as_deref(),
            Some("http://127.0.0.1:9050")
        );
        let s = Settings::resolve(
            &Overrides::default(),
            &env_of(&[
                ("BIGQUERY_EMULATOR_HOST", "127.0.0.1:9050"),
                ("BIGQUERY_STORAGE_EMULATOR_HOST", "127.0.0.1:9060"),
            ]),
        )
        .unwrap();
        assert_eq!(
            s.bigquery_access().unwrap().storage_endpoint.as_deref(),
            Some("http://127.0.0.1:9060")
        );
    }

    #[test]
    fn a_token_file_is_read_and_an_unreadable_one_is_an_auth_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "ya29.secret\n").unwrap();
        let path = file.display().to_string();
        let pairs = [("DA_BIGQUERY_ACCESS_TOKEN_FILE".to_owned(), path)];
        let env = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let s = Settings::resolve(&Overrides::default(), &env).unwrap();
        assert_eq!(
            s.bigquery_access().unwrap().token.as_deref(),
            Some("ya29.secret")
        );
        std::fs::remove_file(&file).unwrap();
        let err = s.bigquery_access().unwrap_err();
        assert_eq!(
            err.error_type,
            crate::error::ErrorType::BqError(BqErrorKind::AuthFailed)
        );
    }

    #[test]
    fn a_project_with_the_local_backend_is_a_warning() {
        let s = Settings::resolve(
            &Overrides::default(),
            &env_of(&[
                ("DA_BIGQUERY_PROJECT", "acme-prod"),
                ("DA_BIGQUERY_BACKEND", "local"),
            ]),
        )
        .unwrap();
        let warnings = s.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("acme-prod"), "{warnings:?}");
        let only_project = Settings::resolve(
            &Overrides::default(),
            &env_of(&[("DA_BIGQUERY_PROJECT", "p")]),
        )
        .unwrap();
        assert!(only_project.warnings().is_empty());
    }
}
