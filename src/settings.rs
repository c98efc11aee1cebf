//! Settings: defaults < config file < `DA_*` environment < flags, merged in one place.
//!
//! Commands receive a `Settings` and never see clap types or raw environment variables.

use std::path::{Path, PathBuf};

use crate::config::{Backend, InstanceConfig};
use crate::diagnostic::FileReport;
use crate::error::Error;
use crate::plan::source::Syntax;
use crate::schema::{self, Kind};
use crate::validate::Context;
use crate::validate::sql::BigQueryPolicy;

/// The effective limits of a run; plans and aliases may only tighten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    pub max_bq_registration_rows: u64,
    pub max_memory_mb: u64,
    pub max_result_rows: u64,
    pub timeout_seconds: u64,
}

/// Overrides given on the command line (flags win over everything).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub database: Option<PathBuf>,
    pub max_result_rows: Option<u64>,
    /// `--credentials FILE`: a Google credentials file.
    pub credentials: Option<PathBuf>,
}

/// Checked settings for one invocation.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: InstanceConfig,
    /// The file the configuration came from, if any.
    pub config_path: Option<PathBuf>,
}

impl Settings {
    /// Resolve settings from an optional config file, the environment and the flags.
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
        if let Some(db) = &overrides.database {
            config.analytics.database = Some(db.clone());
        }
        if let Some(file) = &overrides.credentials {
            config.bigquery.credentials = Some(file.clone());
        }
        if let Some(rows) = overrides.max_result_rows {
            config.remote_query.max_result_rows = rows;
        }
        Ok(Self {
            config,
            config_path,
        })
    }

    pub fn limits(&self) -> Limits {
        let rq = &self.config.remote_query;
        Limits {
            max_bq_registration_rows: rq.max_bq_registration_rows,
            max_memory_mb: rq.max_memory_mb,
            max_result_rows: rq.max_result_rows,
            timeout_seconds: rq.timeout_seconds,
        }
    }

    /// What validation needs from these settings, with the given parameter values.
    pub fn context<'a>(
        &self,
        given_params: &'a [(String, String)],
        require_params: bool,
    ) -> Context<'a> {
        Context {
            limits: self.limits(),
            bigquery: self.bigquery_policy(),
            given_params,
            require_params,
        }
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
}

fn load_config(path: &Path) -> Result<InstanceConfig, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let syntax = Syntax::from_path(path).unwrap_or(Syntax::Yaml);
    let mut config: InstanceConfig = match schema::load(&text, syntax, Kind::Config) {
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
    rebase(&mut config.bigquery.local_warehouse);
    rebase(&mut config.bigquery.credentials);
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
                timeout_seconds: 300
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
        assert!(err.to_string().contains("DA_MAX_MEMORY_MB"), "{err}");
    }
}
