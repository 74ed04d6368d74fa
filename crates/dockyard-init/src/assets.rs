//! The front-end build `init` finds: the folder holding `package.json` and its lock file, the folders the build reads
//! besides its own (Tailwind's sources) and the folders it writes (the empty `STATICFILES_DIRS` folders).

use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

use dockyard_config::container_paths::NODE_PROJECT_DIR;
use regex::Regex;

use crate::error::InitError;
use crate::settings::{self, PathValue, SourceFile};
use crate::{Assets, Evidence, PackageManager};

/// How deep below the asset folder stylesheets and the Tailwind configuration are looked for.
const STYLES_DEPTH: usize = 4;
/// Folders never searched for stylesheets.
const SKIPPED: &[&str] = &["node_modules", "dist", "build", "vendor"];

/// The first `package.json` with a lock file beside it (`files` lists them, shallowest first), with what its build
/// reads and writes.
pub(crate) fn find(
    root: &Path,
    package_jsons: Vec<PathBuf>,
    settings_files: &[SourceFile],
    app: &Path,
) -> Result<Option<Assets>, InitError> {
    // django-tailwind keeps its package in `<theme app>/static_src` and builds through `manage.py tailwind build`.
    let tailwind = tailwind_app(settings_files).and_then(|(theme, evidence)| {
        let folder = app.join(theme.replace('.', "/")).join("static_src");
        root.join(&folder)
            .join("package.json")
            .is_file()
            .then_some((theme, evidence, folder))
    });
    let mut package_jsons = package_jsons;
    if let Some((_, _, folder)) = &tailwind {
        package_jsons.insert(0, folder.join("package.json"));
    }
    for package_json in package_jsons {
        let folder = package_json
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let lock = [
            PackageManager::Npm,
            PackageManager::Yarn,
            PackageManager::Pnpm,
        ]
        .into_iter()
        .find(|manager| root.join(&folder).join(manager.lock_file()).is_file());
        let Some(manager) = lock else { continue };
        let Some(file) = settings::read(root, &package_json)? else {
            continue;
        };
        let scripts = serde_json::from_str::<serde_json::Value>(&file.text)
            .ok()
            .and_then(|json| json.get("scripts")?.as_object().cloned())
            .unwrap_or_default();
        let build_script = scripts.contains_key("build").then(|| "build".to_owned());
        // The build and the scripts it is split into (`build:css`), whose CLIs name their outputs.
        let build_commands: Vec<&str> = scripts
            .iter()
            .filter(|(name, _)| *name == "build" || name.starts_with("build:"))
            .filter_map(|(_, command)| command.as_str())
            .collect();
        let build_commands = build_commands.join(" ; ");
        let mut named: Vec<(PathBuf, Evidence, String)> = crate::bundlers::outputs(
            root,
            &folder,
            Some(build_commands.as_str()).filter(|text| !text.is_empty()),
        )?
        .into_iter()
        .map(|named| {
            let reason = format!("its {}", named.setting);
            (named.path, named.evidence, reason)
        })
        .collect();
        named.extend(outputs(root, &folder, settings_files, app).into_iter().map(
            |(path, evidence)| {
                (
                    path,
                    evidence,
                    "STATICFILES_DIRS, held empty in the repository".to_owned(),
                )
            },
        ));
        let django_tailwind = tailwind
            .as_ref()
            .filter(|(_, _, tailwind_folder)| tailwind_folder == &folder)
            .map(|(theme, evidence, _)| {
                let mut manage_py = PathBuf::new();
                for _ in folder.components() {
                    manage_py.push("..");
                }
                manage_py.push(app.join("manage.py"));
                (
                    theme.clone(),
                    evidence.clone(),
                    manage_py.to_string_lossy().replace('\\', "/"),
                )
            });
        return Ok(Some(Assets {
            django_tailwind,
            sources: sources(root, &folder)?,
            outputs: outermost(named),
            folder,
            manager,
            build_script,
        }));
    }
    Ok(None)
}

