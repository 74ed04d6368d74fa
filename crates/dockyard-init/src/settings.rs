//! Reading Django settings without running them: a settings module and the project modules it imports, the
//! top-level assignments in them, and the few path expressions `STATIC_ROOT` is written with.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use crate::{Evidence, InitError};

/// A Python source file of the project: its path relative to the inspected folder, and its text.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
}

impl SourceFile {
    /// The first line matching `pattern`, as evidence.
    pub(crate) fn find(&self, pattern: &Regex) -> Option<Evidence> {
        self.text
            .lines()
            .position(|line| !line.trim_start().starts_with('#') && pattern.is_match(line))
            .map(|index| Evidence::new(&self.path, index + 1))
    }
}

/// Reads `root/relative`; `None` when it is not a file.
pub(crate) fn read(root: &Path, relative: &Path) -> Result<Option<SourceFile>, InitError> {
    let path = root.join(relative);
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).map_err(|source| InitError::Read { path, source })?;
    Ok(Some(SourceFile {
        path: relative.to_path_buf(),
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }))
}

/// The file of the dotted module `module` below `app` (relative to the root): `a/b.py` or `a/b/__init__.py`.
pub(crate) fn module_file(root: &Path, app: &Path, module: &str) -> Option<PathBuf> {
    let relative: PathBuf = app.join(module.split('.').collect::<PathBuf>());
    let file = relative.with_extension("py");
    if root.join(&file).is_file() {
        return Some(file);
    }
    let package = relative.join("__init__.py");
    root.join(&package).is_file().then_some(package)
}

/// Whether `module` names a file of the project below `app`.
pub(crate) fn module_exists(root: &Path, app: &Path, module: &str) -> bool {
    module_file(root, app, module).is_some()
}

static IMPORT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:from\s+(\.*)([\w.]*)\s+import|import\s+([\w.]+))").expect("a valid regex")
});

/// The settings module and every project module it imports, transitively, the module itself first.
pub(crate) fn load(root: &Path, app: &Path, module: &str) -> Result<Vec<SourceFile>, InitError> {
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    let mut pending = vec![module.to_owned()];
    while let Some(module) = pending.pop() {
        let Some(path) = module_file(root, app, &module) else {
            continue;
        };
        if !seen.insert(path.clone()) {
            continue;
        }
        let Some(file) = read(root, &path)? else {
            continue;
        };
        let package: Vec<&str> = if path.ends_with("__init__.py") {
            module.split('.').collect()
        } else {
            module
                .split('.')
                .collect::<Vec<_>>()
                .split_last()
                .map(|(_, parent)| parent.to_vec())
                .unwrap_or_default()
        };
        let mut imported = Vec::new();
        for captures in file.text.lines().filter_map(|line| IMPORT.captures(line)) {
            if let Some(absolute) = captures.get(3) {
                imported.push(absolute.as_str().to_owned());
                continue;
            }
            let dots = captures.get(1).map_or(0, |dots| dots.as_str().len());
            let name = captures.get(2).map_or("", |name| name.as_str());
            if dots == 0 {
                imported.push(name.to_owned());
            } else if dots <= package.len() + 1 {
                let mut parts: Vec<&str> = package[..package.len() + 1 - dots].to_vec();
                parts.extend(name.split('.').filter(|part| !part.is_empty()));
                imported.push(parts.join("."));
            }
        }
        // Depth first, in the order written: the module's own imports come before those of later siblings.
        pending.extend(imported.into_iter().rev());
        files.push(file);
    }
    Ok(files)
}

static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(?::[^=]+)?=\s*([^=].*)$").expect("a valid regex")
});

/// The first top-level assignment to `name` in `files` (the settings module's own before what it imports).
pub(crate) fn assignment<'files>(
    files: &'files [SourceFile],
    name: &str,
) -> Option<(&'files SourceFile, usize, String)> {
    files.iter().find_map(|file| {
        file.text.lines().enumerate().find_map(|(index, line)| {
            let captures = ASSIGNMENT.captures(line)?;
            (&captures[1] == name).then(|| {
                (
                    file,
                    index + 1,
                    strip_trailing_comment(&captures[2]).trim().to_owned(),
                )
            })
        })
    })
}

