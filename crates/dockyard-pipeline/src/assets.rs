//! The pure half of `[assets]`: what the plan hashes (the lock file, the asset sources, the commands), the script
//! the Node container or the builder runs, and which paths of the app copy are asset sources the production image
//! must not carry. `run::assets` runs the step on the engine.

use std::path::{Path, PathBuf};

use dockyard_config::container_paths::OutputPlace;
use dockyard_config::{Assets, AssetsRunsIn, DeployConfig};
use dockyard_context::{PackOptions, SourceRules};
use serde::Serialize;

use crate::digest::Inputs;
use crate::PipelineError;

/// Where the Node container receives the project's asset folder (at its path relative to deploy.toml).
/// `container_paths::NODE_PROJECT_DIR`, `/app`.
pub const NODE_WORK_DIR: &str = dockyard_config::container_paths::NODE_PROJECT_DIR;
/// Where the `node_modules` cache volume is mounted; the tree lives in its `node_modules` folder, so Node's module
/// lookup from a cached package finds its siblings.
pub const NODE_CACHE_DIR: &str = "/cache";
/// The asset folder inside the Node container: [`NODE_WORK_DIR`] joined with `path` (relative to the project root),
/// without empty or `.` components, so `path = "."` is the work folder itself.
pub fn node_work_folder(path: &Path) -> String {
    let mut folder = NODE_WORK_DIR.to_owned();
    for component in path.components() {
        if let std::path::Component::Normal(part) = component {
            folder.push('/');
            folder.push_str(&part.to_string_lossy());
        }
    }
    folder
}

/// The folder the assets script is uploaded into, in the Node container and the builder alike.
pub const SCRIPT_DIR: &str = "/tmp";
/// The assets script's file name in [`SCRIPT_DIR`].
pub const SCRIPT_FILE: &str = "dockyard-assets.sh";
/// The marker file a complete `node_modules` in the cache volume carries.
const CACHE_COMPLETE: &str = ".dockyard-complete";

/// What the plan knows of `[assets]` before any engine is involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreparedAssets {
    /// sha256 of the lock file, `None` when it is missing (the assets step then fails, exit 6).
    pub lock_sha256: Option<String>,
    /// sha256 of the asset folder as uploaded (node_modules and the output folders left out).
    pub sources_sha256: String,
    /// Files in it.
    pub n_files: usize,
    /// sha256 of each folder of `[assets] sources` as uploaded, in their order.
    pub extra_sources_sha256: Vec<String>,
}

/// Hashes the lock file and the asset folder of `assets`.
pub fn prepare(
    config: &DeployConfig,
    assets: &Assets,
    options: &PackOptions,
) -> Result<PreparedAssets, PipelineError> {
    let lock = config.root.join(assets.lock_file());
    let lock_sha256 = lock
        .is_file()
        .then(|| dockyard_context::sha256_file(&lock))
        .transpose()?;
    let sources = dockyard_context::pack_source_tree(
        &config.root.join(&assets.path),
        &sources_rules(config, assets, &assets.path),
        options,
        std::io::sink(),
    )?;
    let mut n_files = sources.n_files;
    let mut extra_sources_sha256 = Vec::new();
    for folder in &assets.sources {
        let packed = dockyard_context::pack_source_tree(
            &config.root.join(folder),
            &sources_rules(config, assets, folder),
            options,
            std::io::sink(),
        )?;
        n_files += packed.n_files;
        extra_sources_sha256.push(packed.sha256);
    }
    Ok(PreparedAssets {
        lock_sha256,
        sources_sha256: sources.sha256,
        n_files,
        extra_sources_sha256,
    })
}

/// The ignore rules of `folder` (the asset folder or one of `sources`, relative to the project root): the project's
/// `[context]` excludes, `node_modules` (the cache volume holds it), the output folders inside it (the build makes
/// them) and Dockyard's own files when they lie inside it (`assets.path = "."`).
pub fn sources_rules(config: &DeployConfig, assets: &Assets, folder: &Path) -> SourceRules {
    let mut extra_deny = config.context.exclude.clone();
    extra_deny.push("node_modules/".to_owned());
    extra_deny.extend(crate::plan::dockyard_excludes(
        config,
        &config.root.join(folder),
    ));
    // A source holding the asset folder: that folder has its own upload.
    if let Ok(inside) = assets.path.strip_prefix(folder) {
        if !inside.as_os_str().is_empty() {
            extra_deny.push(format!("/{}/", slashes(inside)));
        }
    }
    extra_deny.extend(
        assets
            .outputs
            .iter()
            .filter_map(|output| output.path.strip_prefix(folder).ok())
            .filter(|inside| !inside.as_os_str().is_empty())
            .map(|inside| format!("/{}/", slashes(inside))),
    );
    SourceRules {
        dockerignore: None,
        extra_deny,
        max_file_bytes: None,
    }
}

