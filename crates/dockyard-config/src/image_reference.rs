//! Docker image references (`[registry/]repository[:tag][@digest]`): parsing, checking, printing.

use std::fmt;
use std::str::FromStr;

use crate::error::ConfigError;

/// A parsed image reference such as `python:3.12-slim`, `localhost:5000/team/app:v1` or
/// `ghcr.io/owner/app@sha256:<64 hex digits>`.
///
/// Parsing follows Docker's reference grammar but keeps the reference as written: no
/// `docker.io/library/` is added, so `Display` gives back exactly what was parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// The registry host (with its port, if any): the first path component when it contains
    /// `.` or `:` or is `localhost`.
    pub registry: Option<String>,
    /// The repository path, for example `python` or `dockyard/python-runtime`.
    pub repository: String,
    /// The tag, for example `3.12-slim`.
    pub tag: Option<String>,
    /// The digest, `sha256:` followed by 64 lowercase hex digits.
    pub digest: Option<String>,
}

/// The longest tag Docker accepts, in characters: the one limit for tags, versions and rendered
/// tag templates.
pub const MAXIMUM_TAG_LENGTH: usize = 128;
pub(crate) const MAXIMUM_NAME_LENGTH: usize = 255;
const SHA256_HEX_LENGTH: usize = 64;

impl ImageRef {
    /// The name without tag or digest: `[registry/]repository`.
    pub fn name(&self) -> String {
        match &self.registry {
            Some(registry) => format!("{registry}/{}", self.repository),
            None => self.repository.clone(),
        }
    }