fn strip_trailing_comment(expression: &str) -> &str {
    let mut quote = None;
    for (index, character) in expression.char_indices() {
        match (quote, character) {
            (None, '"' | '\'') => quote = Some(character),
            (Some(open), _) if character == open => quote = None,
            (None, '#') => return &expression[..index],
            _ => {}
        }
    }
    expression
}

/// A path a settings expression evaluates to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathValue {
    /// Inside the inspected folder, relative to it.
    Inside(PathBuf),
    /// An absolute path written in the settings.
    Absolute(String),
}

static STRING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^[rbuf]?["']([^"']*)["']$"#).expect("a valid regex"));
static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*$").expect("a valid regex"));
static PATH_FILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:pathlib\.)?Path\(__file__\)(?:\.(?:resolve|absolute)\([^)]*\))*((?:\.parent)*)(?:\.parents\[(\d+)\])?$")
        .expect("a valid regex")
});
static ENVIRON_PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^environ\.Path\(__file__\)\s*-\s*(\d+)$").expect("a valid regex")
});

/// Evaluates the path `expression` written in `file`, following names through `files`; `None` when it is not one
/// of the forms settings use (`Path(__file__).resolve().parent`, `os.path.dirname(...)`, `environ.Path(__file__) - 2`,
/// `BASE_DIR / "static"`, `os.path.join(BASE_DIR, "static")`, `BASE_DIR.path("static")`, a string).
pub(crate) fn evaluate_path(
    files: &[SourceFile],
    file: &Path,
    expression: &str,
    depth: usize,
) -> Option<PathValue> {
    if depth > 16 {
        return None;
    }
    let expression = expression.trim();
    let evaluate = |inner: &str| evaluate_path(files, file, inner, depth + 1);
    if let Some(inner) = call_argument(expression, "str") {
        return evaluate(inner);
    }
    if let Some(captures) = STRING.captures(expression) {
        let text = &captures[1];
        return text
            .starts_with('/')
            .then(|| PathValue::Absolute(text.to_owned()));
    }
    let file_path = || Some(PathValue::Inside(file.to_path_buf()));
    if expression == "__file__" {
        return file_path();
    }
    if let Some(captures) = PATH_FILE.captures(expression) {
        let parents = captures[1].matches(".parent").count()
            + captures
                .get(2)
                .map_or(0, |index| index.as_str().parse::<usize>().unwrap_or(0) + 1);
        return climb(file_path()?, parents);
    }
    if let Some(captures) = ENVIRON_PATH.captures(expression) {
        return climb(file_path()?, captures[1].parse().ok()?);
    }
    for function in ["os.path.dirname", "dirname"] {
        if let Some(inner) = call_argument(expression, function) {
            return climb(evaluate(inner)?, 1);
        }
    }
    for function in ["os.path.abspath", "os.path.realpath", "abspath", "realpath"] {
        if let Some(inner) = call_argument(expression, function) {
            return evaluate(inner);
        }
    }
    if let Some(inner) = call_argument(expression, "os.path.join") {
        let mut parts = split_arguments(inner).into_iter();
        let base = evaluate(parts.next()?)?;
        return parts.try_fold(base, |base, part| {
            join(base, &STRING.captures(part.trim())?[1])
        });
    }
    if let Some((left, right)) = expression.rsplit_once(" / ").or_else(|| {
        expression
            .rsplit_once('/')
            .filter(|_| !expression.starts_with(['"', '\'']))
    }) {
        let right = STRING.captures(right.trim())?[1].to_owned();
        return join(evaluate(left)?, &right);
    }
    if let Some((name, inner)) = expression.split_once(".path(") {
        let inner = inner.strip_suffix(')')?;
        return join(evaluate(name)?, &STRING.captures(inner.trim())?[1]);
    }
    if NAME.is_match(expression) {
        let (defined_in, _, value) = assignment(files, expression)?;
        return evaluate_path(files, &defined_in.path, &value, depth + 1);
    }
    None
}

