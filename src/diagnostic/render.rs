//! The output formats of `da plan check`: one renderer per `--format`, all over the same
//! `FileReport` values.
//!
//! Renderers only write to the `Write` they are given. They never print, pick colors on their
//! own or decide exit codes; the caller does that at the edge.

use std::io::{self, Write};
use std::ops::Range;

use annotate_snippets::{
    AnnotationKind, Element, Level, Origin, Renderer, Snippet, normalize_untrusted_str,
};
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
        OutputFormat::Human => human(reports, *opts, out),
        OutputFormat::Json => json_report(reports, out),
        OutputFormat::Github => github(reports, out),
        OutputFormat::Sarif => sarif(reports, tool_version, out),
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

// ---------------------------------------------------------------------------------------------
// human

const GREEN_BOLD: &str = "\x1b[1;32m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

fn human(reports: &[FileReport], opts: RenderOptions, out: &mut dyn Write) -> io::Result<()> {
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

// ---------------------------------------------------------------------------------------------
// json

#[derive(Serialize)]
struct JsonReport<'a> {
    files: Vec<JsonFile<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    path: &'a str,
    ok: bool,
    diagnostics: &'a [Diagnostic],
}

fn json_report(reports: &[FileReport], out: &mut dyn Write) -> io::Result<()> {
    let doc = JsonReport {
        files: reports
            .iter()
            .map(|r| JsonFile {
                path: &r.path,
                ok: r.ok(),
                diagnostics: &r.diagnostics,
            })
            .collect(),
        summary: Summary::of(reports),
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

// ---------------------------------------------------------------------------------------------
// github

/// One workflow command per diagnostic:
/// <https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands>.
fn github(reports: &[FileReport], out: &mut dyn Write) -> io::Result<()> {
    for report in reports {
        for diag in &report.diagnostics {
            let command = match diag.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let mut props = vec![format!("file={}", github_property(&report.path))];
            // A column means nothing without its line.
            if let Some(line) = diag.line {
                props.push(format!("line={line}"));
                if let Some(column) = diag.column {
                    props.push(format!("col={column}"));
                }
            }
            props.push(format!("title={}", github_property(diag.code)));
            let text = github_data(&message_with_hint(diag));
            writeln!(out, "::{command} {}::{text}", props.join(","))?;
        }
    }
    Ok(())
}

/// Escape a command's message, as `@actions/core` `escapeData` does.
fn github_data(s: &str) -> String {
    // `%` first, or the escapes we add would be escaped again.
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a property value (`file=`, `title=`), as `@actions/core` `escapeProperty` does:
/// `:` and `,` would otherwise end the value.
fn github_property(s: &str) -> String {
    github_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The message, then the hint on its own line. Formats without a separate help field use it.
fn message_with_hint(diag: &Diagnostic) -> String {
    match &diag.hint {
        Some(hint) => format!("{}\n{hint}", diag.message),
        None => diag.message.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// sarif

const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

// Typed rather than `json!`: the key order of `serde_json::Value` depends on a cargo feature
// (`preserve_order`) that any crate in the build can turn on, and the output should not.

#[derive(Serialize)]
struct SarifLog<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [SarifRun<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRun<'a> {
    tool: SarifTool<'a>,
    /// SARIF columns default to UTF-16 code units; ours count characters.
    column_kind: &'static str,
    results: Vec<SarifResult<'a>>,
}

#[derive(Serialize)]
struct SarifTool<'a> {
    driver: SarifDriver<'a>,
}

#[derive(Serialize)]
struct SarifDriver<'a> {
    name: &'static str,
    version: &'a str,
    rules: Vec<SarifRule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRule {
    id: &'static str,
    short_description: SarifText,
}

#[derive(Serialize)]
struct SarifText {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: SarifText,
    locations: [SarifLocation; 1],
    properties: SarifProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    physical_location: SarifPhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifPhysicalLocation {
    artifact_location: SarifArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<SarifRegion>,
}

#[derive(Serialize)]
struct SarifArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRegion {
    start_line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_column: Option<usize>,
}

#[derive(Serialize)]
struct SarifProperties<'a> {
    pointer: &'a str,
}

fn sarif(reports: &[FileReport], tool_version: &str, out: &mut dyn Write) -> io::Result<()> {
    // Rules in order of first appearance, so `ruleIndex` is stable for a given input.
    let mut codes: Vec<&'static str> = Vec::new();
    let mut results = Vec::new();
    for report in reports {
        for diag in &report.diagnostics {
            let rule_index = codes
                .iter()
                .position(|c| *c == diag.code)
                .unwrap_or_else(|| {
                    codes.push(diag.code);
                    codes.len() - 1
                });
            results.push(sarif_result(report, diag, rule_index));
        }
    }
    let rules = codes
        .into_iter()
        .map(|id| SarifRule {
            id,
            // Codes are descriptive snake_case (`unknown_key`), which reads well as words.
            short_description: SarifText {
                text: id.replace('_', " "),
            },
        })
        .collect();
    let log = SarifLog {
        schema: SARIF_SCHEMA,
        version: "2.1.0",
        runs: [SarifRun {
            tool: SarifTool {
                driver: SarifDriver {
                    name: "da",
                    version: tool_version,
                    rules,
                },
            },
            column_kind: "unicodeCodePoints",
            results,
        }],
    };
    serde_json::to_writer_pretty(&mut *out, &log)?;
    writeln!(out)
}

fn sarif_result<'a>(
    report: &FileReport,
    diag: &'a Diagnostic,
    rule_index: usize,
) -> SarifResult<'a> {
    SarifResult {
        rule_id: diag.code,
        rule_index,
        level: match diag.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        message: SarifText {
            text: message_with_hint(diag),
        },
        locations: [SarifLocation {
            physical_location: SarifPhysicalLocation {
                artifact_location: SarifArtifactLocation {
                    uri: sarif_uri(&report.path),
                },
                region: diag.line.map(|start_line| SarifRegion {
                    start_line,
                    start_column: diag.column,
                }),
            },
        }],
        properties: SarifProperties {
            pointer: &diag.pointer,
        },
    }
}

/// A path as a URI reference: forward slashes, and percent-encoding for anything a URI path
/// may not contain (spaces, `%`, `#`, `?`, non-ASCII, and `:`, which would read as a scheme).
fn sarif_uri(path: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let path = path.replace('\\', "/");
    let mut uri = String::with_capacity(path.len());
    // An absolute Windows path (`C:/...`) becomes a `file:` URI, keeping its drive colon.
    let rest = match path.as_bytes() {
        [drive, b':', b'/', ..] if drive.is_ascii_alphabetic() => {
            uri.push_str("file:///");
            uri.push_str(&path[..2]);
            &path[2..]
        }
        _ => path.as_str(),
    };
    for byte in rest.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push('%');
            uri.push(char::from(HEX[usize::from(byte >> 4)]));
            uri.push(char::from(HEX[usize::from(byte & 0x0F)]));
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Two files: one clean, one with a positioned error with a hint (after a multi-byte
    /// character on its line), a warning without a hint, and an error with no position.
    fn reports() -> Vec<FileReport> {
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

    fn rendered(format: OutputFormat, color: bool) -> String {
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
        let mut out = Vec::new();
        render(
            &[report],
            OutputFormat::Human,
            &RenderOptions::default(),
            "0",
            &mut out,
        )
        .unwrap();
        let expected = "error[yaml_syntax]: bad\n\
                        --> gone.yaml:7:2\n\
                        \n\
                        checked 1 file: 0 ok, 1 invalid (1 error, 0 warnings)\n";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn json_format_lists_files_diagnostics_and_summary() {
        let expected = r#"{
  "files": [
    {
      "path": "plans/good.yaml",
      "ok": true,
      "diagnostics": []
    },
    {
      "path": "plans/bad.yaml",
      "ok": false,
      "diagnostics": [
        {
          "code": "unknown_param",
          "severity": "error",
          "message": "parameter `region` is not declared",
          "line": null,
          "column": null,
          "pointer": "",
          "hint": "declare it under `params:` or drop `--param region=eu`"
        },
        {
          "code": "unused_alias",
          "severity": "warning",
          "message": "alias `traffic` is never used",
          "line": 3,
          "column": 3,
          "pointer": "/register_bq/traffic",
          "hint": null
        },
        {
          "code": "unknown_key",
          "severity": "error",
          "message": "unknown key `sqll` in the alias",
          "line": 3,
          "column": 44,
          "pointer": "/register_bq/traffic/sqll",
          "hint": "did you mean `sql`?"
        }
      ]
    }
  ],
  "summary": {
    "files": 2,
    "ok": 1,
    "invalid": 1,
    "errors": 2,
    "warnings": 1
  }
}
"#;
        let text = rendered(OutputFormat::Json, false);
        assert_eq!(text, expected);
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["summary"]["invalid"], 1);
        assert_eq!(doc["files"][1]["diagnostics"][2]["column"], 44);
    }

    #[test]
    fn github_format_emits_one_workflow_command_per_diagnostic() {
        let expected = "\
::error file=plans/bad.yaml,title=unknown_param::parameter `region` is not declared%0Adeclare it under `params:` or drop `--param region=eu`
::warning file=plans/bad.yaml,line=3,col=3,title=unused_alias::alias `traffic` is never used
::error file=plans/bad.yaml,line=3,col=44,title=unknown_key::unknown key `sqll` in the alias%0Adid you mean `sql`?
";
        assert_eq!(rendered(OutputFormat::Github, false), expected);
    }

    #[test]
    fn github_escapes_percent_newlines_colons_and_commas() {
        let report = FileReport {
            path: "C:/plans/a,b 100%.yaml".into(),
            source: None,
            diagnostics: vec![
                Diagnostic::error("invalid_value", "50% off: a,b\r\nnext")
                    .at(1, 2)
                    .hint("x%0Ay"),
            ],
        };
        let mut out = Vec::new();
        render(
            &[report],
            OutputFormat::Github,
            &RenderOptions::default(),
            "0",
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "::error file=C%3A/plans/a%2Cb 100%25.yaml,line=1,col=2,title=invalid_value::\
             50%25 off: a,b%0D%0Anext%0Ax%250Ay\n"
        );
    }

    #[test]
    fn sarif_format_is_a_2_1_0_log() {
        let expected = r#"{
  "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
  "version": "2.1.0",
  "runs": [
    {
      "tool": {
        "driver": {
          "name": "da",
          "version": "0.1.0",
          "rules": [
            {
              "id": "unknown_param",
              "shortDescription": {
                "text": "unknown param"
              }
            },
            {
              "id": "unused_alias",
              "shortDescription": {
                "text": "unused alias"
              }
            },
            {
              "id": "unknown_key",
              "shortDescription": {
                "text": "unknown key"
              }
            }
          ]
        }
      },
      "columnKind": "unicodeCodePoints",
      "results": [
        {
          "ruleId": "unknown_param",
          "ruleIndex": 0,
          "level": "error",
          "message": {
            "text": "parameter `region` is not declared\ndeclare it under `params:` or drop `--param region=eu`"
          },
          "locations": [
            {
              "physicalLocation": {
                "artifactLocation": {
                  "uri": "plans/bad.yaml"
                }
              }
            }
          ],
          "properties": {
            "pointer": ""
          }
        },
        {
          "ruleId": "unused_alias",
          "ruleIndex": 1,
          "level": "warning",
          "message": {
            "text": "alias `traffic` is never used"
          },
          "locations": [
            {
              "physicalLocation": {
                "artifactLocation": {
                  "uri": "plans/bad.yaml"
                },
                "region": {
                  "startLine": 3,
                  "startColumn": 3
                }
              }
            }
          ],
          "properties": {
            "pointer": "/register_bq/traffic"
          }
        },
        {
          "ruleId": "unknown_key",
          "ruleIndex": 2,
          "level": "error",
          "message": {
            "text": "unknown key `sqll` in the alias\ndid you mean `sql`?"
          },
          "locations": [
            {
              "physicalLocation": {
                "artifactLocation": {
                  "uri": "plans/bad.yaml"
                },
                "region": {
                  "startLine": 3,
                  "startColumn": 44
                }
              }
            }
          ],
          "properties": {
            "pointer": "/register_bq/traffic/sqll"
          }
        }
      ]
    }
  ]
}
"#;
        let text = rendered(OutputFormat::Sarif, false);
        assert_eq!(text, expected);
        // The fields the 2.1.0 schema requires, checked on the parsed value.
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["version"], "2.1.0");
        let run = &doc["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "da");
        for rule in run["tool"]["driver"]["rules"].as_array().unwrap() {
            assert!(rule["id"].is_string());
            assert!(rule["shortDescription"]["text"].is_string());
        }
        for result in run["results"].as_array().unwrap() {
            assert!(result["message"]["text"].is_string());
            assert!(result["ruleId"].is_string());
            let location = &result["locations"][0]["physicalLocation"];
            assert!(location["artifactLocation"]["uri"].is_string());
        }
    }

    #[test]
    fn sarif_uris_use_forward_slashes_and_percent_encoding() {
        assert_eq!(sarif_uri(r"plans\daily\a.yaml"), "plans/daily/a.yaml");
        assert_eq!(
            sarif_uri("my plans/café#1.yaml"),
            "my%20plans/caf%C3%A9%231.yaml"
        );
        assert_eq!(sarif_uri(r"C:\plans\a.yaml"), "file:///C:/plans/a.yaml");
        assert_eq!(sarif_uri("/abs/a.toml"), "/abs/a.toml");
        assert_eq!(sarif_uri("a:b/c.yaml"), "a%3Ab/c.yaml");
    }

    #[test]
    fn an_empty_run_is_still_valid_output() {
        for format in [
            OutputFormat::Human,
            OutputFormat::Json,
            OutputFormat::Github,
            OutputFormat::Sarif,
        ] {
            let mut out = Vec::new();
            render(&[], format, &RenderOptions::default(), "0", &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
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
