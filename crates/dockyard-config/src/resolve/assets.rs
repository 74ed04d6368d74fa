//! `[assets]`: the front-end build (npm, yarn or pnpm) that runs before `collectstatic`, in a Node container or in
//! the builder.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::app::resolve_environment;
use super::base::DEFAULT_NODE_BASE;
use super::numbers::{resolve_in_range, RangeUse};
use super::{fail, resolve_existing_project_path, resolve_project_relative_path, Origin};
use crate::choices::{AssetsRunsIn, ClosedSet, PackageManager};
use crate::container_paths::{climbed_container_path, ContainerPathProblem, OutputPlace, APP_DIR};
use crate::error::ConfigError;
use crate::model::{App, AssetOutput, Assets};
use crate::paths::ExpectedEntry;
use crate::raw;
use crate::suggestions::{closest_candidate, render_backticked_list};

const DEFAULT_TIMEOUT_SECONDS: u64 = 600;

pub(super) fn resolve_assets(
    origin: Origin<'_>,
    assets: &Spanned<raw::Assets>,
    app: &App,
) -> Result<Assets, ConfigError> {
    let header = assets.span();
    let assets = assets.get_ref();
    let folder =
        resolve_existing_project_path(origin, &assets.path, "assets.path", ExpectedEntry::Folder)?;
    let path = folder
        .strip_prefix(origin.root)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let package_json = folder.join("package.json");
    if !package_json.is_file() {
        return fail(
            origin,
            assets.path.span(),
            "assets.path",
            format!(
                "`assets.path` = {:?}: no package.json in it",
                assets.path.get_ref()
            ),
            Some(
                "name the folder holding package.json, relative to the folder holding deploy.toml"
                    .to_owned(),
            ),
        );
    }
    let package_manager = resolve_choice::<PackageManager>(
        origin,
        &assets.package_manager,
        "assets.package_manager",
        "not a package manager Dockyard runs",
    )?;
    let runs_in = match &assets.runs_in {
        Some(written) => resolve_choice::<AssetsRunsIn>(
            origin,
            written,
            "assets.runs_in",
            "not a place assets build in",
        )?,
        None => AssetsRunsIn::Node,
    };
    let install_command = match &assets.install_command {
        Some(command) => resolve_argv(origin, command, "assets.install_command")?,
        None => package_manager.install_command(),
    };
    let build_command = match (&assets.build_command, &assets.build_script) {
        (Some(command), None) => resolve_argv(origin, command, "assets.build_command")?,
        (None, Some(script)) if !script.get_ref().trim().is_empty() => {
            package_manager.run_script(script.get_ref())
        }
        (None, Some(script)) => {
            return fail(
                origin,
                script.span(),
                "assets.build_script",
                "`assets.build_script` is empty".to_owned(),
                Some("name a script of package.json, for example \"build\"".to_owned()),
            )
        }
        (Some(command), Some(_)) => {
            return fail(
                origin,
                command.span(),
                "assets.build_command",
                "`assets.build_command` and `assets.build_script` are both written".to_owned(),
                Some(
                    "keep one: build_script runs a package.json script, build_command any argv"
                        .to_owned(),
                ),
            )
        }
        (None, None) => {
            return fail(
                origin,
                header,
                "assets",
                "`[assets]` names no build: neither `build_script` nor `build_command`".to_owned(),
                Some("for example build_script = \"build\" (a package.json script)".to_owned()),
            )
        }
    };
    let env = match &assets.env {
        Some(env) => resolve_environment(origin, env, "assets.env")?,
        None => Default::default(),
    };
    let outputs = resolve_outputs(origin, assets.outputs.as_ref(), app)?;
    if outputs.is_empty() && runs_in == AssetsRunsIn::Node {
        let span = assets.outputs.as_ref().map_or(header, Spanned::span);
        return fail(
            origin,
            span,
            "assets.outputs",
            "`assets.outputs` names no folder: nothing of the Node build would reach collectstatic".to_owned(),
            Some("list the folders the build writes, relative to the folder holding deploy.toml, for example outputs = [\"app/static/dist\"]".to_owned()),
        );
    }
    if runs_in == AssetsRunsIn::Builder && !origin.root.join(&path).starts_with(&app.path) {
        return fail(
            origin,
            assets.path.span(),
            "assets.path",
            format!("`assets.path` = {:?}: outside app.path, so the builder does not have it", assets.path.get_ref()),
            Some("with runs_in = \"builder\" the asset folder must be inside app.path; or use runs_in = \"node\"".to_owned()),
        );
    }
    let timeout_seconds = match &assets.timeout_seconds {
        Some(number) => resolve_in_range(
            origin,
            number,
            &RangeUse {
                key: "assets.timeout_seconds",
                unit: "seconds",
                minimum: 10,
                maximum: 3600,
                default: DEFAULT_TIMEOUT_SECONDS,
            },
        )?,
        None => DEFAULT_TIMEOUT_SECONDS,
    };
    let sources = resolve_sources(origin, assets.sources.as_ref(), &path)?;
    Ok(Assets {
        path,
        package_manager,
        install_command,
        build_command,
        env,
        outputs,
        sources,
        timeout_seconds,
        runs_in,
        base: (runs_in == AssetsRunsIn::Node).then(|| DEFAULT_NODE_BASE.to_owned()),
    })
}

