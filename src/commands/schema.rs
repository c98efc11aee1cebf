//! `da schema plan|config`: print the committed JSON schema.

use std::io::Write;

use crate::schema::{Kind, schema_text};

pub fn run(kind: Kind, out: &mut dyn Write) -> std::io::Result<()> {
    out.write_all(schema_text(kind).as_bytes())
}
