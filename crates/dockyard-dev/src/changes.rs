//! [`Layout::classify`]: what a batch of changed paths means for the running session.

use std::path::{Path, PathBuf};

/// Where things are on the host, to tell a source change from a dependency change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The app's folder (`[app] path`): what is synced into the container's source folder.
    pub source_root: PathBuf,
    /// The locked set's files (requirements, `pyproject.toml` + lock): a change rebuilds the dependencies.
    pub dependency_files: Vec<PathBuf>,
    /// The `[assets]` folder and its `sources`: a change reruns the front-end build.
    pub asset_folders: Vec<PathBuf>,
    /// Folders whose changes never matter (Dockyard's own `target/`).
    pub skipped: Vec<PathBuf>,
}

/// What a batch of changes asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Changed paths inside the source root, relative to it, sorted: upload (or delete) them.
    pub source: Vec<PathBuf>,
    /// Changed dependency files, sorted: rebuild the dependencies and restart the app.
    pub dependencies: Vec<PathBuf>,
    /// Changed files of the `[assets]` folders (not `node_modules`), sorted: rerun the front-end build.
    pub assets: Vec<PathBuf>,
}

impl Changes {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.source.is_empty() && self.dependencies.is_empty() && self.assets.is_empty()
    }
}

impl Layout {
    /// The folders watched with everything below them: the source root and the asset folders outside it.
    pub fn recursive_folders(&self) -> Vec<PathBuf> {
        let mut folders = vec![self.source_root.clone()];
        folders.extend(
            self.asset_folders
                .iter()
                .filter(|folder| !folder.starts_with(&self.source_root))
                .cloned(),
        );
        folders
    }

    /// The folders of dependency files outside the source root: watched without their subfolders (the source root
    /// itself is watched with them).
    pub fn flat_folders(&self) -> Vec<PathBuf> {
        let mut folders = Vec::new();
        for file in &self.dependency_files {
            if let Some(parent) = file.parent() {
                if !parent.starts_with(&self.source_root) {
                    folders.push(parent.to_path_buf());
                }
            }
        }
        folders.sort();
        folders.dedup();
        folders
    }

    /// Sorts absolute changed `paths` into source and dependency changes; anything else (editor droppings outside
    /// the app, Dockyard's `target/`) is dropped. A dependency file inside the app folder is both.
    pub fn classify(&self, paths: &[PathBuf]) -> Changes {
        let mut changes = Changes::default();
        for path in paths {
            if self.skipped.iter().any(|skipped| path.starts_with(skipped)) {
                continue;
            }
            if self.dependency_files.iter().any(|file| file == path) {
                changes.dependencies.push(path.clone());
            }
            let in_assets = self
                .asset_folders
                .iter()
                .any(|folder| path.starts_with(folder));
            let node_modules = path
                .components()
                .any(|component| component.as_os_str() == "node_modules");
            if in_assets && !node_modules && !is_editor_dropping(path) {
                changes.assets.push(path.clone());
            }
            if let Ok(relative) = path.strip_prefix(&self.source_root) {
                if !relative.as_os_str().is_empty() && !is_editor_dropping(relative) {
                    changes.source.push(relative.to_path_buf());
                }
            }
        }
        changes.source.sort();
        changes.source.dedup();
        changes.dependencies.sort();
        changes.dependencies.dedup();
        changes.assets.sort();
        changes.assets.dedup();
        changes
    }
}

/// Files editors write beside the one being saved (vim's swap and `4913` probe, emacs's lock and autosave files,
/// `~` backups): never worth a restart.
fn is_editor_dropping(relative: &Path) -> bool {
    let Some(name) = relative.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    name == "4913"
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            source_root: PathBuf::from("/p/app"),
            dependency_files: vec![
                PathBuf::from("/p/app/requirements.txt"),
                PathBuf::from("/p/uv.lock"),
            ],
            asset_folders: vec![
                PathBuf::from("/p/app/frontend"),
                PathBuf::from("/p/templates"),
            ],
            skipped: vec![PathBuf::from("/p/target")],
        }
    }

    fn check(paths: &[&str], source: &[&str], dependencies: &[&str]) {
        let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
        let changes = layout().classify(&paths);
        let source: Vec<PathBuf> = source.iter().map(PathBuf::from).collect();
        let dependencies: Vec<PathBuf> = dependencies.iter().map(PathBuf::from).collect();
        assert_eq!(changes.source, source, "{paths:?}");
        assert_eq!(changes.dependencies, dependencies, "{paths:?}");
    }

    #[test]
    fn changes_are_sorted_into_source_and_dependencies() {
        check(&["/p/app/notes/views.py"], &["notes/views.py"], &[]);
        check(
            &["/p/app/requirements.txt"],
            &["requirements.txt"],
            &["/p/app/requirements.txt"],
        );
        check(&["/p/uv.lock"], &[], &["/p/uv.lock"]);
        check(&["/p/target/dockyard/state.json", "/p/README.md"], &[], &[]);
        check(
            &[
                "/p/app/b.py",
                "/p/app/a.py",
                "/p/app/b.py",
                "/p/app/.views.py.swp",
                "/p/app/4913",
                "/p/app/views.py~",
                "/p/app/.#views.py",
            ],
            &["a.py", "b.py"],
            &[],
        );
        check(&["/p/app"], &[], &[]);
        let changes = layout().classify(&[
            PathBuf::from("/p/app/frontend/src/app.css"),
            PathBuf::from("/p/app/frontend/node_modules/x/index.js"),
            PathBuf::from("/p/templates/base.html"),
        ]);
        assert_eq!(
            changes.assets,
            vec![
                PathBuf::from("/p/app/frontend/src/app.css"),
                PathBuf::from("/p/templates/base.html"),
            ]
        );
    }

    #[test]
    fn asset_folders_outside_the_app_are_watched_with_their_subfolders() {
        assert_eq!(
            layout().recursive_folders(),
            vec![PathBuf::from("/p/app"), PathBuf::from("/p/templates")]
        );
    }

    #[test]
    fn dependency_folders_outside_the_app_are_watched_too() {
        assert_eq!(layout().flat_folders(), vec![PathBuf::from("/p")]);
    }
}
