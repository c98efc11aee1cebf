//! Positions: where a place inside a rendered SQL text is in the plan file.

use crate::document::{Document, LineCol, LineIndex};

/// 1-based line and column of the first occurrence of `token` (1:1 if absent).
pub(super) fn find_token(text: &str, token: &str) -> (usize, usize) {
    let Some(offset) = text.find(token) else {
        return (1, 1);
    };
    let at = LineIndex::new(text).line_col(text, offset);
    (at.line, at.column)
}

/// Maps positions inside a SQL string to positions in the plan file.
///
/// A YAML block scalar keeps every line at one indentation; a TOML multi-line string starts
/// on the line after its quotes. Template rendering keeps line numbers (literals are one line).
pub(super) struct SqlOrigin {
    start: LineCol,
    indent: usize,
}

impl SqlOrigin {
    pub(super) fn new(doc: &Document, pointer: &str) -> Self {
        let Some(offset) = doc.value_offset(pointer) else {
            return Self {
                start: doc.position(pointer),
                indent: 0,
            };
        };
        let rest = &doc.text[offset..];
        let skip = if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
            let after = &rest[3..];
            3 + usize::from(after.starts_with('\n')) + usize::from(after.starts_with("\r\n")) * 2
        } else if rest.starts_with('"') || rest.starts_with('\'') {
            1
        } else if rest.starts_with('|') || rest.starts_with('>') {
            rest.find('\n').map_or(0, |i| i + 1)
        } else {
            0
        };
        let content = offset + skip;
        let mut start = doc.line_col(content);
        let line_text = doc.text[content..].lines().next().unwrap_or("");
        let leading = line_text.len() - line_text.trim_start_matches(' ').len();
        let indent = if start.column == 1 {
            leading
        } else {
            start.column - 1
        };
        if start.column == 1 {
            start.column += leading;
        }
        Self { start, indent }
    }

    pub(super) fn map(&self, doc: &Document, line: usize, column: usize) -> LineCol {
        let line = line.max(1);
        let column = column.max(1);
        let at = if line == 1 {
            LineCol {
                line: self.start.line,
                column: self.start.column + column - 1,
            }
        } else {
            LineCol {
                line: self.start.line + line - 1,
                column: self.indent + column,
            }
        };
        // Never point past the end of the file.
        let end = doc.line_col(doc.text.len());
        if at.line > end.line { end } else { at }
    }
}

/// Where `line:column` of the SQL text at `pointer` (`/sql`, `/register_bq/x/sql`) is in
/// the plan file: for errors other tools (DuckDB's binder) report inside that text.
pub fn sql_position(doc: &Document, pointer: &str, line: usize, column: usize) -> LineCol {
    SqlOrigin::new(doc, pointer).map(doc, line, column)
}
