//! One file per subcommand. Each takes checked inputs and writers; none prints directly.

pub mod cache;
pub mod catalog;
pub mod check;
pub mod completions;
pub mod estimate;
pub mod lock;
pub mod mcp;
pub mod query;
pub mod run;
pub mod schema;
