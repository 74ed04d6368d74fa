//! Small grammars for names: project, base, volume, Debian package, environment variable, Python,
//! the few nginx and HTTP ones `[nginx]` and `[[smoke.check]]` use, the trivy versions, package
//! URLs and calendar dates of `[scan]`, and the credential variable names of `[release]`.

/// Longest project name: it ends up in image names, volume names and file names.
pub(crate) const MAXIMUM_PROJECT_NAME_LENGTH: usize = 64;

/// `^[a-z0-9][a-z0-9._-]*$`, at most 64 characters.
pub(crate) fn is_valid_project_name(name: &str) -> bool {
    name.len() <= MAXIMUM_PROJECT_NAME_LENGTH
        && starts_with_and_continues(
            name,
            |byte| byte.is_ascii_lowercase() || byte.is_ascii_digit(),
            |byte| {
                byte.is_ascii_lowercase()
                    || byte.is_ascii_digit()
                    || matches!(byte, b'.' | b'_' | b'-')
            },
        )
}

/// A project name built from `name`: lowercase, other characters turned into `-`.
pub(crate) fn suggest_project_name(name: &str) -> Option<String> {
    let mut suggestion: String = name
        .trim()
        .chars()
        .map(|character| {
            let character = character.to_ascii_lowercase();
            if character.is_ascii_lowercase()
                || character.is_ascii_digit()
                || matches!(character, '.' | '_' | '-')
            {
                character
            } else {
                '-'
            }
        })
        .collect();
    suggestion = suggestion
        .trim_start_matches(|character: char| !character.is_ascii_alphanumeric())
        .to_owned();
    suggestion.truncate(MAXIMUM_PROJECT_NAME_LENGTH);
    (is_valid_project_name(&suggestion) && suggestion != name).then_some(suggestion)
}

/// `^[a-z0-9][a-z0-9_-]*$`, at most 64 characters: base names end up in image tags and files.
pub(crate) fn is_valid_base_name(name: &str) -> bool {
    name.len() <= MAXIMUM_PROJECT_NAME_LENGTH
        && starts_with_and_continues(
            name,
            |byte| byte.is_ascii_lowercase() || byte.is_ascii_digit(),
            |byte| {
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'_' | b'-')
            },
        )
}

/// `^[A-Za-z0-9][A-Za-z0-9_.-]+$`, Docker's volume name grammar.
pub(crate) fn is_valid_volume_name(name: &str) -> bool {
    name.len() >= 2
        && starts_with_and_continues(
            name,
            |byte| byte.is_ascii_alphanumeric(),
            |byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-'),
        )
}

/// `^[a-z0-9][a-z0-9+.-]+$`, Debian's package name grammar.
pub(crate) fn is_valid_debian_package_name(name: &str) -> bool {
    name.len() >= 2
        && starts_with_and_continues(
            name,
            |byte| byte.is_ascii_lowercase() || byte.is_ascii_digit(),
            |byte| {
                byte.is_ascii_lowercase()
                    || byte.is_ascii_digit()
                    || matches!(byte, b'+' | b'.' | b'-')
            },
        )
}

/// `^[a-z0-9][a-z0-9.-]*$`: a Debian suite or codename such as `bookworm` or `stable`.
pub(crate) fn is_valid_debian_suite(suite: &str) -> bool {
    starts_with_and_continues(
        suite,
        |byte| byte.is_ascii_lowercase() || byte.is_ascii_digit(),
        |byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'.' | b'-'),
    )
}

/// `^[A-Za-z_][A-Za-z0-9_]*$`: a name every shell and `docker run -e` accepts.
pub(crate) fn is_valid_environment_variable_name(name: &str) -> bool {
    starts_with_and_continues(
        name,
        |byte| byte.is_ascii_alphabetic() || byte == b'_',
        |byte| byte.is_ascii_alphanumeric() || byte == b'_',
    )
}

/// Whether an environment variable name looks like it holds a secret.
pub fn looks_like_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["SECRET", "PASSWORD", "TOKEN"]
        .iter()
        .any(|word| upper.contains(word))
        || upper.ends_with("_KEY")
}

/// `^[A-Z_][A-Z0-9_]*$`: the conventional name of an environment variable, uppercase only.
pub(crate) fn is_uppercase_environment_variable_name(name: &str) -> bool {
    starts_with_and_continues(
        name,
        |byte| byte.is_ascii_uppercase() || byte == b'_',
        |byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_',
    )
}

