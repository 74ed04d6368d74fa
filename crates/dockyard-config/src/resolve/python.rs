//! `[python]`: the Python version, which chooses the Debian suite of the built-in base images, and the request files
//! it overrides on purpose (`[[python.ignore]]`).

use std::path::Path;

use super::{fail, resolve_existing_project_path, Origin};
use crate::choices::PythonVersion;
use crate::error::ConfigError;
use crate::model::PythonIgnore;
use crate::paths::{display_path, ExpectedEntry};
use crate::raw;
use crate::suggestions::{closest_candidate, render_backticked_list};

/// `[python] version`, [`PythonVersion::DEFAULT`] when not written.
pub(super) fn resolve_python(
    origin: Origin<'_>,
    python: Option<&raw::Python>,
) -> Result<PythonVersion, ConfigError> {
    let Some(written) = python.and_then(|python| python.version.as_ref()) else {
        return Ok(PythonVersion::DEFAULT);
    };
    let text = written.get_ref();
    if let Some(version) = PythonVersion::from_name(text) {
        return Ok(version);
    }
    fail(
        origin,
        written.span(),
        "python.version",
        format!(
            "`python.version` = {text:?}: not a Python version Dockyard's built-in bases bring"
        ),
        Some(python_hint(text)),
    )
}

/// The hint for `text`, which is not one of [`PythonVersion::NAMES`]: the closest one and the versions on offer.
pub(super) fn python_hint(text: &str) -> String {
    let all = render_backticked_list(PythonVersion::NAMES);
    let offer = format!(
        "the versions on offer are {all}, each Debian's own python3 (3.11 in bookworm, 3.13 in \
         trixie); for another Python, write [base.*] tables with images that bring it"
    );
    let trimmed = text
        .trim()
        .trim_start_matches("python")
        .trim_start_matches('v');
    match closest_candidate(trimmed, PythonVersion::NAMES.iter().copied()) {
        Some(suggestion) if PythonVersion::from_name(trimmed).is_some() => {
            format!("write \"{suggestion}\"; {offer}")
        }
        Some(suggestion) => format!("did you mean `{suggestion}`? {offer}"),
        None => offer,
    }
}

/// `[[python.ignore]]`: each a request file (one of [`dockyard_python::REQUEST_FILES`]) that exists in `app_path` or a
/// folder above it inside the project (where the plan reads requests), with a reason; one entry per file.
pub(super) fn resolve_python_ignores(
    origin: Origin<'_>,
    python: Option<&raw::Python>,
    app_path: &Path,
) -> Result<Vec<PythonIgnore>, ConfigError> {
    let written = python
        .and_then(|python| python.ignore.as_deref())
        .unwrap_or_default();
    let mut ignores: Vec<PythonIgnore> = Vec::with_capacity(written.len());
    for (index, entry) in written.iter().enumerate() {
        let entry = entry.get_ref();
        let key = format!("python.ignore[{index}].file");
        let file = resolve_existing_project_path(origin, &entry.file, &key, ExpectedEntry::File)?;
        let name = file
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !dockyard_python::REQUEST_FILES.contains(&name.as_str()) {
            return fail(
                origin,
                entry.file.span(),
                &key,
                format!(
                    "`{key}` = {:?}: not a file a Python version is asked for in",
                    entry.file.get_ref()
                ),
                Some(format!(
                    "Dockyard reads Python requests from {}",
                    render_backticked_list(&dockyard_python::REQUEST_FILES)
                )),
            );
        }
        let read_from = file
            .parent()
            .is_some_and(|folder| app_path.starts_with(folder) && folder.starts_with(origin.root));
        if !read_from {
            return fail(
                origin,
                entry.file.span(),
                &key,
                format!(
                    "`{key}` = {:?}: requests are read from the app folder and the folders above it, not from there",
                    entry.file.get_ref()
                ),
                Some(format!(
                    "name the {name} in {} or a folder above it inside the project",
                    display_path(origin.root, app_path)
                )),
            );
        }
        if ignores.iter().any(|earlier| earlier.file == file) {
            return fail(
                origin,
                entry.file.span(),
                &key,
                format!(
                    "`{key}` = {:?}: an earlier entry already ignores this file",
                    entry.file.get_ref()
                ),
                Some("one entry per file covers every request in it; remove this one".to_owned()),
            );
        }
        let reason_key = format!("python.ignore[{index}].reason");
        let reason = entry.reason.get_ref().trim();
        if reason.is_empty() {
            return fail(
                origin,
                entry.reason.span(),
                &reason_key,
                format!("`{reason_key}` is empty"),
                Some("say why the project runs on a Python its file does not ask for; `plan` prints it on every run".to_owned()),
            );
        }
        ignores.push(PythonIgnore {
            file,
            reason: reason.to_owned(),
            key: format!("python.ignore[{index}]"),
        });
    }
    Ok(ignores)
}
