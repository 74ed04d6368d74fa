//! Turns toml's syntax and deserialization errors into [`ConfigError`]s a user can act on.
//!
//! toml reports serde's messages ("unknown field `prot`, expected one of ...", "invalid type:
//! string \"1\", expected i64", "missing field `wsgi`") with a span. The span is mapped back to a
//! key path through [`crate::source_map`], and the message is rewritten in Dockyard's words.

use std::ops::Range;

use crate::error::{invalid_at, syntax_error_at, ConfigError, SourceText};
use crate::source_map::{
    find_node_at_offset, render_key, render_key_path, DocumentNode, PathSegment, ValueKind,
};
use crate::suggestions::{closest_candidate, example_for_missing_key, render_backticked_list};

/// A TOML syntax error, condensed to one line.
pub(crate) fn describe_syntax_error(
    source: SourceText<'_>,
    error: &toml::de::Error,
) -> ConfigError {
    let span = error.span().unwrap_or(0..0);
    let description = condense_to_one_line(error.message());
    if description == "duplicate key" {
        let duplicate = source.text.get(span.clone()).unwrap_or_default().trim();
        return syntax_error_at(
            source,
            span,
            format!("invalid TOML: duplicate key `{duplicate}`"),
            Some("each key and each table may be defined only once".to_owned()),
        );
    }
    syntax_error_at(source, span, format!("invalid TOML: {description}"), None)
}

fn condense_to_one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A deserialization error (unknown key, missing key, wrong type), placed and named.
pub(crate) fn describe_schema_error(
    source: SourceText<'_>,
    nodes: &[DocumentNode],
    error: &toml::de::Error,
) -> ConfigError {
    let span = error.span().unwrap_or(0..0);
    let message = error.message();
    // An empty span is toml's way of pointing at the whole document.
    let node = if span.is_empty() {
        None
    } else {
        find_node_at_offset(nodes, span.start)
    };
    let path = node.map(|node| node.path.clone()).unwrap_or_default();

    if let Some(node) = node {
        if message.starts_with("invalid type: ") && is_array_of_tables_entry(source, node) {
            return describe_array_of_tables(source, span, node);
        }
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or_default();
        let expected = backticked_words(rest.split_once(", expected").map_or("", |split| split.1));
        let mut table_path = path;
        if table_path.last() == Some(&PathSegment::Key(field.to_owned())) {
            table_path.pop();
        }
        let kind = node.map(|node| node.kind);
        return describe_unknown_key(source, span, &table_path, field, kind, &expected);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return describe_missing_key(source, span, &path, field);
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let expected = rest.rsplit_once(", expected ").map_or("", |split| split.1);
        if let Some(node) = node {
            return describe_wrong_type(source, span, node, expected, message);
        }
    }
    let key = render_key_path(&path);
    let rendered = if key.is_empty() {
        message.to_owned()
    } else {
        format!("`{key}`: {message}")
    };
    invalid_at(source, span, key, rendered, None)
}

/// Whether `node` is an entry of an array of tables (`[[name]]`).
///
/// Only `[[smoke.check]]` and `[[scan.ignore]]` entries are, and those deserialize as tables, so a
/// type error placed at an entry itself (not at a key inside it) means single brackets were meant.
fn is_array_of_tables_entry(source: SourceText<'_>, node: &DocumentNode) -> bool {
    node.kind == ValueKind::Table
        && matches!(node.path.last(), Some(PathSegment::Index(_)))
        && source
            .text
            .get(node.span.clone())
            .is_some_and(|text| text.starts_with("[["))
}

fn describe_array_of_tables(
    source: SourceText<'_>,
    span: Range<usize>,
    node: &DocumentNode,
) -> ConfigError {
    let table_path = &node.path[..node.path.len() - 1];
    let key = render_key_path(table_path);
    invalid_at(
        source,
        span,
        key.clone(),
        format!("`{key}` must be a table, found an array of tables"),
        Some(format!("write `[{key}]`, with single brackets")),
    )
}