    /// The reference to hand to `docker pull`: pinned by digest when there is one
    /// (`name@sha256:...`), else by tag, `latest` when none was written.
    pub fn to_pull_string(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => format!("{}@{digest}", self.name()),
            (None, Some(tag)) => format!("{}:{tag}", self.name()),
            (None, None) => format!("{}:latest", self.name()),
        }
    }

    /// The reference as written, with `:latest` added when it has neither tag nor digest.
    pub fn with_default_tag(&self) -> String {
        if self.tag.is_none() && self.digest.is_none() {
            format!("{}:latest", self.name())
        } else {
            self.to_string()
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(formatter, "{registry}/")?;
        }
        formatter.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(formatter, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(formatter, "@{digest}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for ImageRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl FromStr for ImageRef {
    type Err = ConfigError;

    fn from_str(reference: &str) -> Result<ImageRef, ConfigError> {
        parse_image_reference(reference).map_err(|reason| ConfigError::ImageReference {
            reference: reference.to_owned(),
            reason,
        })
    }
}

/// Parses `reference`, or says what is wrong with it as a lowercase fragment.
pub(crate) fn parse_image_reference(reference: &str) -> Result<ImageRef, String> {
    if reference.is_empty() {
        return Err("the reference is empty".to_owned());
    }
    if let Some(character) = reference
        .chars()
        .find(|character| character.is_whitespace())
    {
        return Err(format!(
            "whitespace ({character:?}) is not allowed in image references"
        ));
    }

    let (name_and_tag, digest) = match reference.split_once('@') {
        Some((name_and_tag, digest)) => (name_and_tag, Some(check_digest(digest)?)),
        None => (reference, None),
    };

    let last_slash = name_and_tag.rfind('/');
    let (name, tag) = match name_and_tag.rfind(':') {
        Some(colon) if last_slash.is_none_or(|slash| colon > slash) => (
            &name_and_tag[..colon],
            Some(check_tag(&name_and_tag[colon + 1..])?),
        ),
        _ => (name_and_tag, None),
    };
    if name.is_empty() {
        return Err("the repository name is empty".to_owned());
    }
    if name.len() > MAXIMUM_NAME_LENGTH {
        return Err(format!(
            "the name is longer than {MAXIMUM_NAME_LENGTH} characters"
        ));
    }

    let (registry, repository) = match name.split_once('/') {
        Some((first, rest)) if looks_like_registry(first) => (Some(check_registry(first)?), rest),
        _ => (None, name),
    };
    check_repository(repository)?;

    Ok(ImageRef {
        registry,
        repository: repository.to_owned(),
        tag,
        digest,
    })
}

/// Checks `prefix`, what goes before the repository in an image name: a registry host (with its
/// port, if any) and an optional namespace path, such as `ghcr.io/owner` or `localhost:5000`.
pub(crate) fn check_registry_prefix(prefix: &str) -> Result<(), String> {
    if let Some(character) = prefix.chars().find(|character| character.is_whitespace()) {
        return Err(format!(
            "whitespace ({character:?}) is not allowed in a registry"
        ));
    }
    let (host, namespace) = match prefix.split_once('/') {
        Some((host, namespace)) => (host, Some(namespace)),
        None => (prefix, None),
    };
    if host.is_empty() {
        return Err("the registry host is empty".to_owned());
    }
    if !looks_like_registry(host) {
        return Err(format!(
            "`{host}` is not a registry host: Docker reads a first component without `.` or `:` \
             that is not `localhost` as a Docker Hub namespace"
        ));
    }
    check_registry(host)?;
    if let Some(namespace) = namespace {
        check_namespace(namespace)?;
    }
    Ok(())
}

/// A registry prefix made from `prefix`: its namespace lowercased, `docker.io/` put before a
/// Docker Hub namespace; only when that is valid and differs from `prefix`.
pub(crate) fn suggest_registry_prefix(prefix: &str) -> Option<String> {
    let (host, namespace) = match prefix.split_once('/') {
        Some((host, namespace)) => (host, Some(namespace)),
        None => (prefix, None),
    };
    let mut suggestion = if looks_like_registry(host) {
        host.to_owned()
    } else {
        format!("docker.io/{}", host.to_ascii_lowercase())
    };
    if let Some(namespace) = namespace {
        suggestion.push('/');
        suggestion.push_str(&namespace.to_ascii_lowercase());
    }
    (suggestion != prefix && check_registry_prefix(&suggestion).is_ok()).then_some(suggestion)
}

/// Whether Docker takes `first_component` of a name for a registry host rather than a path
/// component: it contains `.` or `:`, or is `localhost`.
pub(crate) fn looks_like_registry(first_component: &str) -> bool {
    first_component.contains('.') || first_component.contains(':') || first_component == "localhost"
}

fn check_registry(registry: &str) -> Result<String, String> {
    let (host, port) = if let Some(bracketed) = registry.strip_prefix('[') {
        // An IPv6 address: `[::1]:5000`.
        let Some((address, after)) = bracketed.split_once(']') else {
            return Err(format!("invalid registry host `{registry}`: unclosed `[`"));
        };
        let address_is_plausible = !address.is_empty()
            && address
                .chars()
                .all(|character| character.is_ascii_hexdigit() || character == ':');
        if !address_is_plausible {
            return Err(format!("invalid registry host `{registry}`"));
        }
        match after {
            "" => (None, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return Err(format!("invalid registry host `{registry}`")),
            },
        }
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(registry), None),
        }
    };
    if let Some(host) = host {
        let host_is_valid = !host.is_empty() && host.split('.').all(is_domain_component);
        if !host_is_valid {
            return Err(format!(
                "invalid registry host `{host}`: use letters, digits and `-`, separated by `.`"
            ));
        }
    }
    if let Some(port) = port {
        let port_is_valid =
            !port.is_empty() && port.chars().all(|character| character.is_ascii_digit());
        if !port_is_valid {
            return Err(format!("invalid registry port `{port}`: use digits only"));
        }
    }
    Ok(registry.to_owned())
}

fn is_domain_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-')
        }
        _ => false,
    }
}

fn check_namespace(namespace: &str) -> Result<(), String> {
    if namespace
        .chars()
        .any(|character| character.is_ascii_uppercase())
    {
        return Err("uppercase letters are not allowed in the namespace path".to_owned());
    }
    for component in namespace.split('/') {
        if component.is_empty() {
            return Err(format!("empty path component in namespace `{namespace}`"));
        }
        if !is_repository_path_component(component) {
            return Err(format!(
                "invalid namespace path component `{component}`: use lowercase letters and \
                 digits, separated by `.`, `_`, `__` or dashes"
            ));
        }
    }
    Ok(())
}