/// The extra excludes of the app source with `[assets]`: `node_modules` anywhere and, when the Node container
/// builds, the output folders (the assets step's output replaces whatever a local build left there).
pub fn app_source_excludes(assets: Option<&Assets>) -> Vec<String> {
    let Some(assets) = assets else {
        return Vec::new();
    };
    let mut excludes = vec!["node_modules/".to_owned()];
    if assets.runs_in == AssetsRunsIn::Node {
        excludes.extend(
            assets
                .outputs_in_app()
                .map(|in_app| format!("/{}/", slashes(in_app))),
        );
    }
    excludes
}

/// The inputs of the assets step: the Node base, the lock file, the asset sources and every setting of the build.
pub fn inputs(assets: &Assets, prepared: &PreparedAssets, node_base: &str) -> Inputs {
    let commands = serde_json::to_string(&(
        &assets.install_command,
        &assets.build_command,
        &assets.env,
        &assets.outputs,
        &assets.path,
    ))
    .unwrap_or_default();
    // Only a build with `sources` hashes them, so the inputs of one without stay what they were.
    let extra = (!assets.sources.is_empty()).then(|| {
        serde_json::to_string(&(&assets.sources, &prepared.extra_sources_sha256))
            .unwrap_or_default()
    });
    let inputs = Inputs::default()
        .with("node base", node_base)
        .with(
            "lock file",
            prepared
                .lock_sha256
                .clone()
                .unwrap_or_else(|| "missing".to_owned()),
        )
        .with("asset sources", prepared.sources_sha256.clone())
        .with_bytes("build command", commands.as_bytes());
    match extra {
        Some(extra) => inputs.with_bytes("other sources", extra.as_bytes()),
        None => inputs,
    }
}

impl crate::plan::Prepared {
    /// Inputs of the assets step (`[assets] runs_in = "node"`), given the id of the Node base (unknown before the
    /// base step ran).
    pub fn assets_inputs(&self, base_id: Option<&str>) -> Option<Inputs> {
        let (assets, prepared) = (self.config.assets.as_ref()?, self.assets.as_ref()?);
        let base_name = assets.base.as_ref()?;
        let base = self.config.base(base_name);
        let base = base_id.map_or_else(|| format!("unresolved {}", base.image), str::to_owned);
        Some(inputs(assets, prepared, &base))
    }

    /// The export's `[assets]` parts: the Node build's output, or the builder's asset commands and lock file.
    pub(crate) fn with_assets_inputs(&self, export: Inputs, assets_sha256: Option<&str>) -> Inputs {
        let (Some(assets), Some(prepared)) = (&self.config.assets, &self.assets) else {
            return export;
        };
        match assets.runs_in {
            AssetsRunsIn::Node => export.with("assets", assets_sha256.unwrap_or("not built yet")),
            AssetsRunsIn::Builder => {
                export.with("assets", inputs(assets, prepared, "builder").digest())
            }
        }
    }
}

/// The plan's assets step (with `runs_in = "node"`), whether its output is known (it is cached), and that output's
/// sha256, an input of the export.
pub(crate) fn plan_step(
    prepared: &crate::plan::Prepared,
    state: &crate::state::State,
    base_ids: &std::collections::BTreeMap<&str, Option<String>>,
) -> (Option<crate::plan::PlannedStep>, bool, Option<String>) {
    let Some(base) = prepared
        .config
        .assets
        .as_ref()
        .and_then(|assets| assets.base.as_ref())
    else {
        return (None, true, None);
    };
    let base_id = base_ids.get(base.as_str()).cloned().flatten();
    let Some(inputs) = prepared.assets_inputs(base_id.as_deref()) else {
        return (None, true, None);
    };
    let record = state.assets.as_ref().filter(|record| record.path.is_file());
    let planned = crate::plan::compare_step(
        crate::step::Step::Assets,
        &inputs,
        record.map(|record| &record.inputs),
        base_id.is_some(),
        "its Node base image is resolved first",
    );
    let known = planned.action == crate::decide::Action::Cached;
    let sha256 = record.filter(|_| known).map(|record| record.sha256.clone());
    (Some(planned), known, sha256)
}

