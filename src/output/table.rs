//! A text table for terminals: arrow's pretty printer, NULL shown as `NULL`, then a footer
//! line with the row count (`(3 rows)`), or `(empty result)` under the header.
//!
//! Control characters inside strings (CR, tab, ESC, ...) are shown escaped (`\r`), at any
//! depth: written raw they would move the cursor, break the alignment or run terminal
//! escape sequences taken from the data. Newlines stay, as lines within the cell.
//!
//! The table is built whole in memory before it is written, which is fine for what a
//! person reads in a terminal; large results belong in a file format.

use std::io::Write;

use arrow::array::{Array, ArrayAccessor, AsArray};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{
    ArrayFormatter, ArrayFormatterFactory, DisplayIndex, FormatOptions, FormatResult,
};
use arrow::util::pretty::{pretty_format_batches_with_options, pretty_format_batches_with_schema};

use super::{Error, Format, arrow_error, text};

/// Writes the table and its footer.
pub(super) fn write(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    mut out: impl Write,
) -> Result<(), Error> {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let rendered = render(schema, batches, rows).map_err(|e| arrow_error(Format::Table, e))?;
    out.write_all(rendered.as_bytes())
        .map_err(|source| Error::Io {
            format: Format::Table,
            source,
        })
}

fn render(schema: &SchemaRef, batches: &[RecordBatch], rows: usize) -> Result<String, ArrowError> {
    if rows == 0 {
        if schema.fields().is_empty() {
            return Ok("(empty result)\n".to_owned());
        }
        let header = pretty_format_batches_with_schema(schema.clone(), &[])?;
        return Ok(format!("{header}\n(empty result)\n"));
    }
    let batches = batches
        .iter()
        .map(text::printable)
        .collect::<Result<Vec<_>, _>>()?;
    // Errors on single values (a date out of range) are shown in their cell rather than
    // losing the whole table.
    let options = FormatOptions::new()
        .with_null("NULL")
        .with_display_error(true)
        .with_formatter_factory(Some(&EscapeControls));
    let table = pretty_format_batches_with_options(&batches, &options)?;
    let noun = if rows == 1 { "row" } else { "rows" };
    Ok(format!("{table}\n({rows} {noun})\n"))
}

/// Formats every string array (arrow asks at each nesting level) with [`Escaped`].
#[derive(Debug)]
struct EscapeControls;

impl ArrayFormatterFactory for EscapeControls {
    fn create_array_formatter<'a>(
        &self,
        array: &'a dyn Array,
        options: &FormatOptions<'a>,
        _field: Option<&'a Field>,
    ) -> Result<Option<ArrayFormatter<'a>>, ArrowError> {
        let null = options.null();
        let display: Box<dyn DisplayIndex + 'a> = match array.data_type() {
            DataType::Utf8 => Box::new(Escaped(array.as_string::<i32>(), null)),
            DataType::LargeUtf8 => Box::new(Escaped(array.as_string::<i64>(), null)),
            DataType::Utf8View => Box::new(Escaped(array.as_string_view(), null)),
            _ => return Ok(None),
        };
        Ok(Some(ArrayFormatter::new(display, options.safe())))
    }
}

/// A string array and the NULL text; control characters other than `\n` are escaped.
struct Escaped<'a, A>(A, &'a str);

impl<'a, A: ArrayAccessor<Item = &'a str>> DisplayIndex for Escaped<'a, A> {
    fn write(&self, idx: usize, f: &mut dyn std::fmt::Write) -> FormatResult {
        let Escaped(strings, null) = self;
        if strings.is_null(idx) {
            f.write_str(null)?;
            return Ok(());
        }
        for c in strings.value(idx).chars() {
            if c.is_control() && c != '\n' {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ListArray, StringArray};
    use arrow::buffer::OffsetBuffer;
    use arrow::datatypes::Schema;

    use super::super::{fixture, write};
    use super::*;

    fn table_text(schema: &SchemaRef, batches: &[RecordBatch]) -> String {
        let mut out = Vec::new();
        write(Format::Table, schema, batches, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn table_aligns_every_type_shows_null_and_counts_rows() {
        let expected = r#"
+------+-------+------------------+-------+--------+------------+----------------------------+-----------------------------+------+-----------+---------------------+
| id   | score | name             | flag  | amount | day        | at                         | at_utc                      | blob | tags      | point               |
+------+-------+------------------+-------+--------+------------+----------------------------+-----------------------------+------+-----------+---------------------+
| 1    | 1.5   | plain            | true  | 12.30  | 2026-01-02 | 2026-01-02T03:04:05.123456 | 2026-01-02T03:04:05.123456Z | dead | [1, 2]    | {a: 1, b: x}        |
| 2    | NaN   | comma, "quoted"  | false | -0.05  | 1970-01-01 | 1970-01-01T00:00:00        | 1970-01-01T00:00:00Z        |      | []        | {a: NULL, b: y,"z"} |
|      |       | second line      |       |        |            |                            |                             |      |           |                     |
| 3    | inf   | carriage\rreturn | true  | 0.00   | 1999-12-31 | 1999-12-31T23:59:59        | 1999-12-31T23:59:59Z        | 78   | [3, NULL] | {a: 3, b: NULL}     |
| NULL | NULL  | NULL             | NULL  | NULL   | NULL       | NULL                       | NULL                        | NULL | NULL      | NULL                |
+------+-------+------------------+-------+--------+------------+----------------------------+-----------------------------+------+-----------+---------------------+
(4 rows)
"#;
        let text = table_text(&fixture::schema(), &[fixture::batch()]);
        // Written raw, the CR in row 3 would send the cursor back to the start of the line.
        assert!(!text.contains('\r'));
        assert_eq!(text, &expected[1..]);
    }

    #[test]
    fn control_characters_inside_nested_values_are_escaped_too() {
        // An ANSI "switch to red" sequence inside a list.
        let red = Arc::new(StringArray::from(vec!["\u{1b}[31mred"]));
        let list = ListArray::new(
            Arc::new(Field::new_list_field(DataType::Utf8, true)),
            OffsetBuffer::from_lengths([1]),
            red,
            None,
        );
        let batch = RecordBatch::try_from_iter([("l", Arc::new(list) as _)]).unwrap();
        let text = table_text(&batch.schema(), &[batch]);
        assert!(!text.contains('\u{1b}'));
        assert!(text.contains("| [\\u{1b}[31mred] |"), "{text}");
    }

    #[test]
    fn one_row_is_counted_in_the_singular() {
        let batch = fixture::batch().slice(0, 1);
        let text = table_text(&fixture::schema(), &[batch]);
        assert!(text.ends_with("\n(1 row)\n"), "{text}");
    }

    #[test]
    fn an_empty_result_shows_the_header_and_says_so() {
        let text = table_text(&fixture::schema(), &[fixture::batch().slice(0, 0)]);
        assert!(text.starts_with("+----+-------+"), "{text}");
        assert!(text.contains("| id | score |"), "{text}");
        assert!(text.ends_with("+\n(empty result)\n"), "{text}");
    }

    #[test]
    fn a_result_without_columns_is_just_empty() {
        let text = table_text(&Arc::new(Schema::empty()), &[]);
        assert_eq!(text, "(empty result)\n");
    }
}
