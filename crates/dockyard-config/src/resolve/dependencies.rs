//! `[dependencies]` (or `[app] requirements`): the dependency format, its files and groups, each file checked to be one
//! the format reads, each group checked against the names `pyproject.toml` declares.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::{
    fail, resolve_app_relative_path, resolve_existing_project_path, Origin, HINT_APP_RELATIVE,
};
use crate::choices::DependencyFormat;
use crate::error::ConfigError;
use crate::model::Dependencies;
use crate::paths::{check_path_exists, ExpectedEntry, PathCheck};
use crate::raw;
use crate::suggestions::{closest_candidate, render_backticked_list};

const HINT_NO_DEPENDENCIES: &str =
    "list pip requirements files, relative to app.path, for example \
     requirements = [\"requirements.txt\"], or describe a lock file in a [dependencies] table \
     (format and files)";

/// What a dependency file is, from its name alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Requirements,
    Pyproject,
    UvLock,
    PoetryLock,
    Pipfile,
    PipfileLock,
    /// A name no format reads (`setup.py`, `*.toml`, `*.json`, ...).
    Other,
}

impl FileKind {
    fn of(path: &Path) -> FileKind {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        match name.as_str() {
            "pyproject.toml" => FileKind::Pyproject,
            "uv.lock" => FileKind::UvLock,
            "poetry.lock" => FileKind::PoetryLock,
            "Pipfile" => FileKind::Pipfile,
            "Pipfile.lock" => FileKind::PipfileLock,
            _ => {
                let extension = path
                    .extension()
                    .map(|extension| extension.to_string_lossy().to_lowercase());
                match extension.as_deref() {
                    Some("toml" | "lock" | "json" | "cfg" | "py" | "yaml" | "yml") => {
                        FileKind::Other
                    }
                    _ => FileKind::Requirements,
                }
            }
        }
    }

    /// The format that reads this file, for the hint.
    fn format(self) -> Option<&'static str> {
        match self {
            FileKind::Requirements => Some("requirements"),
            FileKind::UvLock => Some("uv"),
            FileKind::PoetryLock => Some("poetry"),
            FileKind::Pipfile | FileKind::PipfileLock => Some("pipenv"),
            FileKind::Pyproject | FileKind::Other => None,
        }
    }
}

/// The project's dependencies: the `[dependencies]` table, else `[app] requirements` as the requirements format.
pub(super) fn resolve_dependencies(
    origin: Origin<'_>,
    app: &Spanned<raw::App>,
    app_path: &Path,
    table: Option<&Spanned<raw::Dependencies>>,
) -> Result<Dependencies, ConfigError> {
    let written = app.get_ref();
    let app_lists = [
        ("app.requirements", written.requirements.as_ref()),
        ("app.test_requirements", written.test_requirements.as_ref()),
    ];
    if let Some(table) = table {
        for (key, list) in app_lists {
            if let Some(list) = list.filter(|list| !list.get_ref().is_empty()) {
                return fail(
                    origin,
                    list.span(),
                    key,
                    format!("`{key}` and `[dependencies]` both name dependency files"),
                    Some(
                        "name them once: in [dependencies] files (and test_files), with \
                         requirements = [] in [app]"
                            .to_owned(),
                    ),
                );
            }
        }
        return resolve_table(origin, table);
    }
    let Some(requirements) = &written.requirements else {
        return fail(
            origin,
            app.span(),
            "app.requirements",
            "no dependencies: `[app]` has no `requirements` and there is no `[dependencies]` table"
                .to_owned(),
            Some(HINT_NO_DEPENDENCIES.to_owned()),
        );
    };
    if requirements.get_ref().is_empty() {
        return fail(
            origin,
            requirements.span(),
            "app.requirements",
            "`app.requirements` is empty".to_owned(),
            Some(HINT_NO_DEPENDENCIES.to_owned()),
        );
    }
    let files = resolve_app_requirement_files(
        origin,
        app_path,
        requirements.get_ref(),
        "app.requirements",
    )?;
    let test_files = match &written.test_requirements {
        Some(files) => resolve_app_requirement_files(
            origin,
            app_path,
            files.get_ref(),
            "app.test_requirements",
        )?,
        None => Vec::new(),
    };
    Ok(Dependencies::Requirements { files, test_files })
}

