//! One file per subcommand. Each takes checked inputs and writers; none prints directly.

pub mod cache;
pub mod check;
pub mod estimate;
pub mod query;
pub mod run;
pub mod schema;
