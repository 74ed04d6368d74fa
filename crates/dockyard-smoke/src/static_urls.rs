//! Static file URLs in a rendered page, and Django's hashed (manifest) file names.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

/// `href`, `src` and `srcset` attributes with a double-quoted, single-quoted or bare value.
///
/// The attribute name must follow whitespace, so `data-src` and `xsrc` are not taken.
/// Compiled once; `None` only if the pattern were invalid, which a unit test rules out.
static URL_ATTRIBUTE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:^|\s)(href|src|srcset)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))"#).ok()
});

/// The last path segment of a Django `ManifestStaticFilesStorage` name: `name.<12 hex>.ext`, or
/// `name.<12 hex>` for a file without extension.
static HASHED_FILE_NAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^.+\.[0-9a-f]{12}(?:\.[^./]+)?$").ok());

/// Every URL in an `href`, `src` or `srcset` attribute of `html` that starts with `static_url`
/// (e.g. `/static/`), with `&amp;`-style entities decoded, deduplicated and sorted.
pub fn static_urls(html: &str, static_url: &str) -> Vec<String> {
    let Some(pattern) = URL_ATTRIBUTE.as_ref() else {
        return Vec::new();
    };
    let mut urls = BTreeSet::new();
    for captures in pattern.captures_iter(html) {
        let is_srcset = captures
            .get(1)
            .is_some_and(|name| name.as_str().eq_ignore_ascii_case("srcset"));
        let Some(raw_value) = captures.get(2).or(captures.get(3)).or(captures.get(4)) else {
            continue;
        };
        let value = decode_html_entities(raw_value.as_str());
        let candidates: Vec<String> = if is_srcset {
            srcset_urls(&value)
        } else {
            vec![value.trim().to_string()]
        };
        urls.extend(
            candidates
                .into_iter()
                .filter(|url| url.starts_with(static_url)),
        );
    }
    urls.into_iter().collect()
}

/// Whether the last segment of `path` is a Django manifest name, `name.<12 lowercase hex>.ext`
/// (e.g. `notes/app.19a989e8e2c9.css`), ignoring a query string or fragment.
pub fn is_hashed_static_name(path: &str) -> bool {
    let without_query = path.split(['?', '#']).next().unwrap_or_default();
    let file_name = without_query.rsplit('/').next().unwrap_or_default();
    HASHED_FILE_NAME
        .as_ref()
        .is_some_and(|pattern| pattern.is_match(file_name))
}

/// The URLs of a `srcset` value: comma-separated candidates, each a URL and an optional
/// descriptor (`2x`, `480w`).
fn srcset_urls(srcset: &str) -> Vec<String> {
    srcset
        .split(',')
        .filter_map(|candidate| candidate.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Decodes the entities a template engine puts in attribute values.
fn decode_html_entities(value: &str) -> String {
    if !value.contains('&') {
        return value.to_string();
    }
    value
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        assert!(URL_ATTRIBUTE.is_some());
        assert!(HASHED_FILE_NAME.is_some());
    }
}
