//! The screen before parsing: what in the raw text or its tokens could make an engine see
//! other SQL than the validator sees (control characters, Unicode spaces, `;` with more
//! after it, literals whose end the engines find elsewhere than sqlparser does).
//!
//! Works on text and tokens only; the syntax tree is the walker's business.

use sqlparser::tokenizer::{Token, TokenWithSpan, Whitespace};

use super::{Pos, SqlDialect, SqlProblem, codes, pos_of, problem};

/// The token-level checks, in the order their problems are easiest to read.
pub(super) fn check_tokens(
    sql: &str,
    tokens: &[TokenWithSpan],
    dialect: SqlDialect,
    problems: &mut Vec<SqlProblem>,
) {
    check_unicode_whitespace(sql, tokens, problems);
    check_semicolons(tokens, problems);
    match dialect {
        SqlDialect::BigQuery => check_raw_and_bytes_literals(tokens, problems),
        SqlDialect::DuckDb => check_dollar_quotes(tokens, problems),
    }
}

/// The value of a BigQuery raw or bytes literal, as sqlparser read it.
fn raw_or_bytes_value(token: &Token) -> Option<&str> {
    match token {
        Token::SingleQuotedRawStringLiteral(s)
        | Token::DoubleQuotedRawStringLiteral(s)
        | Token::TripleSingleQuotedRawStringLiteral(s)
        | Token::TripleDoubleQuotedRawStringLiteral(s)
        | Token::SingleQuotedByteStringLiteral(s)
        | Token::DoubleQuotedByteStringLiteral(s)
        | Token::TripleSingleQuotedByteStringLiteral(s)
        | Token::TripleDoubleQuotedByteStringLiteral(s) => Some(s),
        _ => None,
    }
}

/// BigQuery: raw (`r'…'`) and bytes (`b'…'`) literals with a backslash.
///
/// GoogleSQL does not end either at `\'` (a bytes literal escapes with backslashes; a raw
/// one keeps the backslash but still does not end there), while sqlparser ends both at the
/// first quote. With a backslash in them, BigQuery could read text the validator took for a
/// string as SQL. sqlparser reads these literals without unescaping, so the value holds
/// every backslash of the source.
fn check_raw_and_bytes_literals(tokens: &[TokenWithSpan], problems: &mut Vec<SqlProblem>) {
    for token in tokens {
        if raw_or_bytes_value(&token.token).is_some_and(|value| value.contains('\\')) {
            problems.push(problem(
                codes::AMBIGUOUS_LITERAL,
                "a raw or bytes literal (`r'…'`, `b'…'`) contains a backslash".to_owned(),
                "BigQuery and the validator disagree on where such a literal ends. Write a \
                 plain string with escapes instead ('a\\\\b' for a backslash), or for bytes \
                 FROM_HEX('…') / CODE_POINTS_TO_BYTES([…]).",
                pos_of(token.span.start),
            ));
        }
    }
}

/// DuckDB: dollar-quoted strings whose tag could also be read as a parameter.
///
/// DuckDB reads `$1` as a positional parameter, so `$1$…$1$` is a parameter and more SQL to
/// DuckDB but one string to sqlparser; tags outside ASCII identifiers have no common reading
/// either. A tag that is also used as a `$name` parameter in the same text is refused too,
/// so no reader has to decide which of the two a `$name$` is. `$$…$$` and `$tag$…$tag$`
/// with an ordinary identifier tag read the same in both.
fn check_dollar_quotes(tokens: &[TokenWithSpan], problems: &mut Vec<SqlProblem>) {
    let params: Vec<String> = tokens
        .iter()
        .filter_map(|t| match &t.token {
            Token::Placeholder(p) => p.strip_prefix('$').map(str::to_ascii_lowercase),
            _ => None,
        })
        .collect();
    for token in tokens {
        let Token::DollarQuotedString(quoted) = &token.token else {
            continue;
        };
        let Some(tag) = quoted.tag.as_deref() else {
            continue;
        };
        let plain = tag.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let message = if !plain {
            format!(
                "dollar-quote tag `${tag}$` is not a plain identifier; DuckDB may read `${tag}` \
                 as a parameter"
            )
        } else if params.contains(&tag.to_ascii_lowercase()) {
            format!("dollar-quote tag `${tag}$` is also used as the parameter `${tag}`")
        } else {
            continue;
        };
        problems.push(problem(
            codes::AMBIGUOUS_LITERAL,
            message,
            "Use a plain '…' string, `$$…$$`, or a tag that is a letter-first identifier and \
             not a parameter name, e.g. `$body$…$body$`.",
            pos_of(token.span.start),
        ));
    }
}

/// Iterates characters with sqlparser's notion of position: only `\n` starts a new line.
pub(super) fn chars_with_pos(sql: &str) -> impl Iterator<Item = (char, Pos)> + '_ {
    let mut line = 1;
    let mut column = 1;
    sql.chars().map(move |c| {
        let at = (line, column);
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
        (c, at)
    })
}

fn is_forbidden_control(c: char) -> bool {
    // U+0085 (NEL) is also whitespace and is reported as such, outside literals only.
    c.is_control() && c != '\n' && c != '\t' && c != '\u{85}'
}

