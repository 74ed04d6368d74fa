//! pip requirements files: which exist, what each includes (`-r`, `-c`), and whether they pin `--hash`es.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::files::{join_inside, read_optional};
use crate::PythonError;

/// One requirements file of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementsFile {
    /// Relative to the project folder.
    pub path: PathBuf,
    /// What its name says it is for.
    pub role: RequirementsRole,
    /// The files it includes, in order.
    pub includes: Vec<Include>,
    /// Whether any requirement in it carries a `--hash` pin.
    pub hashes: bool,
    /// Whether another file of the project includes it (`-r` or `-c`).
    pub included: bool,
}

/// What a requirements file is for, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RequirementsRole {
    /// What the application needs to run: `requirements.txt`, `base.txt`, `production.txt`, ...
    Production,
    /// Tests and development: names holding `dev`, `test`, `local`, `lint`, `ci` or `docs`.
    Development,
}

/// One `-r FILE` or `-c FILE` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// Requirements or constraints.
    pub kind: IncludeKind,
    /// The included file, relative to the project folder.
    pub path: PathBuf,
    /// The including line, 1-based.
    pub line: usize,
}

/// The two ways a requirements file names another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeKind {
    /// `-r FILE` / `--requirement FILE`: its requirements are installed too.
    Requirements,
    /// `-c FILE` / `--constraint FILE`: its pins constrain, nothing more is installed.
    Constraints,
}

const DEVELOPMENT_WORDS: &[&str] = &["dev", "test", "local", "lint", "ci", "docs"];

impl RequirementsRole {
    /// The role the file name suggests.
    fn of(path: &Path) -> Self {
        let stem = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let words: Vec<&str> = stem.split(['-', '_', '.']).collect();
        if words
            .iter()
            .any(|word| DEVELOPMENT_WORDS.iter().any(|dev| word.starts_with(dev)))
        {
            Self::Development
        } else {
            Self::Production
        }
    }
}

/// The requirements files at the usual places (`*requirements*.txt` at the top, `requirements/*.txt`) and every
/// file they include, sorted by path; empty when there are none.
pub(crate) fn find(root: &Path) -> Result<Vec<RequirementsFile>, PythonError> {
    let mut pending: BTreeSet<PathBuf> = BTreeSet::new();
    let listing = |folder: &Path| -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(root.join(folder)) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|entry| entry.path().is_file())
            .map(|entry| folder.join(entry.file_name()))
            .collect()
    };
    for path in listing(Path::new("")) {
        let name = path.to_string_lossy().to_lowercase();
        if name.contains("requirements") && name.ends_with(".txt") {
            pending.insert(path);
        }
    }
    for path in listing(Path::new("requirements")) {
        if path.extension().is_some_and(|extension| extension == "txt") {
            pending.insert(path);
        }
    }
    let mut files: Vec<RequirementsFile> = Vec::new();
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    while let Some(path) = pending.pop_first() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let Some(text) = read_optional(root, &path)? else {
            continue;
        };
        let file = parse(root, &path, &text)?;
        pending.extend(file.includes.iter().map(|include| include.path.clone()));
        files.push(file);
    }
    let included: BTreeSet<PathBuf> = files
        .iter()
        .flat_map(|file| file.includes.iter().map(|include| include.path.clone()))
        .collect();
    for file in &mut files {
        file.included = included.contains(&file.path);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// `files` (relative to `root`) and every file they include, transitively, sorted by path: what must travel with them
/// for pip to read them elsewhere.
pub fn requirements_closure(
    root: &Path,
    files: &[PathBuf],
) -> Result<Vec<RequirementsFile>, PythonError> {
    let mut pending: BTreeSet<PathBuf> = files.iter().cloned().collect();
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    let mut closure = Vec::new();
    while let Some(path) = pending.pop_first() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let text = read_optional(root, &path)?.ok_or_else(|| PythonError::Read {
            path: path.clone(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        })?;
        let file = parse(root, &path, &text)?;
        pending.extend(file.includes.iter().map(|include| include.path.clone()));
        closure.push(file);
    }
    closure.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(closure)
}

/// One requirements file: its includes, resolved against its folder as pip does, and whether it pins hashes.
pub(crate) fn parse(root: &Path, path: &Path, text: &str) -> Result<RequirementsFile, PythonError> {
    let folder = path.parent().unwrap_or(Path::new(""));
    let mut includes = Vec::new();
    let mut hashes = false;
    for (line, logical) in logical_lines(text) {
        let mut words = logical.split_whitespace();
        while let Some(word) = words.next() {
            hashes |= word.starts_with("--hash");
            let Some((kind, value)) = include_option(word, &mut words) else {
                continue;
            };
            if value.contains("://") {
                continue; // A URL: pip fetches it; nothing in the project to follow.
            }
            let Some(resolved) = join_inside(folder, &value) else {
                return Err(PythonError::IncludeOutside {
                    file: path.to_path_buf(),
                    line,
                    include: value,
                });
            };
            if !root.join(&resolved).is_file() {
                return Err(PythonError::MissingInclude {
                    file: path.to_path_buf(),
                    line,
                    include: value,
                });
            }
            includes.push(Include {
                kind,
                path: resolved,
                line,
            });
        }
    }
    Ok(RequirementsFile {
        path: path.to_path_buf(),
        role: RequirementsRole::of(path),
        includes,
        hashes,
        included: false,
    })
}

/// `-r X`, `-rX`, `--requirement X`, `--requirement=X` and the same for `-c` / `--constraint`.
fn include_option<'text>(
    word: &str,
    rest: &mut impl Iterator<Item = &'text str>,
) -> Option<(IncludeKind, String)> {
    let forms = [
        ("-r", "--requirement", IncludeKind::Requirements),
        ("-c", "--constraint", IncludeKind::Constraints),
    ];
    for (short, long, kind) in forms {
        if word == short || word == long {
            return rest.next().map(|value| (kind, value.to_owned()));
        }
        if let Some(value) = word
            .strip_prefix(long)
            .and_then(|value| value.strip_prefix('='))
        {
            return Some((kind, value.to_owned()));
        }
        if let Some(value) = word
            .strip_prefix(short)
            .filter(|value| !value.is_empty() && !word.starts_with("--"))
        {
            return Some((kind, value.to_owned()));
        }
    }
    None
}