fn backticked_words(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

fn describe_unknown_key(
    source: SourceText<'_>,
    span: Range<usize>,
    table_path: &[PathSegment],
    field: &str,
    kind: Option<ValueKind>,
    expected: &[&str],
) -> ConfigError {
    let table = render_key_path(table_path);
    let mut full_path = table_path.to_vec();
    full_path.push(PathSegment::Key(field.to_owned()));
    let key = render_key_path(&full_path);
    let is_table = kind == Some(ValueKind::Table);
    let suggestion = closest_candidate(field, expected.iter().copied());
    // An entry of an array of tables has no header of its own to show: `smoke.check[2]`.
    let shown_table = if matches!(table_path.last(), Some(PathSegment::Index(_))) {
        format!("`{table}`")
    } else {
        format!("`[{table}]`")
    };

    let (message, hint) = if table.is_empty() {
        let tables: Vec<String> = expected
            .iter()
            .map(|name| match *name {
                "base" => "[base.<name>]".to_owned(),
                name => format!("[{name}]"),
            })
            .collect();
        let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
        if is_table {
            let hint = match suggestion {
                Some(suggestion) => format!("did you mean `[{suggestion}]`?"),
                None => format!("the tables are {}", render_backticked_list(&tables)),
            };
            (format!("unknown table `[{key}]`"), hint)
        } else {
            let hint = format!(
                "keys go inside a table: {}",
                render_backticked_list(&tables)
            );
            (format!("unknown key `{key}` at the top level"), hint)
        }
    } else {
        let message = if is_table {
            format!("unknown table `[{key}]`")
        } else {
            format!("unknown key `{}` in {shown_table}", render_key(field))
        };
        let hint = match suggestion {
            Some(suggestion) if is_table => format!("did you mean `[{table}.{suggestion}]`?"),
            Some(suggestion) => format!("did you mean `{suggestion}`?"),
            None if expected.is_empty() => format!("{shown_table} takes no keys"),
            None => format!("{shown_table} takes {}", render_backticked_list(expected)),
        };
        (message, hint)
    };
    invalid_at(source, span, key, message, Some(hint))
}

fn describe_missing_key(
    source: SourceText<'_>,
    span: Range<usize>,
    table_path: &[PathSegment],
    field: &str,
) -> ConfigError {
    let mut full_path = table_path.to_vec();
    full_path.push(PathSegment::Key(field.to_owned()));
    let key = render_key_path(&full_path);
    let example = example_for_missing_key(&key_pattern(&full_path));
    if table_path.is_empty() {
        let hint = example.map(|example| format!("add {example}"));
        return invalid_at(
            source,
            span,
            key,
            format!("missing table `[{field}]`"),
            hint,
        );
    }
    let hint = example.map(|example| format!("add it, for example: {example}"));
    invalid_at(
        source,
        span,
        key.clone(),
        format!("missing key `{key}`"),
        hint,
    )
}

/// The key path with each base name and array index replaced by `*`, to look up examples.
fn key_pattern(path: &[PathSegment]) -> String {
    let mut segments: Vec<String> = Vec::new();
    for (position, segment) in path.iter().enumerate() {
        let text = match segment {
            PathSegment::Key(_)
                if position == 1 && segments.first().map(String::as_str) == Some("base") =>
            {
                "*".to_owned()
            }
            PathSegment::Key(key) => key.clone(),
            PathSegment::Index(_) => "*".to_owned(),
        };
        segments.push(text);
    }
    segments.join(".")
}

fn describe_wrong_type(
    source: SourceText<'_>,
    span: Range<usize>,
    node: &DocumentNode,
    expected: &str,
    original_message: &str,
) -> ConfigError {
    let key = render_key_path(&node.path);
    let expected = describe_expected_type(expected);
    let found = node.kind.with_article();
    if expected == found {
        // Same TOML type, so the value itself did not fit (an integer beyond 64 bits).
        let message = if original_message.contains("as i128") || node.kind == ValueKind::Integer {
            format!("`{key}` is out of range")
        } else {
            format!("`{key}`: {original_message}")
        };
        return invalid_at(source, span, key, message, None);
    }
    let value_text = source.text.get(span.clone()).unwrap_or_default().trim();
    let hint = suggest_type_fix(&node.path, expected, node.kind, value_text);
    invalid_at(
        source,
        span,
        key.clone(),
        format!("`{key}` must be {expected}, found {found}"),
        hint,
    )
}

fn describe_expected_type(expected: &str) -> &str {
    match expected {
        "i8" | "i16" | "i32" | "i64" | "i128" | "u8" | "u16" | "u32" | "u64" | "u128"
        | "an integer" => "an integer",
        "f32" | "f64" | "a float" => "a float",
        "a string" | "a borrowed string" | "a char" => "a string",
        "a boolean" => "a boolean",
        "a sequence" => "an array",
        "a map" => "a table",
        other if other.starts_with("struct ") => "a table",
        other => other,
    }
}

fn suggest_type_fix(
    path: &[PathSegment],
    expected: &str,
    found: ValueKind,
    value_text: &str,
) -> Option<String> {
    let assignment = |value: &str| match path.last() {
        Some(PathSegment::Key(key)) => format!("`{} = {value}`", render_key(key)),
        _ => format!("`{value}`"),
    };
    let unquoted = value_text.trim_matches(|character| character == '"' || character == '\'');
    match (expected, found) {
        ("a string", found) if found.is_scalar() => Some(format!(
            "quote it: {}",
            assignment(&format!("\"{unquoted}\""))
        )),
        ("an integer", ValueKind::String) if unquoted.parse::<i64>().is_ok() => {
            Some(format!("drop the quotes: {}", assignment(unquoted)))
        }
        ("a boolean", ValueKind::String) if matches!(unquoted, "true" | "false") => {
            Some(format!("drop the quotes: {}", assignment(unquoted)))
        }
        ("an array", found) if found.is_scalar() => Some(format!(
            "write a list: {}",
            assignment(&format!("[{value_text}]"))
        )),
        ("an array", ValueKind::Table) if value_text.starts_with('[') => Some(format!(
            "write `[[{}]]`, with double brackets, once for each entry",
            render_key_path(path)
        )),
        _ => None,
    }
}
