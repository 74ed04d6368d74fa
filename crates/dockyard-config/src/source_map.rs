//! Maps byte offsets of the parsed document back to key paths and value types.
//!
//! toml's deserialization errors carry a span but not a key path a user would recognise; this
//! module walks the spanned document once and answers "which key or value is at this offset".

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathSegment {
    /// A key of a table.
    Key(String),
    /// A position in an array.
    Index(usize),
}

/// The TOML type of a value, for messages like "found a string".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    String,
    Integer,
    Float,
    Boolean,
    Datetime,
    Array,
    Table,
}

impl ValueKind {
    /// The type with its article, for "found ...".
    pub(crate) fn with_article(self) -> &'static str {
        match self {
            ValueKind::String => "a string",
            ValueKind::Integer => "an integer",
            ValueKind::Float => "a float",
            ValueKind::Boolean => "a boolean",
            ValueKind::Datetime => "a date-time",
            ValueKind::Array => "an array",
            ValueKind::Table => "a table",
        }
    }

    /// Whether the value is a single literal (not an array or table).
    pub(crate) fn is_scalar(self) -> bool {
        !matches!(self, ValueKind::Array | ValueKind::Table)
    }
}

/// A key or a value of the document, with where it is.
#[derive(Debug, Clone)]
pub(crate) struct DocumentNode {
    /// The full path of the key (or of the key owning the value).
    pub(crate) path: Vec<PathSegment>,
    /// Where the key or value is in the text.
    pub(crate) span: Range<usize>,
    /// The type of the value at `path`.
    pub(crate) kind: ValueKind,
}

/// Every key and value of the document, in no particular order.
pub(crate) fn list_document_nodes(document: &Spanned<DeTable<'_>>) -> Vec<DocumentNode> {
    let mut nodes = Vec::new();
    collect_table_nodes(document.get_ref(), &mut Vec::new(), &mut nodes);
    nodes
}

fn collect_table_nodes(
    table: &DeTable<'_>,
    path: &mut Vec<PathSegment>,
    nodes: &mut Vec<DocumentNode>,
) {
    for (key, value) in table.iter() {
        path.push(PathSegment::Key(key.get_ref().to_string()));
        nodes.push(DocumentNode {
            path: path.clone(),
            span: key.span(),
            kind: value_kind(value.get_ref()),
        });
        collect_value_nodes(value, path, nodes);
        path.pop();
    }
}

fn collect_value_nodes(
    value: &Spanned<DeValue<'_>>,
    path: &mut Vec<PathSegment>,
    nodes: &mut Vec<DocumentNode>,
) {
    nodes.push(DocumentNode {
        path: path.clone(),
        span: value.span(),
        kind: value_kind(value.get_ref()),
    });
    match value.get_ref() {
        DeValue::Table(table) => collect_table_nodes(table, path, nodes),
        DeValue::Array(array) => {
            for (index, item) in array.iter().enumerate() {
                path.push(PathSegment::Index(index));
                collect_value_nodes(item, path, nodes);
                path.pop();
            }
        }
        _ => {}
    }
}

fn value_kind(value: &DeValue<'_>) -> ValueKind {
    match value {
        DeValue::String(_) => ValueKind::String,
        DeValue::Integer(_) => ValueKind::Integer,
        DeValue::Float(_) => ValueKind::Float,
        DeValue::Boolean(_) => ValueKind::Boolean,
        DeValue::Datetime(_) => ValueKind::Datetime,
        DeValue::Array(_) => ValueKind::Array,
        DeValue::Table(_) => ValueKind::Table,
    }
}

/// The innermost key or value whose span holds `offset` (the deepest one on a tie).
pub(crate) fn find_node_at_offset(nodes: &[DocumentNode], offset: usize) -> Option<&DocumentNode> {
    nodes
        .iter()
        .filter(|node| {
            node.span.contains(&offset) || (node.span.is_empty() && node.span.start == offset)
        })
        .min_by(|left, right| {
            let left_length = left.span.end - left.span.start;
            let right_length = right.span.end - right.span.start;
            left_length
                .cmp(&right_length)
                .then_with(|| right.path.len().cmp(&left.path.len()))
        })
}

/// `app.port`, `base.runtime.image`, `app.requirements[0]`, `app.env."MY KEY"`.
pub(crate) fn render_key_path(path: &[PathSegment]) -> String {
    let mut rendered = String::new();
    for segment in path {
        match segment {
            PathSegment::Key(key) => {
                if !rendered.is_empty() {
                    rendered.push('.');
                }
                rendered.push_str(&render_key(key));
            }
            PathSegment::Index(index) => rendered.push_str(&format!("[{index}]")),
        }
    }
    rendered
}

/// A key as TOML would need it written: bare when it can be, quoted otherwise.
pub(crate) fn render_key(key: &str) -> String {
    let is_bare = !key.is_empty()
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    if is_bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::{find_node_at_offset, list_document_nodes, render_key_path, ValueKind};

    #[test]
    fn finds_the_innermost_key_path() {
        let text = "[app]\nport = \"x\"\nrequirements = [\"a\", 1]\n[base.run]\nimage = \"i\"\n";
        let Ok(document) = toml::de::DeTable::parse(text) else {
            panic!("test document parses");
        };
        let nodes = list_document_nodes(&document);
        let at = |needle: &str| {
            let Some(offset) = text.find(needle) else {
                panic!("{needle} is in the text");
            };
            let Some(node) = find_node_at_offset(&nodes, offset) else {
                panic!("something is at {needle}");
            };
            (render_key_path(&node.path), node.kind)
        };
        assert_eq!(at("\"x\""), ("app.port".to_owned(), ValueKind::String));
        assert_eq!(at("port"), ("app.port".to_owned(), ValueKind::String));
        assert_eq!(
            at("1]"),
            ("app.requirements[1]".to_owned(), ValueKind::Integer)
        );
        assert_eq!(at("[app]"), ("app".to_owned(), ValueKind::Table));
        assert_eq!(at("[base.run]"), ("base.run".to_owned(), ValueKind::Table));
        assert_eq!(
            at("\"i\""),
            ("base.run.image".to_owned(), ValueKind::String)
        );
    }
}
