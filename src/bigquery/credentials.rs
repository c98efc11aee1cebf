//! Google credentials, found the way Google's own tools look for them, and turned into an
//! authenticator for the client. Nothing is contacted to look for credentials: the
//! metadata server is used only on Google Cloud.

use std::path::PathBuf;
use std::sync::Arc;

use gcp_bigquery_client::error::BQError;
use serde_json::Value;

use super::errors::bq_error;
use crate::error::{BqErrorKind, RunError};

pub(super) const CREDENTIALS_HINT: &str = "pass --credentials KEY.json, set GOOGLE_APPLICATION_CREDENTIALS, run `gcloud auth application-default login`, or put a token in DA_BIGQUERY_ACCESS_TOKEN";

/// Where a token comes from, found the way Google's own tools look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A bearer token used as is (`DA_BIGQUERY_ACCESS_TOKEN`, an emulator).
    Token(String),
    /// A service-account key file.
    ServiceAccount(PathBuf),
    /// A gcloud user credentials file (`gcloud auth application-default login`).
    AuthorizedUser(PathBuf),
    /// The GCE/GKE metadata server, at this host (`GCE_METADATA_HOST`, else Google's).
    MetadataServer(String),
}

impl Credentials {
    /// In order: a token; an explicit key file (flag or config, then
    /// `GOOGLE_APPLICATION_CREDENTIALS`); gcloud's application-default file; the metadata
    /// server, but only on Google Cloud (said by `GCE_METADATA_HOST` or the machine's DMI
    /// product name, as google-auth checks), so nothing is sent anywhere else.
    pub fn discover(
        token: Option<String>,
        file: Option<PathBuf>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, RunError> {
        if let Some(token) = token {
            return Ok(Self::Token(token));
        }
        let explicit = file.or_else(|| env("GOOGLE_APPLICATION_CREDENTIALS").map(Into::into));
        let gcloud = env("CLOUDSDK_CONFIG")
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|h| std::path::Path::new(&h).join(".config/gcloud")))
            .map(|dir| dir.join("application_default_credentials.json"))
            .filter(|p| p.is_file());
        if let Some(path) = explicit.or(gcloud) {
            return Self::from_file(path);
        }
        let host = env("GCE_METADATA_HOST");
        let on_gce = host.is_some()
            || std::fs::read_to_string("/sys/class/dmi/id/product_name")
                .is_ok_and(|n| n.contains("Google"));
        if on_gce {
            let host = host.unwrap_or_else(|| "metadata.google.internal".to_owned());
            return Ok(Self::MetadataServer(host));
        }
        Err(bq_error(
            BqErrorKind::NotConfigured,
            "no Google credentials found",
            CREDENTIALS_HINT,
        ))
    }

    fn from_file(path: PathBuf) -> Result<Self, RunError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| {
            bq_error(
                BqErrorKind::AuthFailed,
                format!("cannot read credentials file {shown}: {e}"),
                CREDENTIALS_HINT,
            )
        })?;
        let kind = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned));
        match kind.as_deref() {
            Some("service_account") => Ok(Self::ServiceAccount(path)),
            Some("authorized_user") => Ok(Self::AuthorizedUser(path)),
            other => Err(bq_error(
                BqErrorKind::AuthFailed,
                format!(
                    "credentials file {shown} is not a service-account key or gcloud user credentials (type: {})",
                    other.unwrap_or("missing")
                ),
                CREDENTIALS_HINT,
            )),
        }
    }
}

/// A bearer token that never changes.
#[derive(Clone)]
pub(super) struct StaticToken(pub(super) String);

/// The OAuth scope of every token: BigQuery's, which the Storage Read API accepts too.
const SCOPES: &[&str] = &["https://www.googleapis.com/auth/bigquery"];

type TokenFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, BQError>> + Send>>;

/// A yup-oauth2 authenticator behind the client's `Authenticator`, built here so that the
/// REST client and the Storage Read API share it (and its token cache).
#[derive(Clone)]
pub(super) struct OAuth(Arc<dyn Fn() -> TokenFuture + Send + Sync>);

#[async_trait::async_trait]
impl gcp_bigquery_client::auth::Authenticator for OAuth {
    async fn access_token(&self) -> Result<String, BQError> {
        (self.0)().await
    }
}

