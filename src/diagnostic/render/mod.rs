//! The output formats of `da plan check`: one renderer per `--format`, all over the same
//! `FileReport` values.
//!
//! Renderers only write to the `Write` they are given. They never print, pick colors on their
//! own or decide exit codes; the caller does that at the edge.

//!
//! One file per format: `human`, `json`, `github`, `sarif`. What several formats share (the
//! summary counts, the message-plus-hint text, severity names) lives here.

mod github;
mod human;
mod json;
mod sarif;

use std::io::{self, Write};

use serde::Serialize;

use super::{Diagnostic, FileReport, Severity};

/// The `--format` of `da plan check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// rustc-style snippets with a caret, then a summary line. Meant for people.
    Human,
    /// One pretty-printed JSON document with every file and a summary. Meant for scripts.
    Json,
    /// GitHub Actions workflow commands, which become annotations on a pull request.
    Github,
    /// SARIF 2.1.0, for code-scanning uploads.
    Sarif,
}

/// Presentation choices that are not part of the data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// ANSI colors. Only the human format reads it; the caller turns it on for a terminal.
    pub color: bool,
}

/// Render all file reports in one format. `tool_version` goes into SARIF.
pub fn render(
    reports: &[FileReport],
    format: OutputFormat,
    opts: &RenderOptions,
    tool_version: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        OutputFormat::Human => human::render(reports, *opts, out),
        OutputFormat::Json => json::render(reports, out),
        OutputFormat::Github => github::render(reports, out),
        OutputFormat::Sarif => sarif::render(reports, tool_version, out),
    }
}

/// Counts over all files, shared by the human summary line and the JSON `summary`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
struct Summary {
    files: usize,
    ok: usize,
    invalid: usize,
    errors: usize,
    warnings: usize,
}

impl Summary {
    fn of(reports: &[FileReport]) -> Self {
        let mut s = Self {
            files: reports.len(),
            ..Self::default()
        };
        for report in reports {
            if report.ok() {
                s.ok += 1;
            } else {
                s.invalid += 1;
            }
            let errors = report.diagnostics.iter().filter(|d| d.is_error()).count();
            s.errors += errors;
            s.warnings += report.diagnostics.len() - errors;
        }
        s
    }
}

/// The message, then the hint on its own line. Formats without a separate help field use it.
fn message_with_hint(diag: &Diagnostic) -> String {
    match &diag.hint {
        Some(hint) => format!("{}\n{hint}", diag.message),
        None => diag.message.clone(),
    }
}

/// The lower-case severity word that GitHub commands and SARIF levels both use.
fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Two files: one clean, one with a positioned error with a hint (after a multi-byte
    /// character on its line), a warning without a hint, and an error with no position.
    pub(super) fn reports() -> Vec<FileReport> {
        let bad = "version: 1\n\
                   register_bq:\n  \
                   traffic: { description: \"Trafic café ☕\", sqll: \"SELECT 1\" }\n\
                   duckdb: SELECT 1\n";
        vec![
            FileReport {
                path: "plans/good.yaml".into(),
                source: Some("version: 1\n".into()),
                diagnostics: vec![],
            },
            FileReport {
                path: "plans/bad.yaml".into(),
                source: Some(bad.into()),
                diagnostics: vec![
                    Diagnostic::error("unknown_param", "parameter `region` is not declared")
                        .hint("declare it under `params:` or drop `--param region=eu`"),
                    Diagnostic::warning("unused_alias", "alias `traffic` is never used")
                        .at(3, 3)
                        .pointer("/register_bq/traffic"),
                    Diagnostic::error("unknown_key", "unknown key `sqll` in the alias")
                        .at(3, 44)
                        .pointer("/register_bq/traffic/sqll")
                        .hint("did you mean `sql`?"),
                ],
            },
        ]
    }

    pub(super) fn rendered(format: OutputFormat, color: bool) -> String {
        let mut out = Vec::new();
        render(
            &reports(),
            format,
            &RenderOptions { color },
            "0.1.0",
            &mut out,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Renders `reports` in `format` with default options.
    pub(super) fn render_to_string(reports: &[FileReport], format: OutputFormat) -> String {
        let mut out = Vec::new();
        render(reports, format, &RenderOptions::default(), "0", &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_empty_run_is_still_valid_output() {
        for format in [
            OutputFormat::Human,
            OutputFormat::Json,
            OutputFormat::Github,
            OutputFormat::Sarif,
        ] {
            let text = render_to_string(&[], format);
            match format {
                OutputFormat::Human => assert_eq!(text, "checked 0 files: 0 ok, 0 invalid\n"),
                OutputFormat::Github => assert_eq!(text, ""),
                OutputFormat::Json | OutputFormat::Sarif => {
                    serde_json::from_str::<Value>(&text).unwrap();
                }
            }
        }
    }
}
