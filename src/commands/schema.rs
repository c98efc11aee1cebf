//! `da schema plan|config`: print the committed JSON schema.

use std::io::Write;

use crate::schema::Kind;

pub fn run(kind: Kind, out: &mut dyn Write) -> std::io::Result<()> {
    let schema = match kind {
        Kind::Plan => crate::plan::json_schema(),
        Kind::Config => crate::config::json_schema(),
    };
    out.write_all(schema.text().as_bytes())
}