/// The authenticator for `credentials`, shared by the REST calls and the Storage Read API.
pub(super) async fn authenticator(
    credentials: &Credentials,
    http: &reqwest::Client,
) -> Result<Arc<dyn gcp_bigquery_client::auth::Authenticator>, BQError> {
    use gcp_bigquery_client::yup_oauth2;
    // Each arm builds its own authenticator type; a closure hides it.
    macro_rules! oauth {
        ($auth:expr) => {{
            let auth = $auth;
            let fetch = move || -> TokenFuture {
                let auth = auth.clone();
                Box::pin(async move {
                    let token = auth.token(SCOPES).await?;
                    token.token().map(str::to_owned).ok_or(BQError::NoToken)
                })
            };
            Arc::new(OAuth(Arc::new(fetch))) as Arc<dyn gcp_bigquery_client::auth::Authenticator>
        }};
    }
    Ok(match credentials {
        Credentials::Token(token) => Arc::new(StaticToken(token.clone())),
        Credentials::ServiceAccount(path) => {
            let key = yup_oauth2::read_service_account_key(path).await?;
            oauth!(
                yup_oauth2::ServiceAccountAuthenticator::builder(key)
                    .build()
                    .await
                    .map_err(BQError::InvalidServiceAccountAuthenticator)?
            )
        }
        Credentials::AuthorizedUser(path) => {
            let secret = yup_oauth2::read_authorized_user_secret(path).await?;
            oauth!(
                yup_oauth2::AuthorizedUserAuthenticator::builder(secret)
                    .build()
                    .await
                    .map_err(BQError::InvalidAuthorizedUserAuthenticator)?
            )
        }
        Credentials::MetadataServer(host) => Arc::new(MetadataToken {
            http: http.clone(),
            url: format!(
                "http://{host}/computeMetadata/v1/instance/service-accounts/default/token"
            ),
            cached: Arc::default(),
        }),
    })
}

/// Tokens from the GCE/GKE metadata server, kept until a minute before they expire (the
/// client crate's own metadata authenticator asks on every request).
#[derive(Clone)]
struct MetadataToken {
    http: reqwest::Client,
    url: String,
    cached: Arc<tokio::sync::Mutex<Option<(String, std::time::Instant)>>>,
}

#[derive(serde::Deserialize)]
struct MetadataTokenResponse {
    access_token: String,
    expires_in: u64,
}

#[async_trait::async_trait]
impl gcp_bigquery_client::auth::Authenticator for MetadataToken {
    async fn access_token(&self) -> Result<String, BQError> {
        let mut cached = self.cached.lock().await;
        let now = std::time::Instant::now();
        if let Some((token, until)) = cached.as_ref()
            && now < *until
        {
            return Ok(token.clone());
        }
        let response: MetadataTokenResponse = self
            .http
            .get(&self.url)
            .header("Metadata-Flavor", "Google")
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let lifetime = std::time::Duration::from_secs(response.expires_in.saturating_sub(60));
        *cached = Some((response.access_token.clone(), now + lifetime));
        Ok(response.access_token)
    }
}

#[async_trait::async_trait]
impl gcp_bigquery_client::auth::Authenticator for StaticToken {
    async fn access_token(&self) -> Result<String, BQError> {
        Ok(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorType;

    #[test]
    fn credentials_are_found_like_googles_tools_find_them() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.json");
        std::fs::write(&key, r#"{"type": "service_account"}"#).unwrap();
        let user = dir
            .path()
            .join(".config/gcloud/application_default_credentials.json");
        std::fs::create_dir_all(user.parent().unwrap()).unwrap();
        std::fs::write(&user, r#"{"type": "authorized_user"}"#).unwrap();
        let home = dir.path().display().to_string();
        let env = |name: &str| (name == "HOME").then(|| home.clone());
        assert_eq!(
            Credentials::discover(Some("t".into()), Some(key.clone()), &env).unwrap(),
            Credentials::Token("t".into())
        );
        assert_eq!(
            Credentials::discover(None, Some(key.clone()), &env).unwrap(),
            Credentials::ServiceAccount(key)
        );
        assert_eq!(
            Credentials::discover(None, None, &env).unwrap(),
            Credentials::AuthorizedUser(user)
        );
        let err =
            Credentials::discover(None, Some(dir.path().join("nope.json")), &env).unwrap_err();
        assert_eq!(err.error_type, ErrorType::BqError(BqErrorKind::AuthFailed));
        assert!(err.message.contains("nope.json"), "{}", err.message);
        let nothing = |_: &str| None;
        if !std::fs::read_to_string("/sys/class/dmi/id/product_name")
            .is_ok_and(|n| n.contains("Google"))
        {
            let err = Credentials::discover(None, None, &nothing).unwrap_err();
            assert_eq!(
                err.error_type,
                ErrorType::BqError(BqErrorKind::NotConfigured)
            );
        }
    }
}