/// The plan's line for `[assets]`: the folder, the manager, the commands, where they run and the outputs.
pub fn plan_line(config: &DeployConfig) -> Option<String> {
    let assets = config.assets.as_ref()?;
    let folder = if assets.path.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        slashes(&assets.path)
    };
    let outputs: Vec<String> = assets
        .outputs
        .iter()
        .map(|output| match &output.place {
            OutputPlace::InApp(_) => slashes(&output.path),
            OutputPlace::Outside(container) => {
                format!(
                    "{} (at {} in the images)",
                    slashes(&output.path),
                    container.display()
                )
            }
        })
        .collect();
    let outputs = if outputs.is_empty() {
        String::new()
    } else {
        format!("; outputs {}", outputs.join(" "))
    };
    let sources = if assets.sources.is_empty() {
        String::new()
    } else {
        let sources: Vec<String> = assets
            .sources
            .iter()
            .map(|source| match slashes(source) {
                project if project.is_empty() => ".".to_owned(),
                folder => folder,
            })
            .collect();
        format!("; also reads {}", sources.join(" "))
    };
    Some(format!(
        "  assets     {} in {folder}: {}, then {} (in {}{sources}{outputs})",
        assets.package_manager,
        assets.install_command.join(" "),
        assets.build_command.join(" "),
        assets.runs_in,
    ))
}

/// The name of the `node_modules` cache volume for this lock file: a new lock gets a fresh volume, so a cached tree
/// is always exactly what the frozen install of that lock makes.
pub fn cache_volume(project: &str, lock_sha256: &str) -> String {
    format!(
        "{project}-node-modules-{}",
        &lock_sha256[..16.min(lock_sha256.len())]
    )
}

/// The POSIX shell script that installs and builds, run from the asset folder `folder`. With `cache` (the Node
/// container), `node_modules` comes from the cache volume when a complete tree is there, else the install runs and
/// fills it. Each phase is announced with `marker` so a failure names it.
pub fn script(assets: &Assets, folder: &str, marker: &str, cache: Option<&str>) -> String {
    let mut lines = vec![
        "#!/bin/sh".to_owned(),
        "set -eu".to_owned(),
        format!("cd {}", quote(folder)),
        format!(
            "if [ ! -f {} ]; then",
            quote(assets.package_manager.lock_file())
        ),
        format!(
            "    echo {} >&2",
            quote(&format!(
                "no {} beside package.json: the frozen install needs the lock file (commit it)",
                assets.package_manager.lock_file()
            ))
        ),
        "    exit 66".to_owned(),
        "fi".to_owned(),
    ];
    lines.push(format!(
        "printf '%s\\n' {}",
        quote(&format!("{marker}install"))
    ));
    let install = argv(&assets.install_command);
    match cache {
        Some(cache) => {
            let modules = format!("{cache}/node_modules");
            let complete = format!("{modules}/{CACHE_COMPLETE}");
            lines.extend([
                format!("if [ -f {} ]; then", quote(&complete)),
                "    echo 'node_modules from the cache volume (same lock file)'".to_owned(),
                "    rm -rf node_modules".to_owned(),
                format!("    ln -s {} node_modules", quote(&modules)),
                "else".to_owned(),
                format!("    {install}"),
                format!("    rm -rf {}", quote(&modules)),
                "    mkdir -p node_modules".to_owned(),
                format!("    cp -a node_modules {}", quote(&format!("{cache}/"))),
                format!("    touch {}", quote(&complete)),
                "fi".to_owned(),
            ]);
        }
        None => lines.push(install),
    }
    lines.push(format!(
        "printf '%s\\n' {}",
        quote(&format!("{marker}build"))
    ));
    // The environment applies to the build only: NODE_ENV=production would make the install leave out the
    // devDependencies the build needs. The packages' programs are on PATH, as in a package.json script.
    lines.push("export PATH=\"$PWD/node_modules/.bin:$PATH\"".to_owned());
    for (name, value) in &assets.env {
        lines.push(format!("export {name}={}", quote(value)));
    }
    lines.push(argv(&assets.build_command));
    lines.push(String::new());
    lines.join("\n")
}

/// The asset sources inside the app folder, relative to it: what the builder removes from the app copy that becomes
/// the production image. A dedicated asset folder inside the app goes whole unless an output lives in it; otherwise
/// its package files go.
pub fn app_prune_paths(config: &DeployConfig, assets: &Assets) -> Vec<PathBuf> {
    let app = config
        .app
        .path
        .strip_prefix(&config.root)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    prune_paths(&app, assets)
}