/// django-tailwind's theme app: `TAILWIND_APP_NAME` in the settings.
fn tailwind_app(settings_files: &[SourceFile]) -> Option<(String, Evidence)> {
    static NAME: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"^["']([A-Za-z_][\w.]*)["']$"#).expect("a valid regex"));
    let (file, line, expression) = settings::assignment(settings_files, "TAILWIND_APP_NAME")?;
    let theme = NAME.captures(expression.trim())?[1].to_owned();
    Some((theme, Evidence::new(&file.path, line)))
}

static SOURCE_DIRECTIVE: LazyLock<Regex> = LazyLock::new(|| {
    // Tailwind 4: `@source "../templates";` and `@import "tailwindcss" source("/app");` (`@source not` excludes).
    Regex::new(r#"@source\s+["']([^"']+)["']|source\(\s*["']([^"']+)["']\s*\)"#)
        .expect("a valid regex")
});
static CONTENT_LIST: LazyLock<Regex> = LazyLock::new(|| {
    // Tailwind 3: `content: [...]` or `content: { files: [...] }` in tailwind.config.js.
    Regex::new(r"(?s)(?:content|files)\s*:\s*\[([^\]]*)\]").expect("a valid regex")
});
static STRING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"["'`]([^"'`]+)["'`]"#).expect("a valid regex"));

/// The folders outside `folder` that the stylesheets' Tailwind directives and the Tailwind configuration name, as
/// project paths, outermost first and each once. An absolute path under the Node container's project folder (the
/// conventional `/app`) is the project folder itself.
fn sources(root: &Path, folder: &Path) -> Result<Vec<(PathBuf, Evidence)>, InitError> {
    let mut found: Vec<(PathBuf, Evidence)> = Vec::new();
    for file in style_files(root, folder) {
        let Some(source) = settings::read(root, &file)? else {
            continue;
        };
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let is_config = file
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("tailwind.config."));
        let mut named = Vec::new();
        if is_config {
            for list in CONTENT_LIST.captures_iter(&source.text) {
                let inside = list.get(1).expect("group 1");
                for string in STRING.captures_iter(inside.as_str()) {
                    let offset = inside.start() + string.get(1).expect("group 1").start();
                    // Tailwind 3 reads content paths from the folder it runs in, the asset folder.
                    named.push((folder.to_path_buf(), string[1].to_owned(), offset));
                }
            }
        } else {
            for directive in SOURCE_DIRECTIVE.captures_iter(&source.text) {
                let written = directive
                    .get(1)
                    .or_else(|| directive.get(2))
                    .expect("a group");
                named.push((base.clone(), written.as_str().to_owned(), written.start()));
            }
        }
        for (base, written, offset) in named {
            let Some(path) = project_folder(&base, &written) else {
                continue;
            };
            // The asset folder is uploaded whole: what lies inside it needs no source of its own.
            if path.starts_with(folder) {
                continue;
            }
            let line = source.text[..offset].matches('\n').count() + 1;
            found.push((path, Evidence::new(&file, line)));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let mut outermost: Vec<(PathBuf, Evidence)> = Vec::new();
    for (path, evidence) in found {
        if !outermost.iter().any(|(kept, _)| path.starts_with(kept)) && root.join(&path).is_dir() {
            outermost.push((path, evidence));
        }
    }
    Ok(outermost)
}

/// The project folder a Tailwind path or glob written in a file of `base` names: the part before the first glob
/// character, without a file name; `None` when it leaves the project or is an absolute path elsewhere.
fn project_folder(base: &Path, written: &str) -> Option<PathBuf> {
    let written = written.trim_start_matches('!');
    let literal = written
        .split(['*', '?', '[', '{'])
        .next()
        .unwrap_or_default();
    let has_glob = literal.len() < written.len();
    // `../templates/**/*.html` names templates/; `./src/app.js` names src/ (a file, whose folder is read).
    let literal = if has_glob || Path::new(literal).extension().is_some() {
        literal.rsplit_once('/').map_or("", |(folder, _)| folder)
    } else {
        literal
    };
    let joined = match literal.strip_prefix(NODE_PROJECT_DIR) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            PathBuf::from(rest.trim_start_matches('/'))
        }
        _ if literal.starts_with('/') => return None,
        _ => base.join(literal),
    };
    without_dots(&joined)
}