/// `inner` when `expression` is `function(inner)`.
fn call_argument<'expression>(
    expression: &'expression str,
    function: &str,
) -> Option<&'expression str> {
    let inner = expression
        .strip_prefix(function)?
        .strip_prefix('(')?
        .strip_suffix(')')?;
    // `f(a)(b)` or `f(a) + g(b)` are not one call.
    let mut depth = 0usize;
    for character in inner.chars() {
        match character {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1)?,
            _ => {}
        }
    }
    (depth == 0).then_some(inner)
}

/// The top-level comma-separated arguments of a call.
pub(crate) fn split_arguments(arguments: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (index, character) in arguments.char_indices() {
        match character {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&arguments[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&arguments[start..]);
    parts
        .into_iter()
        .filter(|part| !part.trim().is_empty())
        .collect()
}

fn climb(value: PathValue, levels: usize) -> Option<PathValue> {
    match value {
        PathValue::Inside(mut path) => {
            for _ in 0..levels {
                if !path.pop() {
                    return None;
                }
            }
            Some(PathValue::Inside(path))
        }
        PathValue::Absolute(text) => {
            let mut path = PathBuf::from(text);
            for _ in 0..levels {
                path.pop();
            }
            Some(PathValue::Absolute(path.display().to_string()))
        }
    }
}

fn join(value: PathValue, part: &str) -> Option<PathValue> {
    match value {
        PathValue::Inside(path) => Some(PathValue::Inside(path.join(part))),
        PathValue::Absolute(text) => Some(PathValue::Absolute(
            Path::new(&text).join(part).display().to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluates `expression` written in `settings/base.py`, with `definitions` as that file's other lines.
    fn check(definitions: &str, expression: &str, expected: Option<&str>) {
        let files = vec![SourceFile {
            path: PathBuf::from("project/settings/base.py"),
            text: definitions.to_owned(),
        }];
        let value = evaluate_path(&files, &files[0].path, expression, 0).map(|value| match value {
            PathValue::Inside(path) => format!("inside {}", path.display()),
            PathValue::Absolute(text) => format!("absolute {text}"),
        });
        assert_eq!(value.as_deref(), expected, "{expression}");
    }

    #[test]
    fn static_root_expressions() {
        check(
            "",
            "Path(__file__).resolve().parent.parent.parent / \"static\"",
            Some("inside static"),
        );
        check(
            "",
            "Path(__file__).resolve(strict=True).parents[2] / 'staticfiles'",
            Some("inside staticfiles"),
        );
        check(
            "BASE_DIR = Path(__file__).parent.parent\n",
            "BASE_DIR / \"assets\" / \"out\"",
            Some("inside project/assets/out"),
        );
        check(
            "BASE_DIR = Path(__file__).parent.parent  # the project\n",
            "str(BASE_DIR / 'static')",
            Some("inside project/static"),
        );
        check(
            "PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\nBASE_DIR = os.path.dirname(PROJECT_DIR)\n",
            "os.path.join(BASE_DIR, \"staticfiles\")",
            Some("inside staticfiles"),
        );
        check(
            "BASE_DIR = environ.Path(__file__) - 3\n",
            "BASE_DIR.path(\"static\")",
            Some("inside static"),
        );
        check(
            "",
            "\"/public_collected\"",
            Some("absolute /public_collected"),
        );
        check(
            "",
            "os.path.join(\"/srv\", \"static\")",
            Some("absolute /srv/static"),
        );
        check("", "\"static\"", None);
        check("", "env(\"STATIC_ROOT\")", None);
        check("", "Path(__file__).parents[5] / \"static\"", None);
    }
}
