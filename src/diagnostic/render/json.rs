//! The JSON format: one pretty-printed document with every file and a summary, for scripts.

use std::io::{self, Write};

use serde::Serialize;

use super::{Diagnostic, FileReport, Summary};

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

pub(super) fn render(reports: &[FileReport], out: &mut dyn Write) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::super::OutputFormat;
    use super::super::tests::rendered;
    use serde_json::Value;

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
}
