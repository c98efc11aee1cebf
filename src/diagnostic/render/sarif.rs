//! The SARIF format: a SARIF 2.1.0 log, for code-scanning uploads.

use std::io::{self, Write};

use serde::Serialize;

use super::{Diagnostic, FileReport, message_with_hint, severity_name};

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

pub(super) fn render(
    reports: &[FileReport],
    tool_version: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
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
        level: severity_name(diag.severity),
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
    use super::super::OutputFormat;
    use super::super::tests::rendered;
    use super::*;
    use serde_json::Value;

    /// The SARIF rendering of `reports()`.
    const EXPECTED: &str = r#"{
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

    #[test]
    fn sarif_format_is_a_2_1_0_log() {
        let text = rendered(OutputFormat::Sarif, false);
        assert_eq!(text, EXPECTED);
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
}