pub(super) fn resolve_choice<T: ClosedSet>(
    origin: Origin<'_>,
    written: &Spanned<String>,
    key: &str,
    unknown: &str,
) -> Result<T, ConfigError> {
    let text = written.get_ref();
    if let Some(value) = T::from_name(text) {
        return Ok(value);
    }
    let all = render_backticked_list(T::NAMES);
    let hint = match closest_candidate(text, T::NAMES.iter().copied()) {
        Some(suggestion) => format!("did you mean `{suggestion}`? the choices are {all}"),
        None => format!("the choices are {all}"),
    };
    fail(
        origin,
        written.span(),
        key,
        format!("`{key}` = {text:?}: {unknown}"),
        Some(hint),
    )
}

pub(super) fn resolve_argv(
    origin: Origin<'_>,
    command: &raw::SpannedStrings,
    key: &str,
) -> Result<Vec<String>, ConfigError> {
    let first_is_empty = command
        .get_ref()
        .first()
        .is_none_or(|program| program.get_ref().trim().is_empty());
    if first_is_empty {
        return fail(
            origin,
            command.span(),
            key,
            format!("`{key}` has no program to run"),
            Some("write the argv as a list, for example [\"npm\", \"run\", \"build\"]".to_owned()),
        );
    }
    Ok(command
        .get_ref()
        .iter()
        .map(|argument| argument.get_ref().clone())
        .collect())
}

/// Each output folder relative to the deploy file's folder, once: inside app.path (it travels with the app source),
/// or outside it at the container path the app's own relative paths reach (`../public` from `src/` is `/public`).
fn resolve_outputs(
    origin: Origin<'_>,
    outputs: Option<&raw::SpannedStrings>,
    app: &App,
) -> Result<Vec<AssetOutput>, ConfigError> {
    let Some(outputs) = outputs else {
        return Ok(Vec::new());
    };
    let app_relative = app
        .path
        .strip_prefix(origin.root)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut resolved: Vec<AssetOutput> = Vec::new();
    for (index, written) in outputs.get_ref().iter().enumerate() {
        let key = format!("assets.outputs[{index}]");
        let path: PathBuf = resolve_project_relative_path(origin, written, &key)?;
        let place = match path.strip_prefix(&app_relative) {
            Ok(in_app) if !in_app.as_os_str().is_empty() => {
                OutputPlace::InApp(in_app.to_path_buf())
            }
            Ok(_) => {
                return fail(
                    origin,
                    written.span(),
                    &key,
                    format!("`{key}` = {:?}: app.path itself", written.get_ref()),
                    Some(
                        "name the folder the build writes, inside app.path or beside it".to_owned(),
                    ),
                )
            }
            Err(_) => match climbed_container_path(&relative_to(&path, &app_relative)) {
                Ok(container) => OutputPlace::Outside(container),
                Err(problem) => {
                    let reason = match problem {
                        ContainerPathProblem::Reserved(first) => format!(
                            "outside app.path it would land at {first} in the images, a folder they need"
                        ),
                        ContainerPathProblem::Root | ContainerPathProblem::NotNormal => {
                            "outside app.path it would land at the images' root folder".to_owned()
                        }
                    };
                    return fail(
                        origin,
                        written.span(),
                        &key,
                        format!("`{key}` = {:?}: {reason}", written.get_ref()),
                        Some(format!(
                            "an output outside app.path ({}) lands where the app's relative paths reach it from {APP_DIR}: \
                             make the build write inside app.path or into a folder of its own beside it",
                            if app_relative.as_os_str().is_empty() { ".".to_owned() } else { app_relative.display().to_string() }
                        )),
                    );
                }
            },
        };
        if resolved
            .iter()
            .any(|earlier| earlier.path == path || earlier.place == place)
        {
            return fail(
                origin,
                written.span(),
                &key,
                format!("`{key}` = {:?}: listed twice", written.get_ref()),
                Some("list each output folder once".to_owned()),
            );
        }
        resolved.push(AssetOutput { path, place });
    }
    Ok(resolved)
}