/// Whether a value written where an environment variable name belongs looks like a credential
/// itself: a well-known token prefix, a character no name has (`:`, `-`, `/`, `+`, `=` and so on),
/// or lowercase letters mixed with digits.
pub(crate) fn looks_like_credential(value: &str) -> bool {
    const TOKEN_PREFIXES: [&str; 8] = [
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "glpat-",
        "dckr_pat_",
    ];
    let has_token_prefix = TOKEN_PREFIXES
        .iter()
        .any(|prefix| value.starts_with(prefix));
    let has_foreign_character = value
        .bytes()
        .any(|byte| !(byte.is_ascii_alphanumeric() || byte == b'_'));
    let mixes_lowercase_and_digits = value.bytes().any(|byte| byte.is_ascii_lowercase())
        && value.bytes().any(|byte| byte.is_ascii_digit());
    has_token_prefix || has_foreign_character || mixes_lowercase_and_digits
}

/// A Python identifier (ASCII only).
pub(crate) fn is_python_identifier(name: &str) -> bool {
    starts_with_and_continues(
        name,
        |byte| byte.is_ascii_alphabetic() || byte == b'_',
        |byte| byte.is_ascii_alphanumeric() || byte == b'_',
    )
}

/// `mysite.settings`: identifiers separated by dots.
pub(crate) fn is_dotted_python_path(path: &str) -> bool {
    path.split('.').all(is_python_identifier)
}

/// `mysite.wsgi:application`.
pub(crate) fn is_wsgi_reference(reference: &str) -> bool {
    match reference.split_once(':') {
        Some((module, callable)) => is_dotted_python_path(module) && is_python_identifier(callable),
        None => false,
    }
}

/// An `http://` or `https://` URL with something after the scheme and no whitespace.
pub(crate) fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) => !rest.is_empty() && !url.chars().any(char::is_whitespace),
        None => false,
    }
}

/// `^[A-Za-z0-9*.-]+$`: an nginx `server_name`, a host name (wildcards allowed) or IPv4 address.
pub(crate) fn is_valid_server_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'*' | b'.' | b'-'))
}

/// `^[0-9]+[kKmMgG]?$`: an nginx size such as `10m`.
pub(crate) fn is_nginx_size(size: &str) -> bool {
    let digits = size
        .strip_suffix(['k', 'K', 'm', 'M', 'g', 'G'])
        .unwrap_or(size);
    !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
}

/// An HTTP header name: one or more RFC 9110 token characters.
pub(crate) fn is_valid_http_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|byte| {
            byte.is_ascii_alphanumeric()
                || matches!(
                    byte,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// A `Host` header value: not empty, no whitespace or control characters.
pub(crate) fn is_valid_host_header(host: &str) -> bool {
    !host.is_empty()
        && !host
            .chars()
            .any(|character| character.is_whitespace() || character.is_control())
}

/// `checks.database`: keys into a JSON document joined with `.`, none of them empty.
pub(crate) fn is_dotted_json_path(path: &str) -> bool {
    path.split('.').all(|segment| !segment.is_empty())
}

/// `^[0-9]+\.[0-9]+\.[0-9]+$`: a trivy release such as `0.76.0`.
pub(crate) fn is_trivy_version(version: &str) -> bool {
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit()))
}

/// `pkg:` and more, without whitespace: a package URL or the start of one.
pub(crate) fn is_package_url_prefix(package: &str) -> bool {
    package
        .strip_prefix("pkg:")
        .is_some_and(|rest| !rest.is_empty())
        && !package.chars().any(char::is_whitespace)
}

