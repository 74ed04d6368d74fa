//! The folders a front-end build's own configuration says it writes: webpack's `output.path`, vite's `outDir`,
//! esbuild's `outfile`/`outdir`, rollup's `dir`/`file`, and the `-o`/`--output`/`--outdir` of the CLIs the `build`
//! script runs. Read from the text (nothing is run), following `path.resolve`/`path.join`, `__dirname` and the
//! constants of the same file.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use crate::error::InitError;
use crate::settings;
use crate::Evidence;

/// The configuration files read, in the asset folder.
const CONFIG_FILES: &[&str] = &[
    "webpack.config.js",
    "webpack.config.mjs",
    "webpack.config.cjs",
    "webpack.config.ts",
    "vite.config.js",
    "vite.config.mjs",
    "vite.config.ts",
    "esbuild.config.js",
    "esbuild.config.mjs",
    "esbuild.config.cjs",
    "rollup.config.js",
    "rollup.config.mjs",
];

/// One output folder the build names, as a project path, with where and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Named {
    pub(crate) path: PathBuf,
    pub(crate) evidence: Evidence,
    /// The setting that names it (`output.path`, `outDir`, `-o`).
    pub(crate) setting: String,
}

static KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)\b(outDir|outdir|outfile|dir|file)\s*:\s*(.+?)\s*,?\s*(?://.*)?$")
        .expect("a valid regex")
});
static OUTPUT_BLOCK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\boutput\s*:\s*\{").expect("a valid regex"));
static PATH_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^\s*path\s*:\s*(.+?)\s*,?\s*$").expect("a valid regex"));
static CLI_OUTPUT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?:^|\s)(-o|--output|--outdir|--out-dir|--outDir|--outfile)(?:\s+|=)["']?([^\s"'&;|]+)"#,
    )
    .expect("a valid regex")
});

/// Every output folder the build's configuration files and `build` script name, relative to the project folder.
pub(crate) fn outputs(
    root: &Path,
    folder: &Path,
    build_script: Option<&str>,
) -> Result<Vec<Named>, InitError> {
    let mut found = Vec::new();
    for name in CONFIG_FILES {
        let file = folder.join(name);
        let Some(source) = settings::read(root, &file)? else {
            continue;
        };
        let text = &source.text;
        let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
        let mut keys: Vec<(String, usize, String)> = Vec::new();
        for block in OUTPUT_BLOCK.find_iter(text) {
            let body = &text[block.end()..];
            let end = closing_brace(body).unwrap_or(body.len());
            if let Some(captures) = PATH_KEY.captures(&body[..end]) {
                let value = captures.get(1).expect("group 1");
                keys.push((
                    "output.path".to_owned(),
                    block.end() + value.start(),
                    value.as_str().to_owned(),
                ));
            }
        }
        for captures in KEY.captures_iter(text) {
            let value = captures.get(2).expect("group 2");
            keys.push((
                captures[1].to_owned(),
                value.start(),
                value.as_str().to_owned(),
            ));
        }
        for (setting, offset, expression) in keys {
            let Some(value) = evaluate(text, folder, expression.trim(), 0) else {
                continue;
            };
            // A file setting names the file: its folder is what the build writes.
            let value = if matches!(setting.as_str(), "outfile" | "file") {
                value.parent().map(Path::to_path_buf).unwrap_or_default()
            } else {
                value
            };
            if let Some(path) = inside_project(&value) {
                found.push(Named {
                    path,
                    evidence: Evidence::new(&file, line_of(offset)),
                    setting,
                });
            }
        }
    }
    if let Some(script) = build_script {
        let package_json = folder.join("package.json");
        for captures in CLI_OUTPUT.captures_iter(script) {
            let written = &captures[2];
            let named = folder.join(written);
            // `-o ../public/css/app.css` names a file; `--outdir dist` a folder.
            let named = if Path::new(written).extension().is_some() {
                named.parent().map(Path::to_path_buf).unwrap_or_default()
            } else {
                named
            };
            if let Some(path) = inside_project(&named) {
                found.push(Named {
                    path,
                    evidence: Evidence::new(&package_json, 1),
                    setting: captures[1].to_owned(),
                });
            }
        }
    }
    Ok(found)
}