/// Lines with `\` continuations joined and comments removed, each with the number of its first line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let without_comment = strip_comment(raw);
        let (content, continues) = match without_comment.trim_end().strip_suffix('\\') {
            Some(content) => (content, true),
            None => (without_comment, false),
        };
        let entry = current.get_or_insert_with(|| (index + 1, String::new()));
        entry.1.push(' ');
        entry.1.push_str(content);
        if !continues {
            lines.extend(current.take());
        }
    }
    lines.extend(current);
    lines
}

/// The line without its comment: `#` at the start or after whitespace, as pip reads it.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        if *byte == b'#' && (index == 0 || bytes[index - 1].is_ascii_whitespace()) {
            return &line[..index];
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `files` into a fresh folder and renders what [`find`] made of them, one file a line.
    fn check(files: &[(&str, &str)], expected: &str) {
        let folder = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = folder.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let rendered = match find(folder.path()) {
            Ok(found) => found
                .iter()
                .map(|file| {
                    let includes: Vec<String> = file
                        .includes
                        .iter()
                        .map(|include| {
                            format!(
                                "{:?}:{}@{}",
                                include.kind,
                                include.path.display(),
                                include.line
                            )
                        })
                        .collect();
                    format!(
                        "{} {:?}{}{} [{}]",
                        file.path.display(),
                        file.role,
                        if file.hashes { " hashes" } else { "" },
                        if file.included { " included" } else { "" },
                        includes.join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Err(error) => format!("error: {error}"),
        };
        assert_eq!(rendered, expected, "files: {files:?}");
    }

    #[test]
    fn a_closure_follows_includes_from_the_files_given() {
        let folder = tempfile::tempdir().unwrap();
        for (path, text) in [
            ("app/requirements.txt", "-r ../requirements/base.txt\n"),
            ("requirements/base.txt", "-c constraints.txt\ndjango\n"),
            (
                "requirements/constraints.txt",
                "django<6 --hash=sha256:abc\n",
            ),
            ("requirements/local.txt", "pytest\n"),
        ] {
            let path = folder.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let closure =
            requirements_closure(folder.path(), &[PathBuf::from("app/requirements.txt")]).unwrap();
        let listed: Vec<String> = closure
            .iter()
            .map(|file| {
                format!(
                    "{}{}",
                    file.path.display(),
                    if file.hashes { " hashes" } else { "" }
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                "app/requirements.txt",
                "requirements/base.txt",
                "requirements/constraints.txt hashes"
            ]
        );
    }

    #[test]
    fn requirements_files_and_their_includes() {
        check(&[("README.md", "no requirements")], "");
        check(
            &[("requirements.txt", "django==5.2\n")],
            "requirements.txt Production []",
        );
        check(
            &[
                ("requirements.txt", "-r requirements/base.txt\n"),
                (
                    "requirements/base.txt",
                    "django==5.2 # pinned\n-c ../constraints.txt\n",
                ),
                ("requirements/local.txt", "-r base.txt\npytest\n"),
                ("constraints.txt", "urllib3<3\n"),
            ],
            "constraints.txt Production included []\n\
             requirements/base.txt Production included [Constraints:constraints.txt@2]\n\
             requirements/local.txt Development [Requirements:requirements/base.txt@1]\n\
             requirements.txt Production [Requirements:requirements/base.txt@1]",
        );
        check(
            &[
                ("requirements-dev.txt", "--requirement=requirements.txt\n-rrequirements.txt\n"),
                ("requirements.txt", "django==5.2 \\\n    --hash=sha256:abc \\\n    --hash=sha256:def\n"),
            ],
            "requirements-dev.txt Development [Requirements:requirements.txt@1, Requirements:requirements.txt@2]\n\
             requirements.txt Production hashes included []",
        );
        check(
            &[(
                "requirements.txt",
                "# -r commented.txt\nfoo#bar\n-r https://example.com/r.txt\n",
            )],
            "requirements.txt Production []",
        );
        check(
            &[("requirements.txt", "django\n-r missing.txt\n")],
            "error: requirements.txt:2: `missing.txt` names a file that does not exist",
        );
        check(
            &[("requirements.txt", "-c ../../outside.txt\n")],
            "error: requirements.txt:1: `../../outside.txt` leaves the project folder",
        );
        check(
            &[
                ("requirements/test.txt", "-r prod.txt"),
                ("requirements/prod.txt", "-r test.txt"),
            ],
            "requirements/prod.txt Production included [Requirements:requirements/test.txt@1]\n\
             requirements/test.txt Development included [Requirements:requirements/prod.txt@1]",
        );
    }
}
