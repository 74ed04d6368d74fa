//! Tag templates of `[release]`: tag characters around the placeholders `{version}`, `{git_sha}`
//! and `{project}`, checked when resolving and filled in for each release.

/// The placeholders a tag template may hold, braces included.
pub(crate) const PLACEHOLDERS: [&str; 3] = ["{version}", "{git_sha}", "{project}"];

/// What the placeholders stand for in one rendering.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TagValues<'a> {
    /// For `{version}`.
    pub(crate) version: &'a str,
    /// For `{git_sha}`.
    pub(crate) git_sha: &'a str,
    /// For `{project}`.
    pub(crate) project: &'a str,
}

impl TagValues<'_> {
    fn value_of(&self, placeholder: &str) -> Option<&str> {
        match placeholder {
            "{version}" => Some(self.version),
            "{git_sha}" => Some(self.git_sha),
            "{project}" => Some(self.project),
            _ => None,
        }
    }
}

/// A piece of a tag template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TemplatePiece<'a> {
    /// Text kept as written.
    Literal(&'a str),
    /// A placeholder, known or not, braces included: `{version}`.
    Placeholder(&'a str),
}

/// `template` cut into literal text and placeholders, or what is wrong with its braces.
pub(crate) fn split_tag_template(template: &str) -> Result<Vec<TemplatePiece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(brace) = rest.find(['{', '}']) {
        if brace > 0 {
            pieces.push(TemplatePiece::Literal(&rest[..brace]));
        }
        if rest[brace..].starts_with('}') {
            return Err("`}` without a matching `{`".to_owned());
        }
        let after_open = &rest[brace + 1..];
        match after_open.find(['{', '}']) {
            Some(close) if after_open[close..].starts_with('}') => {
                pieces.push(TemplatePiece::Placeholder(&rest[brace..brace + close + 2]));
                rest = &after_open[close + 1..];
            }
            _ => return Err("`{` without a matching `}`".to_owned()),
        }
    }
    if !rest.is_empty() {
        pieces.push(TemplatePiece::Literal(rest));
    }
    Ok(pieces)
}

/// `[A-Za-z0-9_.-]`: a character Docker allows in a tag.
pub(crate) fn is_tag_character(character: char) -> bool {
    character.is_ascii_alphanumeric() || matches!(character, '_' | '.' | '-')
}

/// `template` with every known placeholder replaced; anything else is kept as written.
pub(crate) fn render_tag_template(template: &str, values: &TagValues<'_>) -> String {
    let mut rendered = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let replacement = rest[open..].find('}').and_then(|close| {
            let value = values.value_of(&rest[open..=open + close])?;
            Some((value, open + close + 1))
        });
        match replacement {
            Some((value, end)) => {
                rendered.push_str(&rest[..open]);
                rendered.push_str(value);
                rest = &rest[end..];
            }
            None => {
                rendered.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    rendered.push_str(rest);
    rendered
}

#[cfg(test)]
mod tests {
    use super::{render_tag_template, split_tag_template, TagValues, TemplatePiece};

    #[test]
    fn templates_split_into_literals_and_placeholders() {
        assert_eq!(
            split_tag_template("sha-{git_sha}"),
            Ok(vec![
                TemplatePiece::Literal("sha-"),
                TemplatePiece::Placeholder("{git_sha}")
            ])
        );
        assert_eq!(
            split_tag_template("{version}{verison}x"),
            Ok(vec![
                TemplatePiece::Placeholder("{version}"),
                TemplatePiece::Placeholder("{verison}"),
                TemplatePiece::Literal("x"),
            ])
        );
        assert_eq!(
            split_tag_template("latest"),
            Ok(vec![TemplatePiece::Literal("latest")])
        );
        assert_eq!(split_tag_template(""), Ok(vec![]));
        assert_eq!(
            split_tag_template("{}"),
            Ok(vec![TemplatePiece::Placeholder("{}")])
        );
        assert!(split_tag_template("{version").is_err());
        assert!(split_tag_template("{ver{sion}").is_err());
        assert!(split_tag_template("version}").is_err());
    }

    #[test]
    fn rendering_replaces_known_placeholders_only() {
        let values = TagValues {
            version: "1.2.3",
            git_sha: "0123456789ab",
            project: "shop",
        };
        assert_eq!(
            render_tag_template("{project}-{version}-sha-{git_sha}", &values),
            "shop-1.2.3-sha-0123456789ab"
        );
        assert_eq!(render_tag_template("latest", &values), "latest");
        assert_eq!(
            render_tag_template("{verison}-{version}", &values),
            "{verison}-1.2.3"
        );
        assert_eq!(render_tag_template("{{version}}", &values), "{1.2.3}");
        assert_eq!(render_tag_template("{version", &values), "{version");
    }
}
