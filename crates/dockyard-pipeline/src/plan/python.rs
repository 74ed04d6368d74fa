//! The Python the project asks for against the one the bases bring: refused at plan time unless a `[[python.ignore]]`
//! entry overrides the file on purpose.

use dockyard_config::DeployConfig;

use crate::PipelineError;

/// Refuses a project whose `requires-python`, `.python-version` or `runtime.txt` (in the app folder or any folder
/// above it up to deploy.toml's) the chosen Python does not satisfy: never a silent mismatch found deep in pip. A file
/// a `[[python.ignore]]` entry names is overridden on purpose (the plan prints it); an entry with nothing to override
/// is refused, so it goes the day the request or the version changes. Each other Python of `[matrix] python` is held
/// to the same requests.
pub(super) fn check_python_requests(config: &DeployConfig) -> Result<(), PipelineError> {
    let folders = config
        .app
        .path
        .ancestors()
        .take_while(|folder| folder.starts_with(&config.root));
    let mut used = vec![false; config.python_ignores.len()];
    for folder in folders {
        for request in dockyard_python::python_requests(folder)? {
            let allowed = |python: dockyard_config::PythonVersion| {
                let (major, minor, patch) = python.release();
                request.allows(dockyard_python::PythonVersion::new(major, minor, patch))
            };
            let file = folder.join(&request.file);
            let ignored = config
                .python_ignores
                .iter()
                .position(|ignore| ignore.file == file);
            if !allowed(config.python) {
                match ignored {
                    Some(index) => used[index] = true,
                    None => {
                        let (major, minor, patch) = config.python.release();
                        return Err(PipelineError::PythonNotOffered {
                            file,
                            request: format!("`{}` ({})", request.written, request.specifiers()),
                            offered: format!("{major}.{minor}.{patch}"),
                            version: config.python.to_string(),
                            fitting: dockyard_config::PythonVersion::ALL
                                .iter()
                                .filter(|python| allowed(**python))
                                .map(ToString::to_string)
                                .collect(),
                        });
                    }
                }
            }
            for entry in &config.matrix {
                if allowed(entry.python) {
                    continue;
                }
                if let Some(index) = ignored {
                    used[index] = true;
                    continue;
                }
                let (major, minor, patch) = entry.python.release();
                return Err(PipelineError::MatrixPythonNotAllowed {
                    file,
                    request: format!("`{}` ({})", request.written, request.specifiers()),
                    offered: format!("{major}.{minor}.{patch}"),
                    version: entry.python.to_string(),
                });
            }
        }
    }
    if let Some(unused) = config
        .python_ignores
        .iter()
        .zip(used)
        .find_map(|(ignore, used)| (!used).then_some(ignore))
    {
        return Err(PipelineError::PythonIgnoreUnused {
            deploy_file: config.file.clone(),
            key: unused.key.clone(),
            file: unused.file.clone(),
            version: config.python.to_string(),
        });
    }
    Ok(())
}
