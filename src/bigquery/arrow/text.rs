//! A page's `rows` read straight from the response text into the column buffers, without a
//! `serde_json::Value` per cell: each row is split into its cells' raw JSON texts, and a scalar
//! cell's string is used in place (copied only when it holds an escape). RECORD and REPEATED
//! cells, rare and small, still go through `Value` and the shared code in `buffers`.
//!
//! Only the happy path lives here. Anything this path does not accept (a malformed shape, a
//! cell that does not parse) makes the caller roll the page back and read it again through
//! the `Value` path, whose errors name the column and row; so both paths accept exactly the
//! same pages and fail with the same messages.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::schema::{Column, Mode};
use super::{ConvertError, RowsToArrow};

/// One REST row, `{"f": [{"v": …}, …]}`, its cells kept as raw JSON text.
#[derive(serde::Deserialize)]
struct Row<'a> {
    #[serde(borrow, default)]
    f: Option<Vec<Cell<'a>>>,
}

/// One cell, `{"v": …}`; a missing or `null` `v` is SQL NULL.
#[derive(serde::Deserialize)]
struct Cell<'a> {
    #[serde(borrow, default)]
    v: Option<&'a RawValue>,
}

/// The fast path gave up on this page; the `Value` path says why (or accepts it).
pub(super) struct Declined;

impl RowsToArrow {
    /// Appends the rows of `rows` (a JSON array of REST rows) after the pending ones; on
    /// `Declined` some of them may be appended, and the caller truncates back.
    pub(super) fn append_rows_text(&mut self, rows: &str) -> Result<usize, Declined> {
        let first = self.flushed + self.pending;
        let mut reader = serde_json::Deserializer::from_str(rows);
        let appended = RowsSeed {
            columns: &mut self.columns,
            first,
        }
        .deserialize(&mut reader)
        .map_err(|_| Declined)?;
        reader.end().map_err(|_| Declined)?;
        Ok(appended)
    }
}

/// Visits the rows array, appending each row as it is read (no page-sized intermediate).
struct RowsSeed<'c> {
    columns: &'c mut [Column],
    first: usize,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_> {
    type Value = usize;

    fn deserialize<D: de::Deserializer<'de>>(self, reader: D) -> Result<usize, D::Error> {
        reader.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut n = 0;
        while let Some(row) = seq.next_element::<Row<'de>>()? {
            let cells = row.f.unwrap_or_default();
            if cells.len() != self.columns.len() {
                return Err(de::Error::custom("width"));
            }
            for (column, cell) in self.columns.iter_mut().zip(&cells) {
                append_cell(column, cell.v, self.first + n)
                    .map_err(|_| de::Error::custom("cell"))?;
            }
            n += 1;
        }
        Ok(n)
    }
}

/// Appends one cell given as its raw JSON text (`None` for NULL).
fn append_cell(
    column: &mut Column,
    raw: Option<&RawValue>,
    row: usize,
) -> Result<(), ConvertError> {
    let Some(raw) = raw else {
        return column.append(&Value::Null, row);
    };
    let text = raw.get();
    let scalar = column.mode != Mode::Repeated && !column.is_record();
    match string_in(text) {
        Some(s) if scalar => column.append_text(&s, row),
        _ => {
            let value: Value = serde_json::from_str(text)
                .map_err(|e| ConvertError::at(&column.path, row, e.to_string()))?;
            column.append(&value, row)
        }
    }
}

/// The string a raw JSON text holds, borrowed unless it has escapes; `None` if it is not
/// a string.
fn string_in(text: &str) -> Option<Cow<'_, str>> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(text).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

#[cfg(test)]
mod tests {
    use super::string_in;

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        assert!(matches!(
            string_in(r#""abc""#),
            Some(std::borrow::Cow::Borrowed("abc"))
        ));
        assert_eq!(string_in(r#""a\"b\u00e9""#).as_deref(), Some("a\"bé"));
        assert_eq!(string_in("12"), None);
        assert_eq!(string_in("null"), None);
        assert_eq!(string_in(r#"{"f":[]}"#), None);
    }
}
