//! JSON (one array of objects) and NDJSON (one object per line), via arrow-json.
//!
//! NULLs are explicit (`"x":null`), so every object has every column. Decimals are written
//! by arrow-json as JSON numbers with their exact text (`12.30`): valid JSON that loses
//! nothing, unlike a double. NaN and ±Infinity become `null` (JSON cannot spell them).
//! The same encoder writes the JSON text of nested CSV cells (`cells`), so a list looks
//! the same in both formats.

use std::io::Write;

use arrow::array::{Array, RecordBatch, StringArray, StringBuilder};
use arrow::datatypes::FieldRef;
use arrow::error::ArrowError;
use arrow::json::writer::{
    EncoderOptions, JsonArray, JsonFormat, LineDelimited, Writer, WriterBuilder, make_encoder,
};

use super::{Error, Format, arrow_error, text};

/// Writes `[{...},{...}]` and a final newline; `[]` when there are no rows.
pub(super) fn write_array(batches: &[RecordBatch], out: impl Write) -> Result<(), Error> {
    let mut out = write_with::<_, JsonArray>(Format::Json, batches, out)?;
    // A trailing newline, so the output ends like any other text file or terminal line.
    out.write_all(b"\n").map_err(|source| Error::Io {
        format: Format::Json,
        source,
    })
}

/// Writes one object per line; nothing at all when there are no rows.
pub(super) fn write_lines(batches: &[RecordBatch], out: impl Write) -> Result<(), Error> {
    write_with::<_, LineDelimited>(Format::Ndjson, batches, out).map(drop)
}

fn write_with<W: Write, F: JsonFormat>(
    format: Format,
    batches: &[RecordBatch],
    out: W,
) -> Result<W, Error> {
    let mut writer: Writer<W, F> = WriterBuilder::new().with_explicit_nulls(true).build(out);
    for batch in batches {
        let batch = text::printable(batch).map_err(|e| arrow_error(format, e))?;
        writer.write(&batch).map_err(|e| arrow_error(format, e))?;
    }
    writer.finish().map_err(|e| arrow_error(format, e))?;
    Ok(writer.into_inner())
}

/// Each value of `array` as JSON text (NULL stays NULL), encoded as the JSON format would.
/// `field` must describe `array`; zones must already be [`text::printable`].
pub(super) fn cells(field: &FieldRef, array: &dyn Array) -> Result<StringArray, ArrowError> {
    let options = EncoderOptions::default().with_explicit_nulls(true);
    let mut encoder = make_encoder(field, array, &options)?;
    let mut cells = StringBuilder::new();
    let mut buf = Vec::new();
    for row in 0..array.len() {
        if encoder.is_null(row) {
            cells.append_null();
            continue;
        }
        buf.clear();
        encoder.encode(row, &mut buf);
        // arrow-json writes UTF-8 only (strings via serde_json, binary as hex).
        cells.append_value(String::from_utf8_lossy(&buf));
    }
    Ok(cells.finish())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::{fixture, write};
    use super::*;

    fn json_text(format: Format) -> String {
        let mut out = Vec::new();
        write(format, &fixture::schema(), &[fixture::batch()], &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_is_one_array_of_objects_with_every_type_readable() {
        let value: Value = serde_json::from_str(&json_text(Format::Json)).unwrap();
        let expected = json!([
            {
                "id": 1, "score": 1.5, "name": "plain", "flag": true, "amount": 12.30,
                "day": "2026-01-02", "at": "2026-01-02T03:04:05.123456",
                "at_utc": "2026-01-02T03:04:05.123456Z", "blob": "dead",
                "tags": [1, 2], "point": {"a": 1, "b": "x"}
            },
            {
                "id": 2, "score": null, "name": "comma, \"quoted\"\nsecond line", "flag": false,
                "amount": -0.05, "day": "1970-01-01", "at": "1970-01-01T00:00:00",
                "at_utc": "1970-01-01T00:00:00Z", "blob": "", "tags": [],
                "point": {"a": null, "b": "y,\"z\""}
            },
            {
                "id": 3, "score": null, "name": "carriage\rreturn", "flag": true, "amount": 0.0,
                "day": "1999-12-31", "at": "1999-12-31T23:59:59",
                "at_utc": "1999-12-31T23:59:59Z", "blob": "78", "tags": [3, null],
                "point": {"a": 3, "b": null}
            },
            {
                "id": null, "score": null, "name": null, "flag": null, "amount": null,
                "day": null, "at": null, "at_utc": null, "blob": null, "tags": null,
                "point": null
            }
        ]);
        assert_eq!(value, expected);
    }

    #[test]
    fn json_decimals_are_numbers_with_their_exact_text() {
        let text = json_text(Format::Json);
        for exact in [
            r#""amount":12.30,"#,
            r#""amount":-0.05,"#,
            r#""amount":0.00,"#,
        ] {
            assert!(text.contains(exact), "{exact} in {text}");
        }
    }

    #[test]
    fn json_has_no_spelling_for_nan_or_infinity_so_they_are_null() {
        let text = json_text(Format::Json);
        // Rows 2 and 3 hold NaN and Infinity, row 4 a real NULL.
        assert_eq!(text.matches(r#""score":null"#).count(), 3, "{text}");
    }

    #[test]
    fn empty_json_is_an_empty_array() {
        let mut out = Vec::new();
        let rows = write(Format::Json, &fixture::schema(), &[], &mut out).unwrap();
        assert_eq!(
            (rows, String::from_utf8(out).unwrap()),
            (0, "[]\n".to_owned())
        );
    }

    #[test]
    fn ndjson_has_one_object_per_line() {
        let text = json_text(Format::Ndjson);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), fixture::ROWS);
        assert!(text.ends_with("}\n"));
        let array: Value = serde_json::from_str(&json_text(Format::Json)).unwrap();
        for (line, expected) in lines.iter().zip(array.as_array().unwrap()) {
            assert_eq!(&serde_json::from_str::<Value>(line).unwrap(), expected);
        }
    }

    #[test]
    fn empty_ndjson_is_empty() {
        let mut out = Vec::new();
        write(Format::Ndjson, &fixture::schema(), &[], &mut out).unwrap();
        assert!(out.is_empty());
    }
}
