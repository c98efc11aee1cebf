//! The GitHub format: workflow commands, which become annotations on a pull request.

use std::io::{self, Write};

use super::{FileReport, message_with_hint, severity_name};

/// One workflow command per diagnostic:
/// <https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands>.
pub(super) fn render(reports: &[FileReport], out: &mut dyn Write) -> io::Result<()> {
    for report in reports {
        for diag in &report.diagnostics {
            let command = severity_name(diag.severity);
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

#[cfg(test)]
mod tests {
    use super::super::tests::{render_to_string, rendered};
    use super::super::{Diagnostic, OutputFormat};
    use super::*;

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
        assert_eq!(
            render_to_string(&[report], OutputFormat::Github),
            "::error file=C%3A/plans/a%2Cb 100%25.yaml,line=1,col=2,title=invalid_value::\
             50%25 off: a,b%0D%0Anext%0Ax%250Ay\n"
        );
    }
}