/// The offset of the `}` closing a block whose `{` was just read.
fn closing_brace(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (index, character) in body.char_indices() {
        match character {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(index),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

static STRING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^["'`]([^"'`$]*)["'`]$"#).expect("a valid regex"));
static IDENTIFIER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_$][A-Za-z0-9_$]*$").expect("a valid regex"));

/// The path a JavaScript expression in a file of `folder` evaluates to, relative to the project folder (it may climb
/// out of `folder`): a string (relative to `folder`, where the build runs), `__dirname`, `path.resolve(...)`,
/// `path.join(...)` and constants of the same file; `None` for anything else.
fn evaluate(text: &str, folder: &Path, expression: &str, depth: usize) -> Option<PathBuf> {
    if depth > 8 {
        return None;
    }
    let expression = expression.trim().trim_end_matches(',').trim();
    if let Some(captures) = STRING.captures(expression) {
        let written = &captures[1];
        return (!written.starts_with('/')).then(|| folder.join(written));
    }
    if expression == "__dirname" {
        return Some(folder.to_path_buf());
    }
    for function in ["path.resolve", "path.join", "resolve", "join"] {
        let Some(inner) = expression
            .strip_prefix(function)
            .and_then(|rest| rest.trim_start().strip_prefix('('))
            .and_then(|rest| rest.strip_suffix(')'))
        else {
            continue;
        };
        let mut path = folder.to_path_buf();
        for (index, argument) in settings::split_arguments(inner).into_iter().enumerate() {
            let argument = argument.trim();
            if let Some(captures) = STRING.captures(argument) {
                let written = &captures[1];
                if written.starts_with('/') {
                    return None;
                }
                path.push(written);
            } else if index == 0 {
                path = evaluate(text, folder, argument, depth + 1)?;
            } else {
                return None;
            }
        }
        return Some(path);
    }
    if IDENTIFIER.is_match(expression) {
        let definition = Regex::new(&format!(
            r"(?m)^\s*(?:const|let|var)\s+{}\s*=\s*(.+?);?\s*$",
            regex::escape(expression)
        ))
        .ok()?;
        let value = definition.captures(text)?.get(1)?.as_str().to_owned();
        return evaluate(text, folder, &value, depth + 1);
    }
    None
}

/// `path` with `.` and `..` resolved, when it stays inside the project folder and is not the project itself or a
/// `node_modules` folder.
fn inside_project(path: &Path) -> Option<PathBuf> {
    let out = crate::assets::without_dots(path)?;
    let node_modules = out
        .components()
        .any(|part| part.as_os_str() == "node_modules");
    (!out.as_os_str().is_empty() && !node_modules).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(expression: &str, definitions: &str, expected: Option<&str>) {
        let text = format!("{definitions}\n");
        let value = evaluate(&text, Path::new("frontend"), expression, 0)
            .and_then(|path| inside_project(&path));
        assert_eq!(value, expected.map(PathBuf::from), "{expression:?}");
    }

    #[test]
    fn javascript_path_expressions() {
        check("'dist'", "", Some("frontend/dist"));
        check("\"../static/dist\"", "", Some("static/dist"));
        check(
            "path.resolve(__dirname, '../app/static')",
            "",
            Some("app/static"),
        );
        check(
            "path.resolve(path.join('apps', 'frontend', 'static'))",
            "",
            Some("frontend/apps/frontend/static"),
        );
        check(
            "destination",
            "const destination = path.resolve(__dirname, 'build');",
            Some("frontend/build"),
        );
        check(
            "destination",
            "const destination = path.resolve(path.join('apps', 'frontend', 'static'));",
            Some("frontend/apps/frontend/static"),
        );
        check("resolve(__dirname, 'out')", "", Some("frontend/out"));
        check("'/srv/static'", "", None);
        check("`${base}/dist`", "", None);
        check("'../../../outside'", "", None);
    }
}
