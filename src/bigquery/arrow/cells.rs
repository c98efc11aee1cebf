//! The cell texts of the REST API, parsed exactly: every scalar arrives as a JSON string,
//! and NUMERIC, BIGNUMERIC and the float-seconds TIMESTAMP are read as decimals, never
//! through `f64`.

use ::arrow::datatypes::i256;
use chrono::Datelike as _;
use serde_json::Value;

use super::schema::{BIGNUMERIC_PRECISION, BIGNUMERIC_SCALE, NUMERIC_PRECISION, NUMERIC_SCALE};

pub(super) const MICROS_PER_DAY: i64 = 86_400_000_000;
/// `NaiveDate::num_days_from_ce` of 1970-01-01.
pub(super) const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The cells of a row or RECORD value: `{"f": [...]}`; a missing `f` is no cells.
pub(super) fn record_cells(value: &Value) -> Result<&[Value], String> {
    match value {
        Value::Object(map) => match map.get("f") {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(cells)) => Ok(cells),
            Some(other) => Err(format!(
                "expected \"f\" to be an array, got {}",
                shape(other)
            )),
        },
        other => Err(format!("expected {{\"f\": […]}}, got {}", shape(other))),
    }
}

/// The `v` of a cell. A missing `v` is SQL NULL: gcp-bigquery-client's `TableCell` drops `"v": null`
/// when it is serialised again.
pub(super) fn cell_value(cell: &Value) -> Result<&Value, String> {
    static NULL: Value = Value::Null;
    match cell {
        Value::Object(map) => Ok(map.get("v").unwrap_or(&NULL)),
        other => Err(format!(
            "expected a cell {{\"v\": …}}, got {}",
            shape(other)
        )),
    }
}

/// A short description of a JSON value's shape, for error messages.
pub(super) fn shape(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a JSON boolean",
        Value::Number(_) => "a JSON number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Quotes a value for an error message, cut short so a huge cell does not flood the log.
pub(super) fn show(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{:?}…", &text[..end]),
        None => format!("{text:?}"),
    }
}

pub(super) fn parse_float64(text: &str) -> Result<f64, String> {
    // Rust's parser takes BigQuery's `NaN`, `Infinity`, `-Infinity` and `1.0E-4` as they come.
    text.parse::<f64>()
        .map_err(|_| format!("invalid FLOAT64 {}", show(text)))
}

pub(super) fn parse_numeric(text: &str) -> Result<i128, String> {
    let v = parse_scaled(
        text,
        NUMERIC_SCALE as u32,
        Some(NUMERIC_PRECISION as usize),
        false,
    )
    .map_err(|m| format!("invalid NUMERIC {}: {m}", show(text)))?;
    v.to_i128()
        .ok_or_else(|| format!("NUMERIC {} out of range", show(text)))
}

pub(super) fn parse_bignumeric(text: &str) -> Result<i256, String> {
    parse_scaled(
        text,
        BIGNUMERIC_SCALE as u32,
        Some(BIGNUMERIC_PRECISION as usize),
        false,
    )
    .map_err(|m| format!("invalid BIGNUMERIC {}: {m}", show(text)))
}

/// TIMESTAMP: float seconds (`1.704164645123456E9`, `1704164645.123456`) or, when the text is a
/// plain integer, microseconds (`formatOptions.useInt64Timestamp`). Java's `Double.toString`, which
/// BigQuery uses for the seconds form, always writes a `.`, so the two cannot be confused.
pub(super) fn parse_timestamp(text: &str) -> Result<i64, String> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .map_err(|_| format!("TIMESTAMP microseconds {} out of range", show(text)));
    }
    // Seconds carry binary-float noise beyond the microsecond, so round to the nearest one.
    let micros = parse_scaled(text, 6, None, true)
        .map_err(|m| format!("invalid TIMESTAMP {}: {m}", show(text)))?;
    micros
        .to_i128()
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(|| format!("TIMESTAMP {} out of range", show(text)))
}

