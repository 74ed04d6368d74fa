//! Env-style secret files found by their contents: `NAME=value` lines with secret-looking names, wherever the file
//! lives and whatever it is called (`.envs/.production/.django`, `config/prod.vars`), so that a committed secret
//! file never reaches a context even when its name escapes the deny list's patterns.

use std::io::Read;
use std::path::Path;

/// The pattern reported for a file left out by its contents (what `Excluded::pattern` says).
pub const ENV_FILE_PATTERN: &str = "(contents: NAME=value lines with secret-looking names)";

/// Files larger than this are never env files: they are not read for the check.
const MAX_SNIFF_BYTES: u64 = 64 * 1024;

/// Extensions of source and asset files, whose `NAME=value` lines are code or data, not an env file.
const CODE_EXTENSIONS: &[&str] = &[
    "py", "pyi", "js", "mjs", "cjs", "ts", "tsx", "jsx", "html", "htm", "css", "scss", "sass",
    "less", "json", "toml", "yaml", "yml", "md", "rst", "txt", "svg", "xml", "sh", "bash", "po",
    "mo", "map", "lock", "cfg", "ini", "conf", "sql", "csv", "png", "jpg", "jpeg", "gif", "ico",
    "webp", "woff", "woff2", "ttf", "eot", "otf", "pdf", "gz", "zip", "wasm",
];

/// Parts of a variable name that say its value is a secret.
const SECRET_NAME_PARTS: &[&str] = &[
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "CREDENTIAL",
    "DSN",
];

/// Whether the file at `path` (of `size` bytes, named `relative` in the tree) is an env-style secret file.
/// Unreadable or non-UTF-8 files are not; the walk reports unreadable files on its own.
pub fn is_env_secret_file(path: &Path, relative: &Path, size: u64) -> bool {
    if size == 0 || size > MAX_SNIFF_BYTES {
        return false;
    }
    let extension = relative
        .extension()
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase);
    if extension.is_some_and(|extension| CODE_EXTENSIONS.contains(&extension.as_str())) {
        return false;
    }
    let mut text = String::new();
    let read = std::fs::File::open(path)
        .and_then(|file| file.take(MAX_SNIFF_BYTES).read_to_string(&mut text));
    read.is_ok() && looks_like_env_secrets(&text)
}

/// Most meaningful lines are `NAME=value` (or `export NAME=value`) and at least one name looks secret, with a
/// value that is not empty.
pub fn looks_like_env_secrets(text: &str) -> bool {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    let assignments: Vec<(&str, &str)> = lines.iter().filter_map(|line| assignment(line)).collect();
    if assignments.is_empty() || assignments.len() * 2 < lines.len() {
        return false;
    }
    assignments.iter().any(|(name, value)| {
        let name = name.to_ascii_uppercase();
        !value.is_empty() && SECRET_NAME_PARTS.iter().any(|part| name.contains(part))
    })
}

/// `NAME=value` with a shell-style variable name.
fn assignment(line: &str) -> Option<(&str, &str)> {
    let line = line.strip_prefix("export ").unwrap_or(line);
    let (name, value) = line.split_once('=')?;
    let valid = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && name
            .chars()
            .all(|char| char.is_ascii_alphanumeric() || char == '_');
    valid.then_some((name, value.trim().trim_matches(['"', '\''])))
}

#[cfg(test)]
mod tests {
    use super::looks_like_env_secrets;

    #[track_caller]
    fn check(text: &str, expected: bool) {
        assert_eq!(looks_like_env_secrets(text), expected, "{text:?}");
    }

    #[test]
    fn env_files_with_secret_names() {
        check("DJANGO_SECRET_KEY=abc\nPOSTGRES_PASSWORD=xyz\n", true);
        check("# production\nexport API_TOKEN='t0k3n'\nDEBUG=0\n", true);
        check("SENTRY_DSN=https://key@example.invalid/1\n", true);
        // Not secrets: no secret-looking name, an empty value, or mostly not assignments.
        check("DEBUG=0\nPORT=8000\n", false);
        check("SECRET_KEY=\nDEBUG=1\n", false);
        check(
            "Some prose about SECRET_KEY=abc.\nMore prose.\nAnd more.\n",
            false,
        );
        check("", false);
    }
}