fn is_suspicious_space(c: char) -> bool {
    (c.is_whitespace() && !c.is_ascii())
        // Invisible format characters: not whitespace to sqlparser, unknown to the engines.
        || matches!(
            c,
            '\u{180E}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
        )
}

fn describe_char(c: char) -> String {
    let name = match c {
        '\0' => " (NUL)",
        '\r' => " (carriage return)",
        '\u{0B}' => " (vertical tab)",
        '\u{0C}' => " (form feed)",
        '\u{1B}' => " (escape)",
        '\u{7F}' => " (delete)",
        '\u{85}' => " (next line)",
        '\u{A0}' => " (no-break space)",
        '\u{2028}' => " (line separator)",
        '\u{2029}' => " (paragraph separator)",
        '\u{200B}' => " (zero-width space)",
        '\u{FEFF}' => " (byte-order mark)",
        _ => "",
    };
    format!("U+{:04X}{name}", u32::from(c))
}

fn more_suffix(count: usize) -> String {
    match count {
        0 | 1 => String::new(),
        2 => " (1 more occurrence)".to_owned(),
        n => format!(" ({} more occurrences)", n - 1),
    }
}

pub(super) fn check_control_chars(sql: &str, problems: &mut Vec<SqlProblem>) {
    let mut found = chars_with_pos(sql).filter(|(c, _)| is_forbidden_control(*c));
    let Some((c, at)) = found.next() else {
        return;
    };
    let count = 1 + found.count();
    let hint = if c == '\r' {
        "Use \\n line endings (convert CRLF to LF). DuckDB and BigQuery end a `--` comment at \
         a carriage return and the validator does not, so text after it would run unchecked."
    } else {
        "Remove the control character; inside a string, build it with chr(n) instead."
    };
    problems.push(problem(
        codes::CONTROL_CHAR,
        format!(
            "control character {} is not allowed{}",
            describe_char(c),
            more_suffix(count)
        ),
        hint,
        at,
    ));
}

fn is_string_literal(token: &Token) -> bool {
    matches!(
        token,
        Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_)
    )
}

fn check_unicode_whitespace(sql: &str, tokens: &[TokenWithSpan], problems: &mut Vec<SqlProblem>) {
    if sql.is_ascii() {
        return;
    }
    // Token spans are in source order; string literals may hold any character.
    let literals: Vec<(Pos, Pos)> = tokens
        .iter()
        .filter(|t| is_string_literal(&t.token))
        .map(|t| (pos_of(t.span.start), pos_of(t.span.end)))
        .collect();
    let inside_literal = |at: Pos| {
        let next = literals.partition_point(|(start, _)| *start <= at);
        next > 0 && literals.get(next - 1).is_some_and(|(_, end)| at < *end)
    };
    let mut found =
        chars_with_pos(sql).filter(|(c, at)| is_suspicious_space(*c) && !inside_literal(*at));
    let Some((c, at)) = found.next() else {
        return;
    };
    let count = 1 + found.count();
    problems.push(problem(
        codes::UNICODE_WHITESPACE,
        format!(
            "non-ASCII whitespace {} outside a string literal{}",
            describe_char(c),
            more_suffix(count)
        ),
        "Replace it with an ordinary space or newline. The engines do not all agree on which \
         Unicode characters separate tokens, so the query could run differently from how it \
         was checked.",
        at,
    ));
}

fn is_blank(token: &Token) -> bool {
    matches!(
        token,
        Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab) | Token::EOF
    )
}

pub(super) fn is_trivia(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_) | Token::EOF)
}

fn check_semicolons(tokens: &[TokenWithSpan], problems: &mut Vec<SqlProblem>) {
    let semicolons: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| t.token == Token::SemiColon)
        .map(|(i, _)| i)
        .collect();
    let Some((&last, earlier)) = semicolons.split_last() else {
        return;
    };
    // Only a `;` that strip_one_semicolon removes is harmless; comments after it are not.
    let trailing_ok = tokens
        .get(last + 1..)
        .is_some_and(|rest| rest.iter().all(|t| is_blank(&t.token)));
    let offending = if trailing_ok {
        earlier.first()
    } else {
        semicolons.first()
    };
    if let Some(token) = offending.and_then(|&i| tokens.get(i)) {
        problems.push(problem(
            codes::MULTIPLE_STATEMENTS,
            "more than one statement: a `;` is followed by more text".to_owned(),
            "Send exactly one query. A single `;` is allowed only as the very last character \
             (comments after it are not).",
            pos_of(token.span.start),
        ));
    }
}

/// Start of each statement: the first token that is not whitespace, a comment or `;`,
/// at the beginning and after each run of semicolons.
pub(super) fn statement_starts(tokens: &[TokenWithSpan]) -> Vec<Pos> {
    let mut starts = Vec::new();
    let mut expecting = true;
    for token in tokens.iter().filter(|t| !is_trivia(&t.token)) {
        if token.token == Token::SemiColon {
            expecting = true;
        } else if expecting {
            starts.push(pos_of(token.span.start));
            expecting = false;
        }
    }
    starts
}
