//! `bigquery.allowed_datasets` as BigQuery sees it: the alias query's dry run is a
//! jobs.insert dry run, whose `statistics.query.referencedTables` lists every table the
//! query reads (through views and functions too), and each must be in an allowed dataset.
//! Our parser's view of the SQL (validate) is the first layer; this one does not depend on
//! it. It runs in the estimate phase, before any billed job.

use gcp_bigquery_client::model::job::Job;
use gcp_bigquery_client::model::job_configuration::JobConfiguration;
use gcp_bigquery_client::model::job_configuration_query::JobConfigurationQuery;
use gcp_bigquery_client::model::job_reference::JobReference;
use gcp_bigquery_client::model::table_reference::TableReference;

use serde_json::Value;

use super::BigQuerySource;
use super::arrow::BqField;
use super::errors::bq_error;
use crate::error::{BqErrorKind, RunError};
use crate::validate::CheckedAlias;

impl BigQuerySource {
    /// The alias query's schema and bytes from a jobs.insert dry run, refused unless every
    /// table BigQuery says it reads is in an allowed dataset.
    pub(super) async fn dry_run_within_policy(
        &self,
        alias: &CheckedAlias,
    ) -> Result<(Vec<BqField>, Option<u64>), RunError> {
        let request = self.request(alias, alias.sql().to_owned(), true, self.opts.page_size);
        let project = self.opts.project.as_str();
        let job = Job {
            configuration: Some(JobConfiguration {
                dry_run: Some(true),
                labels: request.labels,
                query: Some(JobConfigurationQuery {
                    query: request.query,
                    use_legacy_sql: Some(false),
                    parameter_mode: request.parameter_mode,
                    query_parameters: request.query_parameters,
                    ..JobConfigurationQuery::default()
                }),
                ..JobConfiguration::default()
            }),
            job_reference: Some(JobReference {
                project_id: Some(project.to_owned()),
                location: self.opts.location.clone(),
                ..JobReference::default()
            }),
            ..Job::default()
        };
        let dry = self
            .guarded(alias, None, || {
                self.client.job().insert(project, job.clone())
            })
            .await?;
        let stats = dry.statistics.and_then(|s| s.query).unwrap_or_default();
        let tables = stats.referenced_tables.unwrap_or_default();
        if let Some(table) = tables
            .iter()
            .find(|t| !self.opts.policy.allows(&t.project_id, &t.dataset_id))
        {
            return Err(self.not_allowed(alias, table));
        }
        let bytes = stats
            .total_bytes_processed
            .as_deref()
            .and_then(|b| b.parse().ok());
        Ok((fields_of(stats.schema.as_ref())?, bytes))
    }

    fn not_allowed(&self, alias: &CheckedAlias, table: &TableReference) -> RunError {
        let name = format!(
            "{}.{}.{}",
            table.project_id, table.dataset_id, table.table_id
        );
        let allowed = self.opts.policy.allowed_datasets.join(", ");
        bq_error(
            BqErrorKind::DatasetNotAllowed,
            format!(
                "alias `{}`: BigQuery's dry run says the query reads `{name}`, which is not in an allowed dataset (allowed: {allowed}); nothing was billed",
                alias.name()
            ),
            "read only tables in bigquery.allowed_datasets; a view or function in an allowed dataset may read others",
        )
        .detail("alias", alias.name())
        .detail("table", name)
        .detail("allowed_datasets", self.opts.policy.allowed_datasets.clone())
    }
}

/// The crate's schema as `BqField`s (through JSON, once per query).
fn fields_of(
    schema: Option<&gcp_bigquery_client::model::table_schema::TableSchema>,
) -> Result<Vec<BqField>, RunError> {
    let fields = schema
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|s| s.get("fields").cloned())
        .unwrap_or(Value::Array(Vec::new()));
    serde_json::from_value(fields).map_err(|e| {
        bq_error(
            BqErrorKind::Upstream,
            format!("unreadable schema from BigQuery: {e}"),
            "report this",
        )
    })
}
