//! Placeholder until the validator split lands: the SQL dialects and identifier rule.
pub use crate::validate::sql::{SqlDialect, is_identifier};