/// [`app_prune_paths`] for the app folder `app`, relative to deploy.toml's folder.
fn prune_paths(app: &Path, assets: &Assets) -> Vec<PathBuf> {
    let Ok(folder) = assets.path.strip_prefix(app) else {
        return Vec::new();
    };
    let holds_output = assets
        .outputs
        .iter()
        .any(|output| output.path.starts_with(&assets.path));
    if !folder.as_os_str().is_empty() && !holds_output {
        return vec![folder.to_path_buf()];
    }
    [
        "package.json",
        assets.package_manager.lock_file(),
        "node_modules",
    ]
    .iter()
    .map(|name| folder.join(name))
    .collect()
}

/// The path with `/` separators.
fn slashes(path: &Path) -> String {
    path.iter()
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// One shell word.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// An argv as one shell command line.
fn argv(command: &[String]) -> String {
    command
        .iter()
        .map(|part| quote(part))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    use dockyard_config::container_paths::OutputPlace;
    use dockyard_config::{AssetOutput, PackageManager};

    fn assets(path: &str, outputs: &[&str], runs_in: AssetsRunsIn) -> Assets {
        Assets {
            path: PathBuf::from(path),
            package_manager: PackageManager::Npm,
            install_command: PackageManager::Npm.install_command(),
            sources: Vec::new(),
            build_command: PackageManager::Npm.run_script("build"),
            env: [("NODE_ENV".to_owned(), "production".to_owned())].into(),
            outputs: outputs
                .iter()
                .map(|output| AssetOutput {
                    path: PathBuf::from(output),
                    place: OutputPlace::InApp(
                        PathBuf::from(output)
                            .strip_prefix("app")
                            .map(Path::to_path_buf)
                            .unwrap_or_default(),
                    ),
                })
                .collect(),
            timeout_seconds: 60,
            runs_in,
            base: None,
        }
    }

    #[test]
    fn the_node_work_folder_joins_only_normal_components() {
        let check = |path: &str, expected: &str| {
            assert_eq!(node_work_folder(Path::new(path)), expected, "{path:?}")
        };
        // `path = "."` is the work folder itself: `/app/.` or `/app/` would make `app//script` member paths.
        check(".", NODE_WORK_DIR);
        check("", NODE_WORK_DIR);
        check("theme/static_src", "/app/theme/static_src");
        check("./assets/", "/app/assets");
    }

    fn check_prune(path: &str, outputs: &[&str], expected: &[&str]) {
        let found = prune_paths(Path::new("app"), &assets(path, outputs, AssetsRunsIn::Node));
        let found: Vec<String> = found.iter().map(|path| slashes(path)).collect();
        assert_eq!(found, expected, "{path} with outputs {outputs:?}");
    }

    #[test]
    fn asset_sources_pruned_from_the_app_copy() {
        check_prune("app/frontend", &["app/static/dist"], &["frontend"]);
        check_prune(
            "app/frontend",
            &["app/frontend/dist"],
            &[
                "frontend/package.json",
                "frontend/package-lock.json",
                "frontend/node_modules",
            ],
        );
        check_prune(
            "app",
            &["app/dist"],
            &["package.json", "package-lock.json", "node_modules"],
        );
        check_prune("assets", &["app/dist"], &[]);
    }

    #[test]
    fn the_script_installs_from_the_lock_then_builds() {
        let script = script(
            &assets("app/frontend", &["app/frontend/dist"], AssetsRunsIn::Node),
            "/work/app/frontend",
            "==> dockyard step: ",
            Some("/cache"),
        );
        insta::assert_snapshot!(script);
    }

    #[test]
    fn excludes_follow_where_the_build_runs() {
        let node = assets("app/frontend", &["app/frontend/dist"], AssetsRunsIn::Node);
        assert_eq!(
            app_source_excludes(Some(&node)),
            ["node_modules/", "/frontend/dist/"]
        );
        let builder = assets(
            "app/frontend",
            &["app/frontend/dist"],
            AssetsRunsIn::Builder,
        );
        assert_eq!(app_source_excludes(Some(&builder)), ["node_modules/"]);
        assert!(app_source_excludes(None).is_empty());
        assert_eq!(
            cache_volume("shop", "0123456789abcdef0123"),
            "shop-node-modules-0123456789abcdef"
        );
    }
}