/// `[app] requirements` entries: relative to app.path, existing, and pip requirements files.
fn resolve_app_requirement_files(
    origin: Origin<'_>,
    app_path: &Path,
    files: &[Spanned<String>],
    list_key: &str,
) -> Result<Vec<PathBuf>, ConfigError> {
    let mut resolved = Vec::with_capacity(files.len());
    for (index, file) in files.iter().enumerate() {
        let key = format!("{list_key}[{index}]");
        let relative = resolve_app_relative_path(origin, file, &key)?;
        let check = PathCheck {
            source: origin.source,
            span: file.span(),
            key: &key,
            root: origin.root,
            note: HINT_APP_RELATIVE,
        };
        let absolute = app_path.join(&relative);
        check_path_exists(&check, &absolute, ExpectedEntry::File)?;
        refuse_unless_requirements(origin, file, &key, "app.requirements")?;
        resolved.push(absolute);
    }
    Ok(resolved)
}

/// Refuses a file whose name says it is not a pip requirements file, naming the format that reads it.
fn refuse_unless_requirements(
    origin: Origin<'_>,
    file: &Spanned<String>,
    key: &str,
    where_listed: &str,
) -> Result<(), ConfigError> {
    let kind = FileKind::of(Path::new(file.get_ref()));
    if kind == FileKind::Requirements {
        return Ok(());
    }
    let hint = match kind.format() {
        Some(format) => format!(
            "this is a `{format}` file: describe it in a [dependencies] table with format = \
             \"{format}\" and its files (relative to the folder holding deploy.toml), and leave it out \
             of {where_listed}"
        ),
        None if kind == FileKind::Pyproject => "pyproject.toml is read with its lock: write a \
             [dependencies] table with format = \"uv\" and files = [\"pyproject.toml\", \"uv.lock\"] \
             (or \"poetry\" with poetry.lock); without a lock, run `uv lock` or `poetry lock` first, \
             or export requirements"
            .to_owned(),
        None => "list pip requirements files (`*.txt`, `*.in`) here".to_owned(),
    };
    fail(
        origin,
        file.span(),
        key,
        format!(
            "`{key}` = {:?}: not a pip requirements file",
            file.get_ref()
        ),
        Some(hint),
    )
}