/// `sources`: folders the build reads besides the asset folder, each existing, none overlapping it or another.
fn resolve_sources(
    origin: Origin<'_>,
    sources: Option<&raw::SpannedStrings>,
    asset_folder: &Path,
) -> Result<Vec<PathBuf>, ConfigError> {
    let Some(sources) = sources else {
        return Ok(Vec::new());
    };
    let mut resolved: Vec<PathBuf> = Vec::new();
    for (index, written) in sources.get_ref().iter().enumerate() {
        let key = format!("assets.sources[{index}]");
        let folder = resolve_existing_project_path(origin, written, &key, ExpectedEntry::Folder)?;
        let path = folder
            .strip_prefix(origin.root)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let overlaps = |other: &Path| path.starts_with(other) || other.starts_with(&path);
        // A source holding the asset folder is uploaded without it; one inside it adds nothing.
        let clash = if path.starts_with(asset_folder) {
            Some(format!(
                "lies in the asset folder {:?}, which is uploaded whole",
                slashes(asset_folder)
            ))
        } else {
            resolved
                .iter()
                .find(|earlier| overlaps(earlier))
                .map(|earlier| format!("overlaps {:?}, listed before it", slashes(earlier)))
        };
        if let Some(clash) = clash {
            return fail(
                origin,
                written.span(),
                &key,
                format!("`{key}` = {:?}: {clash}", written.get_ref()),
                Some(
                    "list the folders the build reads besides the asset folder, each once (a folder holding the asset \
                     folder is uploaded without it)"
                        .to_owned(),
                ),
            );
        }
        resolved.push(path);
    }
    Ok(resolved)
}

fn slashes(path: &Path) -> String {
    if path.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        path.to_string_lossy().replace('\\', "/")
    }
}

/// `path` relative to `base` (both relative to the deploy file's folder, normalized), climbing with `..`.
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let (path, base): (Vec<_>, Vec<_>) = (path.components().collect(), base.components().collect());
    let shared = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut relative = PathBuf::new();
    for _ in shared..base.len() {
        relative.push("..");
    }
    for component in &path[shared..] {
        relative.push(component);
    }
    relative
}

/// With `runs_in = "builder"`, the builder base must bring Node: the built-in one does; a written one with a
/// bootstrap recipe must list `nodejs` (an image pulled as it is cannot be checked here).
pub(super) fn check_node_in_builder(
    origin: Origin<'_>,
    assets: &Spanned<raw::Assets>,
    resolved: &Assets,
    builder_base: &crate::model::BaseImage,
) -> Result<(), ConfigError> {
    if resolved.runs_in != AssetsRunsIn::Builder {
        return Ok(());
    }
    let Some(bootstrap) = &builder_base.bootstrap else {
        return Ok(());
    };
    if bootstrap.packages.iter().any(|package| package == "nodejs") {
        return Ok(());
    }
    let span = assets
        .get_ref()
        .runs_in
        .as_ref()
        .map_or(assets.span(), Spanned::span);
    fail(
        origin,
        span,
        "assets.runs_in",
        format!(
            "`assets.runs_in` = \"builder\": the builder base `{}` brings no Node.js",
            builder_base.name
        ),
        Some(format!(
            "add \"nodejs\" and \"npm\" to [base.{}.bootstrap] packages, leave the table out for the built-in \
             builder base (which then brings Node), or use runs_in = \"node\"",
            builder_base.name
        )),
    )
}
