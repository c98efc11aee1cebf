//! The human format: rustc-style snippets with a caret (annotate-snippets), a blank line
//! after each diagnostic, then one summary line.

use std::io::{self, Write};
use std::ops::Range;

use annotate_snippets::{
    AnnotationKind, Element, Level, Origin, Renderer, Snippet, normalize_untrusted_str,
};

use super::{Diagnostic, FileReport, RenderOptions, Severity, Summary};

const GREEN_BOLD: &str = "\x1b[1;32m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

pub(super) fn render(
    reports: &[FileReport],
    opts: RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let renderer = if opts.color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let paint = |style: &str, text: &str| {
        if opts.color {
            format!("{style}{text}{RESET}")
        } else {
            text.to_owned()
        }
    };
    for report in reports {
        if report.diagnostics.is_empty() {
            writeln!(out, "{}: {}", paint(GREEN_BOLD, "ok"), report.path)?;
        }
        for diag in &report.diagnostics {
            // A blank line after each diagnostic, as rustc and cargo do.
            writeln!(out, "{}\n", human_diagnostic(&renderer, report, diag))?;
        }
    }
    writeln!(out, "{}", paint(BOLD, &summary_line(&Summary::of(reports))))
}

/// `error[code]: message`, where it is, and `= help: hint`, without a trailing newline.
fn human_diagnostic(renderer: &Renderer, report: &FileReport, diag: &Diagnostic) -> String {
    let level = match diag.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    // `message()` text is trusted by annotate-snippets; hints can quote the user's plan, so
    // control characters (terminal escapes) are neutralised first. Titles are already.
    let help = diag
        .hint
        .as_deref()
        .map(|hint| Level::HELP.message(normalize_untrusted_str(hint)));
    let group = level
        .primary_title(diag.message.as_str())
        .id(diag.code)
        .element(place(report, diag))
        .elements(help);
    renderer.render(&[group])
}

/// The source line with a caret when we have it, otherwise just `--> path[:line[:col]]`.
fn place<'a>(report: &'a FileReport, diag: &Diagnostic) -> Element<'a> {
    let path = report.path.as_str();
    // Even a diagnostic without a line names its file: with many files the header alone
    // would not say which one is unreadable.
    let Some(line) = diag.line else {
        return Origin::path(path).into();
    };
    if let Some(text) = report.source.as_deref().and_then(|s| source_line(s, line)) {
        return Snippet::source(text)
            .line_start(line)
            .path(path)
            .annotation(AnnotationKind::Primary.span(caret_span(text, diag.column)))
            .into();
    }
    let origin = Origin::path(path).line(line);
    match diag.column {
        Some(column) => origin.char_column(column).into(),
        None => origin.into(),
    }
}

/// Line `line` (1-based) of `source` without its line ending. The line after a final newline
/// exists (as `""`) so that "unexpected end of file" diagnostics still get a snippet.
fn source_line(source: &str, line: usize) -> Option<&str> {
    let text = source.split('\n').nth(line.checked_sub(1)?)?;
    Some(text.strip_suffix('\r').unwrap_or(text))
}

/// The byte range to underline in `line` for a 1-based character `column`.
///
/// Columns count characters, not bytes, so `é` before the column shifts the byte offset but not
/// the column. A column past the end of the line points just after its last character. Without a
/// column the whole line (minus indentation) is underlined.
fn caret_span(line: &str, column: Option<usize>) -> Range<usize> {
    let Some(column) = column else {
        let start = line.len() - line.trim_start().len();
        return start..line.trim_end().len().max(start);
    };
    match line.char_indices().nth(column.saturating_sub(1)) {
        Some((start, ch)) => start..start + ch.len_utf8(),
        None => line.len()..line.len(),
    }
}