/// The `[dependencies]` table.
fn resolve_table(
    origin: Origin<'_>,
    table: &Spanned<raw::Dependencies>,
) -> Result<Dependencies, ConfigError> {
    let written = table.get_ref();
    let format = resolve_format(origin, &written.format)?;
    if written.files.get_ref().is_empty() {
        return fail(
            origin,
            written.files.span(),
            "dependencies.files",
            "`dependencies.files` is empty".to_owned(),
            Some(format!("list the files of the `{format}` format, relative to the folder holding deploy.toml")),
        );
    }
    let files = resolve_files(origin, &written.files, "dependencies.files")?;
    if format != DependencyFormat::Requirements {
        if let Some(test_files) = &written.test_files {
            return fail(
                origin,
                test_files.span(),
                "dependencies.test_files",
                format!("`dependencies.test_files`: the `{format}` format keeps test dependencies in its lock"),
                Some("name the lock's test groups in `dependencies.test_groups` instead".to_owned()),
            );
        }
    }
    match format {
        DependencyFormat::Requirements => {
            for (key, list) in [
                ("dependencies.groups", &written.groups),
                ("dependencies.test_groups", &written.test_groups),
            ] {
                if let Some(list) = list {
                    return fail(
                        origin,
                        list.span(),
                        key,
                        format!("`{key}`: the `requirements` format has no groups"),
                        Some(
                            "list the test-only requirements files in `dependencies.test_files`"
                                .to_owned(),
                        ),
                    );
                }
            }
            for (index, (_, file)) in files.iter().enumerate() {
                let key = format!("dependencies.files[{index}]");
                refuse_unless_requirements(origin, file, &key, "dependencies.files")?;
            }
            let test_files = match &written.test_files {
                Some(list) => resolve_files(origin, list, "dependencies.test_files")?,
                None => Vec::new(),
            };
            for (index, (_, file)) in test_files.iter().enumerate() {
                let key = format!("dependencies.test_files[{index}]");
                refuse_unless_requirements(origin, file, &key, "dependencies.test_files")?;
            }
            Ok(Dependencies::Requirements {
                files: absolute(origin, &files),
                test_files: absolute(origin, &test_files),
            })
        }
        DependencyFormat::Uv => {
            let (pyproject, lock) = pyproject_and_lock(
                origin,
                table,
                &files,
                FileKind::UvLock,
                "uv.lock",
                "uv lock",
            )?;
            let declared = declared(origin, &files, &pyproject)?;
            let mut names = GroupNames::new(
                origin,
                &declared,
                "an extra or a dependency group",
                "pyproject.toml",
            );
            let production = names.resolve(written.groups.as_ref(), "dependencies.groups")?;
            let test = names.resolve(written.test_groups.as_ref(), "dependencies.test_groups")?;
            let split = |names: Vec<String>| -> (Vec<String>, Vec<String>) {
                let extras = names
                    .iter()
                    .filter(|name| declared.extras.contains(name))
                    .cloned()
                    .collect();
                let groups = names
                    .iter()
                    .filter(|name| declared.groups.contains(name))
                    .cloned()
                    .collect();
                (extras, groups)
            };
            let (extras, groups) = split(production);
            let (test_extras, test_groups) = split(test);
            Ok(Dependencies::Uv {
                pyproject: origin.root.join(pyproject),
                lock: origin.root.join(lock),
                extras,
                groups,
                test_extras,
                test_groups,
            })
        }
        DependencyFormat::Poetry => {
            let (pyproject, lock) = pyproject_and_lock(
                origin,
                table,
                &files,
                FileKind::PoetryLock,
                "poetry.lock",
                "poetry lock",
            )?;
            let declared = declared(origin, &files, &pyproject)?;
            let declared = dockyard_python::DeclaredGroups {
                groups: declared.poetry_groups,
                ..Default::default()
            };
            let mut names = GroupNames::new(origin, &declared, "a Poetry group", "pyproject.toml");
            let groups = names.resolve(written.groups.as_ref(), "dependencies.groups")?;
            let test_groups =
                names.resolve(written.test_groups.as_ref(), "dependencies.test_groups")?;
            Ok(Dependencies::Poetry {
                pyproject: origin.root.join(pyproject),
                lock: origin.root.join(lock),
                groups,
                test_groups,
            })
        }
        DependencyFormat::Pipenv => {
            let mut lock = None;
            for (index, (path, file)) in files.iter().enumerate() {
                match FileKind::of(path) {
                    FileKind::PipfileLock if lock.is_none() => lock = Some(path.clone()),
                    FileKind::Pipfile => {}
                    kind => {
                        return refuse_for_format(
                            origin,
                            file,
                            index,
                            kind,
                            format,
                            "Pipfile.lock and its Pipfile",
                        );
                    }
                }
            }
            let Some(lock) = lock else {
                return missing_lock(origin, &written.files, "Pipfile.lock", "pipenv lock");
            };
            let categories =
                dockyard_python::pipenv_categories(origin.root, &lock).or_else(|error| {
                    let span = files
                        .iter()
                        .find(|(path, _)| *path == lock)
                        .map_or(0..0, |(_, file)| file.span());
                    fail(
                        origin,
                        span,
                        "dependencies.files",
                        format!("cannot read its categories: {error}"),
                        error.hint(),
                    )
                })?;
            let declared = dockyard_python::DeclaredGroups {
                groups: categories
                    .into_iter()
                    .filter(|category| category != "default")
                    .collect(),
                ..Default::default()
            };
            let mut names = GroupNames::new(origin, &declared, "a category", "Pipfile.lock");
            let groups = names.resolve(written.groups.as_ref(), "dependencies.groups")?;
            let test_groups =
                names.resolve(written.test_groups.as_ref(), "dependencies.test_groups")?;
            Ok(Dependencies::Pipenv {
                lock: origin.root.join(lock),
                groups,
                test_groups,
            })
        }
    }
}