/// Exactly `value × 10^scale` for a decimal text with optional sign, fraction and exponent.
///
/// `precision` caps the digits of the result (NUMERIC / BIGNUMERIC). Digits below `10^-scale` are an
/// error unless `round` (then half away from zero). No floats anywhere, so results are exact.
pub(super) fn parse_scaled(
    text: &str,
    scale: u32,
    precision: Option<usize>,
    round: bool,
) -> Result<i256, String> {
    // i256 holds any 76-digit number; 77 digits may overflow, caught by the checked arithmetic.
    const MAX_DIGITS: usize = 77;
    let (negative, rest) = match text.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        bytes => (false, bytes),
    };
    let (mantissa, exponent) = match rest.iter().position(|b| matches!(b, b'e' | b'E')) {
        Some(i) => (&rest[..i], parse_exponent(&rest[i + 1..])?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.iter().position(|&b| b == b'.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, &[][..]),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err("no digits".to_string());
    }
    if !int_part.iter().chain(frac_part).all(u8::is_ascii_digit) {
        return Err("not a decimal number".to_string());
    }
    let all: Vec<u8> = int_part
        .iter()
        .chain(frac_part)
        .copied()
        .skip_while(|&b| b == b'0')
        .collect();
    // value = all × 10^(exponent − |frac|); result = value × 10^scale. Lengths are far below 2^62.
    let shift = exponent - frac_part.len() as i128 + i128::from(scale);
    let (kept, dropped): (&[u8], &[u8]) = if shift >= 0 {
        (&all, &[])
    } else {
        let cut = usize::try_from(-shift).unwrap_or(usize::MAX);
        all.split_at(all.len().saturating_sub(cut))
    };
    if kept.is_empty() && dropped.is_empty() {
        return Ok(i256::ZERO);
    }
    let zeros = usize::try_from(shift.max(0)).unwrap_or(usize::MAX);
    let digits = kept
        .len()
        .saturating_add(if kept.is_empty() { 0 } else { zeros });
    if precision.is_some_and(|p| digits > p) || digits > MAX_DIGITS {
        return Err("out of range".to_string());
    }
    let round_up = if dropped.iter().any(|&b| b != b'0') {
        if !round {
            return Err(format!("more than {scale} fractional digits"));
        }
        // `dropped` covers the most significant dropped digit only when nothing was cut above it.
        let whole = usize::try_from(-shift).is_ok_and(|cut| cut <= all.len());
        whole && dropped.first().is_some_and(|&b| b >= b'5')
    } else {
        false
    };
    let acc = digits_times_power_of_ten(kept, zeros, round_up)?;
    Ok(if negative { acc.wrapping_neg() } else { acc })
}

/// `digits × 10^zeros` (plus one when `round_up`), or an error past i256; no digits is zero.
fn digits_times_power_of_ten(digits: &[u8], zeros: usize, round_up: bool) -> Result<i256, String> {
    let overflow = || "out of range".to_string();
    let ten = i256::from_i128(10);
    let mut acc = i256::ZERO;
    for &d in digits {
        acc = acc
            .checked_mul(ten)
            .and_then(|a| a.checked_add(i256::from_i128(i128::from(d - b'0'))))
            .ok_or_else(overflow)?;
    }
    if !digits.is_empty() {
        for _ in 0..zeros {
            acc = acc.checked_mul(ten).ok_or_else(overflow)?;
        }
    }
    if round_up {
        acc = acc.checked_add(i256::ONE).ok_or_else(overflow)?;
    }
    Ok(acc)
}

/// The exponent after `e`/`E`, saturated far beyond any meaningful value instead of overflowing.
pub(super) fn parse_exponent(bytes: &[u8]) -> Result<i128, String> {
    const LIMIT: i128 = 1 << 80;
    let (negative, digits) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err("invalid exponent".to_string());
    }
    let magnitude = digits.iter().fold(0_i128, |acc, &d| {
        (acc * 10 + i128::from(d - b'0')).min(LIMIT)
    });
    Ok(if negative { -magnitude } else { magnitude })
}

/// Exactly `n` ASCII digits as a number.
pub(super) fn fixed_digits(bytes: &[u8], n: usize) -> Option<u32> {
    if bytes.len() != n || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0, |acc, &d| acc * 10 + u32::from(d - b'0')),
    )
}

/// `YYYY-MM-DD` → days since 1970-01-01.
pub(super) fn parse_date(text: &str) -> Result<i32, String> {
    date_days(text.as_bytes())
        .ok_or_else(|| format!("invalid DATE {} (want YYYY-MM-DD)", show(text)))
}

pub(super) fn date_days(bytes: &[u8]) -> Option<i32> {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = bytes else {
        return None;
    };
    let year = fixed_digits(&[*y0, *y1, *y2, *y3], 4)?;
    let month = fixed_digits(&[*m0, *m1], 2)?;
    let day = fixed_digits(&[*d0, *d1], 2)?;
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some(date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE)
}

/// `HH:MM:SS[.ffffff]` → microseconds since midnight.
pub(super) fn parse_time(text: &str) -> Result<i64, String> {
    time_micros(text.as_bytes())
        .ok_or_else(|| format!("invalid TIME {} (want HH:MM:SS[.ffffff])", show(text)))
}