/// The stylesheets and Tailwind configuration files of the asset folder, shallowest first.
fn style_files(root: &Path, folder: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut level = vec![folder.to_path_buf()];
    for _ in 0..=STYLES_DEPTH {
        let mut next = Vec::new();
        for current in &level {
            let Ok(entries) = std::fs::read_dir(root.join(current)) else {
                continue;
            };
            let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
            entries.sort_by_key(std::fs::DirEntry::file_name);
            for entry in entries {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() && !name.starts_with('.') && !SKIPPED.contains(&name.as_str()) {
                    next.push(current.join(&name));
                } else if kind.is_file()
                    && (name.ends_with(".css")
                        || name.ends_with(".pcss")
                        || name.starts_with("tailwind.config."))
                {
                    found.push(current.join(&name));
                }
            }
        }
        level = next;
    }
    found
}

/// The `STATICFILES_DIRS` folders outside the app's own code that the repository holds empty (or not at all): the
/// places a front-end build writes to (`public/` with a `.keep`).
fn outputs(
    root: &Path,
    folder: &Path,
    settings_files: &[SourceFile],
    app: &Path,
) -> Vec<(PathBuf, Evidence)> {
    let Some((file, line, expression)) = settings::assignment(settings_files, "STATICFILES_DIRS")
    else {
        return Vec::new();
    };
    let Some(inside) = expression
        .trim()
        .strip_prefix(['[', '('])
        .and_then(|rest| rest.strip_suffix([']', ')']))
    else {
        return Vec::new();
    };
    let mut found: Vec<(PathBuf, Evidence)> = Vec::new();
    for entry in settings::split_arguments(inside) {
        let Some(PathValue::Inside(path)) =
            settings::evaluate_path(settings_files, &file.path, entry, 0)
        else {
            continue;
        };
        let Some(path) = without_dots(&path).filter(|path| !path.as_os_str().is_empty()) else {
            continue;
        };
        let empty = match std::fs::read_dir(root.join(&path)) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .all(|entry| entry.file_name().to_string_lossy().starts_with('.')),
            Err(_) => true,
        };
        let in_asset_sources =
            !folder.as_os_str().is_empty() && path.starts_with(folder) && path != folder;
        if empty && !in_asset_sources && path != app && !found.iter().any(|(kept, _)| kept == &path)
        {
            found.push((path, Evidence::new(&file.path, line)));
        }
    }
    found
}

/// Each folder once, outermost first: one inside another listed folder goes.
fn outermost(mut found: Vec<(PathBuf, Evidence, String)>) -> Vec<(PathBuf, Evidence, String)> {
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let mut kept: Vec<(PathBuf, Evidence, String)> = Vec::new();
    for entry in found {
        if !kept.iter().any(|(outer, _, _)| entry.0.starts_with(outer)) {
            kept.push(entry);
        }
    }
    kept
}

/// `path` with `.` and `..` resolved (empty for the project folder itself); `None` when it leaves the project.
pub(crate) fn without_dots(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::ParentDir if !out.pop() => return None,
            _ => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tailwind_paths_name_project_folders() {
        let check = |base: &str, written: &str, expected: Option<&str>| {
            assert_eq!(
                project_folder(Path::new(base), written),
                expected.map(PathBuf::from),
                "{base:?} {written:?}"
            );
        };
        check("assets/css", "/app", Some(""));
        check("assets/css", "/app/src/templates", Some("src/templates"));
        check("assets/css", "/srv/app", None);
        check("assets/css", "../../src/templates", Some("src/templates"));
        check(
            "theme/static_src",
            "../templates/**/*.html",
            Some("theme/templates"),
        );
        check("theme/static_src", "../../**/templates/**/*.html", Some(""));
        check("assets", "../../outside", None);
        check("frontend", "./src/**/*.{js,jsx}", Some("frontend/src"));
        check("frontend", "../app/main.js", Some("app"));
    }
}