/// A repository path made from `repository`: lowercased, each component trimmed of the
/// separators at its ends; only when that is valid and differs from `repository`.
pub(crate) fn suggest_repository(repository: &str) -> Option<String> {
    let suggestion = repository
        .to_ascii_lowercase()
        .split('/')
        .map(|component| {
            component.trim_matches(|character: char| !character.is_ascii_alphanumeric())
        })
        .filter(|component| !component.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    (suggestion != repository && check_repository(&suggestion).is_ok()).then_some(suggestion)
}

/// Checks `repository`, a repository path: lowercase components separated by `/`.
pub(crate) fn check_repository(repository: &str) -> Result<(), String> {
    if repository
        .chars()
        .any(|character| character.is_ascii_uppercase())
    {
        return Err("uppercase letters are not allowed in repository names".to_owned());
    }
    for component in repository.split('/') {
        if component.is_empty() {
            return Err(format!(
                "empty path component in repository name `{repository}`"
            ));
        }
        if !is_repository_path_component(component) {
            return Err(format!(
                "invalid repository path component `{component}`: use lowercase letters and \
                 digits, separated by `.`, `_`, `__` or dashes"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`, Docker's path-component grammar.
fn is_repository_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let is_alphanumeric = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    let mut index = 0;
    let mut expect_alphanumeric_run = true;
    while index < bytes.len() {
        if expect_alphanumeric_run {
            let run_start = index;
            while index < bytes.len() && is_alphanumeric(bytes[index]) {
                index += 1;
            }
            if index == run_start {
                return false;
            }
            expect_alphanumeric_run = false;
        } else {
            let separator_start = index;
            while index < bytes.len() && !is_alphanumeric(bytes[index]) {
                index += 1;
            }
            let separator = &component[separator_start..index];
            let separator_is_valid =
                matches!(separator, "." | "_" | "__") || separator.bytes().all(|byte| byte == b'-');
            if !separator_is_valid {
                return false;
            }
            expect_alphanumeric_run = true;
        }
    }
    // A trailing separator leaves us expecting another alphanumeric run.
    !expect_alphanumeric_run
}

fn check_tag(tag: &str) -> Result<String, String> {
    if tag.is_empty() {
        return Err("the tag after `:` is empty".to_owned());
    }
    if tag.len() > MAXIMUM_TAG_LENGTH {
        return Err(format!(
            "the tag is longer than {MAXIMUM_TAG_LENGTH} characters"
        ));
    }
    if !is_valid_tag(tag) {
        return Err(format!(
            "invalid tag `{tag}`: use letters, digits, `_`, `.` and `-`, not starting with `.` \
             or `-`"
        ));
    }
    Ok(tag.to_owned())
}

/// `[\w][\w.-]{0,127}`, Docker's tag grammar (at most [`MAXIMUM_TAG_LENGTH`] characters).
pub fn is_valid_tag(tag: &str) -> bool {
    let is_word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let bytes = tag.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            is_word(*first)
                && bytes.len() <= MAXIMUM_TAG_LENGTH
                && rest
                    .iter()
                    .all(|byte| is_word(*byte) || *byte == b'.' || *byte == b'-')
        }
        None => false,
    }
}

fn check_digest(digest: &str) -> Result<String, String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!(
            "invalid digest `{digest}`: write `sha256:` followed by {SHA256_HEX_LENGTH} hex digits"
        ));
    };
    if algorithm != "sha256" {
        return Err(format!(
            "unsupported digest algorithm `{algorithm}`: only sha256 is supported"
        ));
    }
    let hex_is_valid = hex.len() == SHA256_HEX_LENGTH
        && hex
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
    if !hex_is_valid {
        return Err(format!(
            "invalid sha256 digest: expected {SHA256_HEX_LENGTH} lowercase hex digits, found {:?}",
            hex
        ));
    }
    Ok(digest.to_owned())
}

#[cfg(test)]
mod tests {
    use super::is_repository_path_component;

    #[test]
    fn repository_path_components_follow_docker_grammar() {
        for good in [
            "a",
            "python",
            "python-runtime",
            "a__b",
            "a---b",
            "a.b",
            "a_b",
            "0x",
        ] {
            assert!(is_repository_path_component(good), "{good}");
        }
        for bad in ["", "-a", "a-", "a..b", "a___b", "a._b", "A", "a b", "_a"] {
            assert!(!is_repository_path_component(bad), "{bad}");
        }
    }
}