pub(super) fn time_micros(bytes: &[u8]) -> Option<i64> {
    let (hms, fraction) = match bytes.split_at_checked(8)? {
        (hms, []) => (hms, &[][..]),
        (hms, [b'.', fraction @ ..]) if !fraction.is_empty() => (hms, fraction),
        _ => return None,
    };
    let [h0, h1, b':', m0, m1, b':', s0, s1] = hms else {
        return None;
    };
    let hour = fixed_digits(&[*h0, *h1], 2)?;
    let minute = fixed_digits(&[*m0, *m1], 2)?;
    let second = fixed_digits(&[*s0, *s1], 2)?;
    if hour > 23 || minute > 59 || second > 59 || !fraction.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Up to 6 digits are microseconds; further digits are accepted only as trailing zeros.
    let (micro_digits, rest) = fraction.split_at(fraction.len().min(6));
    if rest.iter().any(|&b| b != b'0') {
        return None;
    }
    let mut micros = 0_i64;
    for i in 0..6 {
        micros = micros * 10 + micro_digits.get(i).map_or(0, |&d| i64::from(d - b'0'));
    }
    Some((i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)) * 1_000_000 + micros)
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]` (or a space for the `T`) → microseconds since 1970-01-01 00:00.
pub(super) fn parse_datetime(text: &str) -> Result<i64, String> {
    let parsed = match text.as_bytes().split_at_checked(10) {
        Some((date, [b'T' | b't' | b' ', time @ ..])) => date_days(date).zip(time_micros(time)),
        _ => None,
    };
    let (days, micros) = parsed.ok_or_else(|| {
        format!(
            "invalid DATETIME {} (want YYYY-MM-DDTHH:MM:SS[.ffffff])",
            show(text)
        )
    })?;
    Ok(i64::from(days) * MICROS_PER_DAY + micros)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{column_of, one_error};
    use super::*;
    use ::arrow::array::{
        Array, AsArray, Date32Array, Decimal128Array, Decimal256Array, Float64Array, Int64Array,
        Time64MicrosecondArray, TimestampMicrosecondArray,
    };
    use ::arrow::datatypes::TimestampMicrosecondType;
    use serde_json::json;

    #[test]
    fn int64_values() {
        let a = column_of(
            "INTEGER",
            &[
                json!("1"),
                json!("-42"),
                Value::Null,
                json!("9223372036854775807"),
            ],
        )
        .expect("int64");
        let a = a.as_any().downcast_ref::<Int64Array>().expect("Int64Array");
        assert_eq!(a.value(0), 1);
        assert_eq!(a.value(1), -42);
        assert!(a.is_null(2));
        assert_eq!(a.value(3), i64::MAX);
    }

    #[test]
    fn float64_values_including_special() {
        let a = column_of(
            "FLOAT",
            &[
                json!("1.5"),
                json!("1.0E-4"),
                json!("1.0E7"),
                json!("NaN"),
                json!("Infinity"),
                json!("-Infinity"),
                json!("0.0"),
                Value::Null,
            ],
        )
        .expect("float64");
        let a = a
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("Float64Array");
        assert_eq!(a.value(0), 1.5);
        assert_eq!(a.value(1), 1.0e-4);
        assert_eq!(a.value(2), 1.0e7);
        assert!(a.value(3).is_nan());
        assert_eq!(a.value(4), f64::INFINITY);
        assert_eq!(a.value(5), f64::NEG_INFINITY);
        assert_eq!(a.value(6), 0.0);
        assert!(a.is_null(7));
    }

    #[test]
    fn numeric_is_exact() {
        let a = column_of(
            "NUMERIC",
            &[
                json!("123.456789012"),
                json!("-0.000000001"),
                json!("99999999999999999999999999999.999999999"),
                json!("-99999999999999999999999999999.999999999"),
                json!("0"),
                json!("1.25"),
                json!("1.5E-7"),
                json!("1.2500000000000"),
                Value::Null,
            ],
        )
        .expect("numeric");
        let a = a
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .expect("Decimal128Array");
        assert_eq!(a.precision(), 38);
        assert_eq!(a.scale(), 9);
        assert_eq!(a.value(0), 123_456_789_012);
        assert_eq!(a.value(1), -1);
        assert_eq!(
            a.value(2),
            99_999_999_999_999_999_999_999_999_999_999_999_999
        );
        assert_eq!(
            a.value(3),
            -99_999_999_999_999_999_999_999_999_999_999_999_999
        );
        assert_eq!(a.value(4), 0);
        assert_eq!(a.value(5), 1_250_000_000);
        assert_eq!(a.value(6), 150);
        assert_eq!(a.value(7), 1_250_000_000);
        assert!(a.is_null(8));
        assert_eq!(a.value_as_string(0), "123.456789012");
    }

    #[test]
    fn numeric_rejects_inexact_or_out_of_range() {
        for bad in [
            "0.0000000001",
            "100000000000000000000000000000",
            "1e29",
            "abc",
            "",
            ".",
            "1.2.3",
            "1e",
            " 1",
            "NaN",
            "1e99999999999999999999999999",
        ] {
            let err = one_error("NUMERIC", json!(bad));
            assert_eq!(err.column, "c", "{bad}");
            assert_eq!(err.row, Some(0), "{bad}");
        }
        // A tiny value with an absurd negative exponent is still exactly zero-or-error, never a panic.
        assert!(column_of("NUMERIC", &[json!("0e-99999999999999999999999")]).is_ok());
        assert!(column_of("NUMERIC", &[json!("1e-99999999999999999999999")]).is_err());
    }

    #[test]
    fn bignumeric_is_exact() {
        let max = "99999999999999999999999999999999999999.99999999999999999999999999999999999999";
        let a = column_of(
            "BIGNUMERIC",
            &[
                json!("0.00000000000000000000000000000000000001"),
                json!("-1.12345678901234567890123456789012345678"),
                json!(max),
                json!("5"),
                Value::Null,
            ],
        )
        .expect("bignumeric");
        let a = a
            .as_any()
            .downcast_ref::<Decimal256Array>()
            .expect("Decimal256Array");
        assert_eq!((a.precision(), a.scale()), (76, 38));
        assert_eq!(a.value(0), i256::ONE);
        assert_eq!(
            a.value(1),
            i256::from_string("-112345678901234567890123456789012345678").expect("i256")
        );
        assert_eq!(
            a.value(2),
            i256::from_string(&max.replace('.', "")).expect("i256")
        );
        assert_eq!(
            a.value(3),
            i256::from_string(&format!("5{}", "0".repeat(38))).expect("i256")
        );
        assert!(a.is_null(4));
        assert!(column_of("BIGNUMERIC", &[json!(format!("1{}", "0".repeat(38)))]).is_err());
        assert!(column_of("BIGNUMERIC", &[json!(format!("0.{}1", "0".repeat(38)))]).is_err());
    }

    #[test]
    fn bool_values() {
        let a = column_of("BOOLEAN", &[json!("true"), json!("false"), Value::Null]).expect("bool");
        let a = a.as_boolean();
        assert!(a.value(0));
        assert!(!a.value(1));
        assert!(a.is_null(2));
        assert_eq!(one_error("BOOL", json!("yes")).row, Some(0));
    }

    #[test]
    fn string_like_values_are_kept_as_sent() {
        for kind in ["STRING", "GEOGRAPHY", "JSON", "INTERVAL"] {
            let a = column_of(
                kind,
                &[
                    json!("POINT(1 2)"),
                    json!("null"),
                    json!("1-2 3 4:5:6.5"),
                    json!("é"),
                    Value::Null,
                ],
            )
            .expect(kind);
            let a = a.as_string::<i32>();
            assert_eq!(a.value(0), "POINT(1 2)");
            // For JSON the text "null" is a JSON null, distinct from SQL NULL.
            assert_eq!(a.value(1), "null");
            assert!(a.is_valid(1));
            assert_eq!(a.value(2), "1-2 3 4:5:6.5");
            assert_eq!(a.value(3), "é");
            assert!(a.is_null(4));
        }
    }

    #[test]
    fn bytes_are_standard_base64() {
        let a = column_of(
            "BYTES",
            &[json!("YWI="), json!(""), json!("/+8="), Value::Null],
        )
        .expect("bytes");
        let a = a.as_binary::<i32>();
        assert_eq!(a.value(0), b"ab");
        assert_eq!(a.value(1), b"");
        assert_eq!(a.value(2), [0xff, 0xef]);
        assert!(a.is_null(3));
        assert!(column_of("BYTES", &[json!("YWI")]).is_err());
        assert!(column_of("BYTES", &[json!("_-8=")]).is_err());
    }

    #[test]
    fn date_values() {
        let a = column_of(
            "DATE",
            &[
                json!("1970-01-01"),
                json!("2024-01-02"),
                json!("0001-01-01"),
                json!("9999-12-31"),
                Value::Null,
            ],
        )
        .expect("date");
        let a = a
            .as_any()
            .downcast_ref::<Date32Array>()
            .expect("Date32Array");
        assert_eq!(a.value(0), 0);
        assert_eq!(a.value(1), 19_724);
        assert_eq!(a.value(2), -719_162);
        assert_eq!(a.value(3), 2_932_896);
        assert!(a.is_null(4));
        for bad in [
            "2024-02-30",
            "2024-1-02",
            "24-01-02",
            "2024-01-02T00:00:00",
            "x",
        ] {
            assert!(column_of("DATE", &[json!(bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn datetime_values() {
        let a = column_of(
            "DATETIME",
            &[
                json!("2026-01-02T03:04:05"),
                json!("2026-01-02T03:04:05.123456"),
                json!("2026-01-02 03:04:05.5"),
                json!("1969-12-31T23:59:59.999999"),
                Value::Null,
            ],
        )
        .expect("datetime");
        let a = a
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .expect("TimestampMicrosecondArray");
        assert_eq!(a.timezone(), None);
        let base = 1_767_323_045_000_000; // 2026-01-02T03:04:05Z in µs
        assert_eq!(a.value(0), base);
        assert_eq!(a.value(1), base + 123_456);
        assert_eq!(a.value(2), base + 500_000);
        assert_eq!(a.value(3), -1);
        assert!(a.is_null(4));
        for bad in [
            "2026-01-02",
            "2026-01-02T03:04",
            "2026-01-02T03:04:05Z",
            "2026-01-02T03:04:05.",
            "2026-01-02T03:04:05.1234567",
            "2026-01-02T24:00:00",
        ] {
            assert!(column_of("DATETIME", &[json!(bad)]).is_err(), "{bad}");
        }
        // Trailing zeros beyond the microsecond lose nothing, so they are accepted.
        let a = column_of("DATETIME", &[json!("1970-01-01T00:00:00.000001000")]).expect("ns zeros");
        assert_eq!(a.as_primitive::<TimestampMicrosecondType>().value(0), 1);
    }

    #[test]
    fn time_values() {
        let a = column_of(
            "TIME",
            &[
                json!("23:59:59.999999"),
                json!("00:00:00"),
                json!("04:05:06.500000"),
                json!("12:00:00.1"),
                Value::Null,
            ],
        )
        .expect("time");
        let a = a
            .as_any()
            .downcast_ref::<Time64MicrosecondArray>()
            .expect("Time64MicrosecondArray");
        assert_eq!(a.value(0), 86_399_999_999);
        assert_eq!(a.value(1), 0);
        assert_eq!(a.value(2), 14_706_500_000);
        assert_eq!(a.value(3), 43_200_100_000);
        assert!(a.is_null(4));
        for bad in [
            "24:00:00",
            "12:60:00",
            "12:00:60",
            "1:00:00",
            "12:00",
            "12:00:00.x",
        ] {
            assert!(column_of("TIME", &[json!(bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamp_is_exact_to_the_microsecond() {
        let a = column_of(
            "TIMESTAMP",
            &[
                json!("1.7040672E9"),
                json!("1704067200.123456"),
                json!("-1.5"),
                json!("1.0E-6"),
                json!("1.704164645123456E9"),
                json!("1704164645123456"),
                json!("0.0"),
                json!("1.7041646451234567E9"),
                json!("-1.0000005"),
                json!("2.534023007999999999E11"),
                Value::Null,
            ],
        )
        .expect("timestamp");
        let a = a
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .expect("TimestampMicrosecondArray");
        assert_eq!(a.timezone(), Some("UTC"));
        assert_eq!(a.value(0), 1_704_067_200_000_000);
        assert_eq!(a.value(1), 1_704_067_200_123_456);
        assert_eq!(a.value(2), -1_500_000);
        assert_eq!(a.value(3), 1);
        assert_eq!(a.value(4), 1_704_164_645_123_456);
        // A plain integer is the useInt64Timestamp form: microseconds.
        assert_eq!(a.value(5), 1_704_164_645_123_456);
        assert_eq!(a.value(6), 0);
        // Sub-microsecond digits (binary float noise) round to the nearest microsecond.
        assert_eq!(a.value(7), 1_704_164_645_123_457);
        assert_eq!(a.value(8), -1_000_001);
        assert_eq!(a.value(9), 253_402_300_800_000_000);
        assert!(a.is_null(10));
        for bad in [
            "",
            "abc",
            "1.0E",
            "2024-01-02 03:04:05",
            "1e40",
            "99999999999999999999",
        ] {
            let err = one_error("TIMESTAMP", json!(bad));
            assert_eq!((err.column.as_str(), err.row), ("c", Some(0)), "{bad}");
        }
    }
}
