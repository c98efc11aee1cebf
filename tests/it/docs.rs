//! Docs that cannot drift: every property of the committed JSON schemas is documented in
//! `docs/plan-format.md`, plan fields in its plan section and configuration keys in its
//! configuration section. A field added to a type (and so to `schemas/`) fails here until
//! it is documented.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::root;

const PLAN_SECTION: &str = "\n## Plan files";
const CONFIG_SECTION: &str = "\n## Instance configuration";

/// Every property reachable in a schema, as `(name, dotted path)`, following `$ref` into
/// `$defs`, `items`, `additionalProperties` and `anyOf`/`oneOf`/`allOf`.
fn properties(schema: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut followed = BTreeSet::new();
    walk(schema, schema, "", &mut followed, &mut found);
    found
}

fn walk(
    root: &Value,
    node: &Value,
    path: &str,
    followed: &mut BTreeSet<String>,
    found: &mut Vec<(String, String)>,
) {
    let Some(object) = node.as_object() else {
        return;
    };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let name = reference
            .strip_prefix("#/$defs/")
            .unwrap_or_else(|| panic!("only local $defs references are expected: {reference}"));
        // A definition reached twice is checked once; this also stops cycles.
        if followed.insert(name.to_owned()) {
            walk(root, &root["$defs"][name], path, followed, found);
        }
    }
    if let Some(props) = object.get("properties").and_then(Value::as_object) {
        for (name, child) in props {
            let child_path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            found.push((name.clone(), child_path.clone()));
            walk(root, child, &child_path, followed, found);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = object.get(key) {
            walk(root, child, &format!("{path}.*"), followed, found);
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for child in object
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            walk(root, child, path, followed, found);
        }
    }
}

fn schema(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join("schemas").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The part of the doc from `heading` to the next `## ` heading.
fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("docs/plan-format.md has a `{}` section", heading.trim()));
    let rest = &doc[start + heading.len()..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    &rest[..end]
}

fn undocumented(schema: &Value, text: &str) -> Vec<String> {
    properties(schema)
        .into_iter()
        .filter(|(name, _)| !text.contains(&format!("`{name}`")))
        .map(|(_, path)| path)
        .collect()
}

#[test]
fn the_walker_reaches_nested_properties_through_refs() {
    let plan: BTreeSet<String> = properties(&schema("plan.schema.json"))
        .into_iter()
        .map(|(_, path)| path)
        .collect();
    // Through additionalProperties → $ref → anyOf → $ref, and items → $ref.
    for path in [
        "register_bq.*.sql",
        "register_bq.*.max_rows",
        "params.*.type",
        "outputs.*.path",
        "limits.timeout_seconds",
    ] {
        assert!(plan.contains(path), "{path} in {plan:?}");
    }
    let config: BTreeSet<String> = properties(&schema("config.schema.json"))
        .into_iter()
        .map(|(_, path)| path)
        .collect();
    for path in [
        "server.tokens.*.sha256",
        "mcp.allow_run",
        "mcp.output_dir",
        "remote_query.max_result_rows",
    ] {
        assert!(config.contains(path), "{path} in {config:?}");
    }
}

#[test]
fn every_plan_field_and_config_key_is_documented() {
    let doc = std::fs::read_to_string(root().join("docs/plan-format.md")).unwrap();
    let plan = undocumented(&schema("plan.schema.json"), section(&doc, PLAN_SECTION));
    let config = undocumented(&schema("config.schema.json"), section(&doc, CONFIG_SECTION));
    assert!(
        plan.is_empty() && config.is_empty(),
        "docs/plan-format.md does not mention (as `name`) these schema properties:\n  plan: {plan:?}\n  config: {config:?}"
    );
}

#[test]
fn the_docs_exist_and_the_readme_links_them() {
    for file in ["docs/plan-format.md", "docs/agents.md", "docs/ci.md"] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        assert!(text.starts_with("# "), "{file} starts with a title");
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for link in ["docs/plan-format.md", "docs/agents.md", "docs/ci.md"] {
        assert!(readme.contains(link), "README links {link}");
    }
}