/// `format`, one of [`DependencyFormat::NAMES`].
fn resolve_format(
    origin: Origin<'_>,
    written: &Spanned<String>,
) -> Result<DependencyFormat, ConfigError> {
    let text = written.get_ref();
    if let Some(format) = DependencyFormat::from_name(text) {
        return Ok(format);
    }
    let all = render_backticked_list(DependencyFormat::NAMES);
    let hint = if text == "pyproject" {
        format!(
            "Dockyard installs locked dependencies only: lock the project (`uv lock` or `poetry lock`) and \
             write format = \"uv\" or \"poetry\"; the formats are {all}"
        )
    } else {
        match closest_candidate(text, DependencyFormat::NAMES.iter().copied()) {
            Some(suggestion) => format!("did you mean `{suggestion}`? the formats are {all}"),
            None => format!("the formats are {all}"),
        }
    };
    fail(
        origin,
        written.span(),
        "dependencies.format",
        format!("`dependencies.format` = {text:?}: not a dependency format Dockyard reads"),
        Some(hint),
    )
}

/// Each file: relative to the deploy file's folder, inside it, existing; with its entry for positions.
fn resolve_files<'a>(
    origin: Origin<'_>,
    list: &'a raw::SpannedStrings,
    list_key: &str,
) -> Result<Vec<(PathBuf, &'a Spanned<String>)>, ConfigError> {
    let mut resolved = Vec::new();
    for (index, file) in list.get_ref().iter().enumerate() {
        let key = format!("{list_key}[{index}]");
        let path = resolve_existing_project_path(origin, file, &key, ExpectedEntry::File)?;
        let relative = path
            .strip_prefix(origin.root)
            .map(Path::to_path_buf)
            .unwrap_or(path);
        if let Some(first) = resolved
            .iter()
            .position(|(earlier, _)| *earlier == relative)
        {
            return fail(
                origin,
                file.span(),
                &key,
                format!(
                    "`{key}` = {:?}: already listed as `{list_key}[{first}]`",
                    file.get_ref()
                ),
                Some("list each file once".to_owned()),
            );
        }
        resolved.push((relative, file));
    }
    Ok(resolved)
}

fn absolute(origin: Origin<'_>, files: &[(PathBuf, &Spanned<String>)]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|(path, _)| origin.root.join(path))
        .collect()
}

/// The `pyproject.toml` and the lock of `lock_kind` among `files`, beside each other; nothing else.
fn pyproject_and_lock(
    origin: Origin<'_>,
    table: &Spanned<raw::Dependencies>,
    files: &[(PathBuf, &Spanned<String>)],
    lock_kind: FileKind,
    lock_name: &str,
    lock_command: &str,
) -> Result<(PathBuf, PathBuf), ConfigError> {
    let written = table.get_ref();
    let format = written.format.get_ref();
    let reads = format!("pyproject.toml and {lock_name}, side by side");
    let (mut pyproject, mut lock) = (None, None);
    for (index, (path, file)) in files.iter().enumerate() {
        match FileKind::of(path) {
            FileKind::Pyproject if pyproject.is_none() => pyproject = Some((path.clone(), *file)),
            kind if kind == lock_kind && lock.is_none() => lock = Some(path.clone()),
            kind => {
                let format = DependencyFormat::from_name(format).unwrap_or(DependencyFormat::Uv);
                return refuse_for_format(origin, file, index, kind, format, &reads);
            }
        }
    }
    let Some((pyproject, pyproject_entry)) = pyproject else {
        return fail(
            origin,
            written.files.span(),
            "dependencies.files",
            "`dependencies.files` has no pyproject.toml".to_owned(),
            Some(format!("the `{format}` format reads {reads}")),
        );
    };
    let Some(lock) = lock else {
        return missing_lock(origin, &written.files, lock_name, lock_command);
    };
    if lock.parent() != pyproject.parent() {
        return fail(
            origin,
            pyproject_entry.span(),
            "dependencies.files",
            format!("{} is not beside {}", lock.display(), pyproject.display()),
            Some(format!("the `{format}` format reads {reads}")),
        );
    }
    Ok((pyproject, lock))
}

fn missing_lock<T>(
    origin: Origin<'_>,
    files: &raw::SpannedStrings,
    lock_name: &str,
    lock_command: &str,
) -> Result<T, ConfigError> {
    fail(
        origin,
        files.span(),
        "dependencies.files",
        format!("`dependencies.files` has no {lock_name}"),
        Some(format!(
            "Dockyard installs what the lock pins: run `{lock_command}`, commit {lock_name} and list it in files"
        )),
    )
}