fn summary_line(s: &Summary) -> String {
    let files = format!(
        "checked {}: {} ok, {} invalid",
        plural(s.files, "file"),
        s.ok,
        s.invalid
    );
    if s.errors + s.warnings == 0 {
        return files;
    }
    let errors = plural(s.errors, "error");
    let warnings = plural(s.warnings, "warning");
    format!("{files} ({errors}, {warnings})")
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::super::OutputFormat;
    use super::super::tests::{render_to_string, rendered};
    use super::*;

    #[test]
    fn human_format_shows_snippets_help_and_a_summary() {
        let expected = r#"ok: plans/good.yaml
error[unknown_param]: parameter `region` is not declared
--> plans/bad.yaml
 = help: declare it under `params:` or drop `--param region=eu`

warning[unused_alias]: alias `traffic` is never used
 --> plans/bad.yaml:3:3
  |
3 |   traffic: { description: "Trafic café ☕", sqll: "SELECT 1" }
  |   ^

error[unknown_key]: unknown key `sqll` in the alias
 --> plans/bad.yaml:3:44
  |
3 |   traffic: { description: "Trafic café ☕", sqll: "SELECT 1" }
  |                                             ^
  |
  = help: did you mean `sql`?

checked 2 files: 1 ok, 1 invalid (2 errors, 1 warning)
"#;
        // `é` is two bytes and `☕` two terminal cells; the caret still sits under `sqll`.
        assert_eq!(rendered(OutputFormat::Human, false), expected);
    }

    #[test]
    fn human_color_is_opt_in() {
        assert!(!rendered(OutputFormat::Human, false).contains('\x1b'));
        let colored = rendered(OutputFormat::Human, true);
        assert!(colored.contains("\x1b[1;32mok\x1b[0m: plans/good.yaml"));
        assert!(colored.contains("error[unknown_key]"));
    }

    #[test]
    fn human_summary_counts_and_pluralises() {
        let one = Summary {
            files: 1,
            ok: 1,
            ..Summary::default()
        };
        assert_eq!(summary_line(&one), "checked 1 file: 1 ok, 0 invalid");
        let mixed = Summary {
            files: 3,
            ok: 2,
            invalid: 1,
            errors: 4,
            warnings: 1,
        };
        assert_eq!(
            summary_line(&mixed),
            "checked 3 files: 2 ok, 1 invalid (4 errors, 1 warning)"
        );
    }

    #[test]
    fn caret_span_counts_characters_not_bytes() {
        assert_eq!(caret_span("a: \"é\", b", Some(7)), 7..8);
        assert_eq!(caret_span("x: é", Some(4)), 3..5);
        // Past the end: just after the last character (an "unexpected end" position).
        assert_eq!(caret_span("ab", Some(3)), 2..2);
        assert_eq!(caret_span("ab", Some(99)), 2..2);
        assert_eq!(caret_span("", Some(1)), 0..0);
        assert_eq!(caret_span("  key: 1 ", None), 2..8);
        assert_eq!(caret_span("   ", None), 3..3);
    }

    #[test]
    fn source_line_strips_line_endings_and_knows_the_last_empty_line() {
        let src = "a\r\nb\n";
        assert_eq!(source_line(src, 1), Some("a"));
        assert_eq!(source_line(src, 2), Some("b"));
        assert_eq!(source_line(src, 3), Some(""));
        assert_eq!(source_line(src, 4), None);
        assert_eq!(source_line(src, 0), None);
    }

    #[test]
    fn human_without_source_still_names_the_position() {
        let report = FileReport {
            path: "gone.yaml".into(),
            source: None,
            diagnostics: vec![Diagnostic::error("yaml_syntax", "bad").at(7, 2)],
        };
        let expected = "error[yaml_syntax]: bad\n\
                        --> gone.yaml:7:2\n\
                        \n\
                        checked 1 file: 0 ok, 1 invalid (1 error, 0 warnings)\n";
        assert_eq!(render_to_string(&[report], OutputFormat::Human), expected);
    }
}