/// The year, month and day of `YYYY-MM-DD`, by its shape alone: `2026-13-01` gives `(2026, 13, 1)`.
pub(crate) fn split_iso_date(date: &str) -> Option<(u16, u8, u8)> {
    let mut parts = date.split('-');
    let (Some(year), Some(month), Some(day), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let all_digits = |part: &str, length: usize| {
        part.len() == length && part.bytes().all(|byte| byte.is_ascii_digit())
    };
    if !(all_digits(year, 4) && all_digits(month, 2) && all_digits(day, 2)) {
        return None;
    }
    Some((year.parse().ok()?, month.parse().ok()?, day.parse().ok()?))
}

/// The day `year`-`month`-`day`, when the Gregorian calendar has it: no 13th month, no
/// February 30th.
pub(crate) fn real_day(year: u16, month: u8, day: u8) -> Option<jiff::civil::Date> {
    let year = i16::try_from(year).ok()?;
    let month = i8::try_from(month).ok()?;
    let day = i8::try_from(day).ok()?;
    jiff::civil::Date::new(year, month, day).ok()
}

fn starts_with_and_continues(
    text: &str,
    first: impl Fn(u8) -> bool,
    rest: impl Fn(u8) -> bool,
) -> bool {
    match text.as_bytes().split_first() {
        Some((head, tail)) => first(*head) && tail.iter().all(|byte| rest(*byte)),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_grammars() {
        assert!(is_valid_project_name("dockyard-sample"));
        assert!(is_valid_project_name("a.b_c-1"));
        assert!(!is_valid_project_name("-a"));
        assert!(!is_valid_project_name("My App"));
        assert!(!is_valid_project_name(&"a".repeat(65)));
        assert_eq!(suggest_project_name("My App"), Some("my-app".to_owned()));
        assert!(is_valid_volume_name("dockyard-sample-pip-cache"));
        assert!(!is_valid_volume_name("a"));
        assert!(!is_valid_volume_name("pip cache"));
        assert!(is_valid_debian_package_name("libc6-dev"));
        assert!(is_valid_debian_package_name("g++"));
        assert!(!is_valid_debian_package_name("Python3"));
        assert!(is_valid_environment_variable_name("DJANGO_ALLOWED_HOSTS"));
        assert!(!is_valid_environment_variable_name("1X"));
        assert!(!is_valid_environment_variable_name("MY-VAR"));
        assert!(looks_like_secret_name("DJANGO_SECRET_KEY"));
        assert!(looks_like_secret_name("api_key"));
        assert!(looks_like_secret_name("GITHUB_TOKEN"));
        assert!(!looks_like_secret_name("KEYBOARD"));
        assert!(is_uppercase_environment_variable_name(
            "DOCKYARD_REGISTRY_PASSWORD"
        ));
        assert!(is_uppercase_environment_variable_name("_X1"));
        assert!(!is_uppercase_environment_variable_name("registry_password"));
        assert!(!is_uppercase_environment_variable_name("1X"));
        assert!(!is_uppercase_environment_variable_name(""));
        assert!(looks_like_credential(
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
        ));
        assert!(looks_like_credential("user:hunter2"));
        assert!(looks_like_credential("hunter2"));
        assert!(!looks_like_credential("registry_password"));
        assert!(!looks_like_credential("REGISTRY_PASSWORD_2"));
        assert!(is_wsgi_reference("sample.wsgi:application"));
        assert!(!is_wsgi_reference("sample.wsgi"));
        assert!(!is_wsgi_reference("sample..wsgi:app"));
        assert!(is_http_url("https://github.com/a/b"));
        assert!(!is_http_url("github.com/a/b"));
        assert!(is_valid_server_name("localhost"));
        assert!(is_valid_server_name("127.0.0.1"));
        assert!(is_valid_server_name("*.example.com"));
        assert!(!is_valid_server_name("my host"));
        assert!(!is_valid_server_name(""));
        assert!(!is_valid_server_name("example.com:80"));
        assert!(is_nginx_size("10m"));
        assert!(is_nginx_size("1024"));
        assert!(is_nginx_size("2G"));
        assert!(!is_nginx_size("m"));
        assert!(!is_nginx_size("10 MB"));
        assert!(!is_nginx_size("10mb"));
        assert!(!is_nginx_size(""));
        assert!(is_valid_http_header_name("content-type"));
        assert!(is_valid_http_header_name("X-Request-Id"));
        assert!(!is_valid_http_header_name("content type"));
        assert!(!is_valid_http_header_name("content-type:"));
        assert!(is_valid_host_header("localhost:8080"));
        assert!(!is_valid_host_header("local host"));
        assert!(is_dotted_json_path("checks.database"));
        assert!(is_dotted_json_path("status"));
        assert!(!is_dotted_json_path("checks..database"));
        assert!(!is_dotted_json_path(""));
        assert!(is_trivy_version("0.76.0"));
        assert!(is_trivy_version("10.0.12"));
        assert!(!is_trivy_version("v0.76.0"));
        assert!(!is_trivy_version("0.76"));
        assert!(!is_trivy_version("0.76.0-rc1"));
        assert!(!is_trivy_version("0..0"));
        assert!(is_package_url_prefix("pkg:deb/debian/bash"));
        assert!(is_package_url_prefix("pkg:pypi"));
        assert!(!is_package_url_prefix("pkg:"));
        assert!(!is_package_url_prefix("bash"));
        assert!(!is_package_url_prefix("pkg:deb/debian/bash bash"));
    }

    #[test]
    fn dates_have_a_shape_and_must_exist() {
        assert_eq!(split_iso_date("2026-12-31"), Some((2026, 12, 31)));
        assert_eq!(split_iso_date("2026-13-01"), Some((2026, 13, 1)));
        assert_eq!(split_iso_date("2026-1-01"), None);
        assert_eq!(split_iso_date("2026-12-31T10:00:00"), None);
        assert_eq!(split_iso_date("31/12/2026"), None);
        assert_eq!(split_iso_date("2026-12-31-01"), None);
        assert_eq!(split_iso_date(""), None);
        assert!(real_day(2026, 12, 31).is_some());
        assert!(real_day(2028, 2, 29).is_some());
        assert!(real_day(2000, 2, 29).is_some());
        assert!(real_day(1900, 2, 29).is_none());
        assert!(real_day(2026, 2, 29).is_none());
        assert!(real_day(2026, 2, 30).is_none());
        assert!(real_day(2026, 4, 31).is_none());
        assert!(real_day(2026, 13, 1).is_none());
        assert!(real_day(2026, 0, 1).is_none());
        assert!(real_day(2026, 1, 0).is_none());
    }
}
