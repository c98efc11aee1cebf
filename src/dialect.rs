//! The SQL dialects `da` speaks and the identifier rule shared by plans, params and extracts.
//!
//! A leaf module: it imports nothing from the crate, so the plan model, the parameter
//! renderer, the engine and the validator can all depend on it without depending on each
//! other.

/// Which engine a SQL text is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlDialect {
    /// The final step, run on a local DuckDB.
    DuckDb,
    /// An alias subquery, run on BigQuery.
    BigQuery,
}

/// `^[A-Za-z_][A-Za-z0-9_]{0,63}$` with no trailing newline accepted (hand-written, no regex crate).
pub fn is_identifier(s: &str) -> bool {
    let Some((first, rest)) = s.as_bytes().split_first() else {
        return false;
    };
    s.len() <= 64
        && (first.is_ascii_alphabetic() || *first == b'_')
        && rest.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

#[cfg(test)]
mod tests {
    use super::is_identifier;

    #[test]
    fn identifiers_are_short_ascii_words() {
        for ok in ["a", "_a", "A1", &"a".repeat(64)] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a b", "é", "abc\n", &"a".repeat(65)] {
            assert!(!is_identifier(bad), "{bad:?}");
        }
    }
}