fn refuse_for_format<T>(
    origin: Origin<'_>,
    file: &Spanned<String>,
    index: usize,
    kind: FileKind,
    format: DependencyFormat,
    reads: &str,
) -> Result<T, ConfigError> {
    let key = format!("dependencies.files[{index}]");
    let other = match kind.format() {
        Some(other) if other != format.as_str() => format!("; it is a `{other}` file"),
        _ => String::new(),
    };
    fail(
        origin,
        file.span(),
        &key,
        format!(
            "`{key}` = {:?}: not a file the `{format}` format reads",
            file.get_ref()
        ),
        Some(format!("the `{format}` format reads {reads}{other}")),
    )
}

/// The extras and groups the `pyproject.toml` declares.
fn declared(
    origin: Origin<'_>,
    files: &[(PathBuf, &Spanned<String>)],
    pyproject: &Path,
) -> Result<dockyard_python::DeclaredGroups, ConfigError> {
    dockyard_python::declared_groups(origin.root, pyproject).or_else(|error| {
        let span = files
            .iter()
            .find(|(path, _)| path == pyproject)
            .map_or(0..0, |(_, file)| file.span());
        fail(
            origin,
            span,
            "dependencies.files",
            format!("cannot read the groups it declares: {error}"),
            error.hint(),
        )
    })
}

/// Checks group names against what the project declares, each name once across `groups` and `test_groups`.
struct GroupNames<'a> {
    origin: Origin<'a>,
    known: Vec<String>,
    noun: &'a str,
    /// The file declaring the names.
    file: &'a str,
    seen: Vec<(String, String)>,
}

impl<'a> GroupNames<'a> {
    fn new(
        origin: Origin<'a>,
        declared: &dockyard_python::DeclaredGroups,
        noun: &'a str,
        file: &'a str,
    ) -> Self {
        let mut known: Vec<String> = declared
            .extras
            .iter()
            .chain(&declared.groups)
            .cloned()
            .collect();
        known.sort();
        known.dedup();
        GroupNames {
            origin,
            known,
            noun,
            file,
            seen: Vec::new(),
        }
    }

    fn resolve(
        &mut self,
        list: Option<&raw::SpannedStrings>,
        list_key: &str,
    ) -> Result<Vec<String>, ConfigError> {
        let mut resolved = Vec::new();
        for (index, name) in list
            .iter()
            .flat_map(|list| list.get_ref().iter())
            .enumerate()
        {
            let key = format!("{list_key}[{index}]");
            let text = name.get_ref();
            if !self.known.contains(text) {
                let listed: Vec<&str> = self.known.iter().map(String::as_str).collect();
                let file = self.file;
                let all = if listed.is_empty() {
                    format!("{file} declares none")
                } else {
                    format!("{file} declares {}", render_backticked_list(&listed))
                };
                let main = if text == "main" || text == "default" {
                    format!("`{text}` is always installed; ")
                } else {
                    match closest_candidate(text, listed.iter().copied()) {
                        Some(suggestion) => format!("did you mean `{suggestion}`? "),
                        None => String::new(),
                    }
                };
                return self.refuse(
                    name.span(),
                    &key,
                    format!("`{key}` = {text:?}: not {} of {file}", self.noun),
                    format!("{main}{all}"),
                );
            }
            if let Some((earlier, _)) = self.seen.iter().find(|(_, seen)| seen == text) {
                let earlier = earlier.clone();
                return self.refuse(
                    name.span(),
                    &key,
                    format!("`{key}` = {text:?}: already listed as `{earlier}`"),
                    "name each group once: production groups are installed for the tests too"
                        .to_owned(),
                );
            }
            self.seen.push((key, text.clone()));
            resolved.push(text.clone());
        }
        Ok(resolved)
    }

    fn refuse<T>(
        &self,
        span: Range<usize>,
        key: &str,
        message: String,
        hint: String,
    ) -> Result<T, ConfigError> {
        fail(self.origin, span, key, message, Some(hint))
    }
}
