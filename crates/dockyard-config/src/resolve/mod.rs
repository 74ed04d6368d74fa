//! The resolving step: from the raw mirror to a checked [`DeployConfig`], section by section.
//!
//! Checks run in the file's usual order (project, app, dependencies, python, assets, bases, builder, production, nginx, smoke,
//! scan, release, context) and stop at the first problem. The only IO is looking at the files and folders
//! the config names.

mod app;
mod assets;
mod base;
mod builder;
mod context;
mod dependencies;
mod dev;
mod matrix;
mod platforms;

pub use self::platforms::{native_architecture, native_platform, wheel_machine};
mod nginx;
mod numbers;
mod production;
mod project;
mod python;
mod release;
mod scan;
mod services;
mod smoke;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use crate::error::{invalid_at, ConfigError, SourceText};
use crate::model::{BaseImage, DeployConfig};
use crate::paths::{
    check_path_exists, check_stays_inside_through_links, normalize_relative_path, ExpectedEntry,
    PathCheck, RelativePathProblem,
};
use crate::raw;
use crate::source_map::render_key;
use crate::suggestions::{closest_candidate, render_backticked_list};
use crate::templates::Template;

use self::app::resolve_app;
use self::assets::resolve_assets;
use self::base::resolve_bases;
use self::builder::resolve_builder;
use self::context::resolve_context_rules;
use self::dependencies::resolve_dependencies;
use self::nginx::resolve_nginx;
use self::production::resolve_production;
use self::project::resolve_project;
use self::python::{resolve_python, resolve_python_ignores};
use self::release::resolve_release;
use self::scan::resolve_scan;
use self::smoke::resolve_smoke;

const HINT_PROJECT_RELATIVE: &str = " (paths are relative to the folder holding deploy.toml)";
const HINT_APP_RELATIVE: &str = " (this path is relative to app.path)";

/// Where the document came from: the text for positions, the folder for paths.
#[derive(Clone, Copy)]
struct Origin<'a> {
    source: SourceText<'a>,
    root: &'a Path,
}

/// Checks `document` and resolves it against `root`, the folder holding `file`.
pub(crate) fn resolve_document(
    source: SourceText<'_>,
    file: &Path,
    root: &Path,
    document: raw::Document,
) -> Result<DeployConfig, ConfigError> {
    let origin = Origin { source, root };
    let project = resolve_project(origin, &document.project)?;
    let app = resolve_app(origin, document.app.get_ref())?;
    let dependencies = resolve_dependencies(
        origin,
        &document.app,
        &app.path,
        document.dependencies.as_ref(),
    )?;
    let python = resolve_python(origin, document.python.as_ref())?;
    let python_ignores = resolve_python_ignores(origin, document.python.as_ref(), &app.path)?;
    let assets = match &document.assets {
        Some(assets) => Some(resolve_assets(origin, assets, &app)?),
        None => None,
    };
    let node_in_builder = assets
        .as_ref()
        .is_some_and(|assets| assets.runs_in == crate::choices::AssetsRunsIn::Builder);
    let bases = resolve_bases(origin, document.base.as_ref(), python, node_in_builder)?;
    let builder = resolve_builder(
        origin,
        &document.builder.clone().unwrap_or_default(),
        &project,
        &bases,
    )?;
    if let (Some(raw_assets), Some(resolved)) = (&document.assets, &assets) {
        self::assets::check_node_in_builder(origin, raw_assets, resolved, &bases[&builder.base])?;
    }
    let production = resolve_production(
        origin,
        &document.production.clone().unwrap_or_default(),
        &bases,
    )?;
    let nginx = match &document.nginx {
        Some(nginx) => Some(resolve_nginx(origin, nginx, &bases)?),
        None => None,
    };
    let mut bases = bases;
    let written_bases: Vec<&String> = document
        .base
        .iter()
        .flat_map(|written| written.get_ref().keys().map(Spanned::get_ref))
        .collect();
    // The runtime's packages reach the builder too: the tests and collectstatic load the same libraries.
    let production_packages = document
        .production
        .as_ref()
        .and_then(|p| p.packages.as_ref());
    let builder_packages = document.builder.as_ref().and_then(|b| b.packages.as_ref());
    let additions = [
        (&production.base, "production.packages", production_packages),
        (&builder.base, "production.packages", production_packages),
        (&builder.base, "builder.packages", builder_packages),
    ];
    for (base, key, packages) in additions {
        if let Some(packages) = packages {
            let built_in = !written_bases.contains(&base);
            self::base::add_packages(origin, &mut bases, base, built_in, key, packages)?;
        }
    }
    let used_bases = [
        Some(&builder.base),
        Some(&production.base),
        nginx.as_ref().map(|nginx| &nginx.base),
        assets.as_ref().and_then(|assets| assets.base.as_ref()),
    ];
    // A built-in base nothing starts from (nginx's, without [nginx]) is not planned.
    bases.retain(|name, _| written_bases.contains(&name) || used_bases.contains(&Some(name)));
    let matrix = self::matrix::resolve_matrix(
        origin,
        document.matrix.as_ref(),
        &self::matrix::Shipped {
            python,
            builder_base: &builder.base,
            written_bases: &written_bases,
            node_in_builder,
            builder_packages: &[
                ("production.packages", production_packages),
                ("builder.packages", builder_packages),
            ],
        },
        &mut bases,
    )?;
    let services =
        self::services::resolve_services(origin, document.services.as_ref(), &app, &mut bases)?;
    let platforms = self::platforms::resolve_platforms(
        origin,
        document.platforms.as_ref(),
        &self::platforms::Shipped {
            python,
            runtime_base: &production.base,
            nginx_base: nginx.as_ref().map(|nginx| nginx.base.as_str()),
            written_bases: &written_bases,
            runtime_packages: production_packages,
            builder_base: &builder.base,
            builder_packages,
            assembled: matches!(production.dockerfile, Template::BuiltIn(..))
                && nginx
                    .as_ref()
                    .is_none_or(|nginx| matches!(nginx.dockerfile, Template::BuiltIn(..))),
            services: &services,
        },
        &mut bases,
    )?;
    let smoke = resolve_smoke(
        origin,
        document.smoke.as_ref(),
        nginx.as_ref().map(|nginx| nginx.server_names.as_slice()),
    )?;
    let scan = match &document.scan {
        Some(scan) => Some(resolve_scan(origin, scan, nginx.is_some())?),
        None => None,
    };
    let release = match &document.release {
        Some(release) => Some(resolve_release(origin, release, &project, nginx.is_some())?),
        None => None,
    };
    let context = resolve_context_rules(origin, document.context.as_ref(), &app)?;
    let dev = self::dev::resolve_dev(origin, document.dev.as_ref(), &app)?;
    Ok(DeployConfig {
        file: file.to_path_buf(),
        root: root.to_path_buf(),
        project,
        app,
        dependencies,
        python,
        python_ignores,
        bases,
        builder,
        production,
        nginx,
        smoke,
        scan,
        release,
        context,
        assets,
        services,
        dev,
        matrix,
        platforms,
    })
}

fn fail<T>(
    origin: Origin<'_>,
    span: Range<usize>,
    key: &str,
    message: String,
    hint: Option<String>,
) -> Result<T, ConfigError> {
    Err(invalid_at(origin.source, span, key, message, hint))
}

/// The base named `written`, else `default` (a built-in base, so always defined).
fn resolve_base_name(
    origin: Origin<'_>,
    written: Option<&Spanned<String>>,
    key: &str,
    default: &str,
    bases: &BTreeMap<String, BaseImage>,
) -> Result<String, ConfigError> {
    let Some(written) = written else {
        return Ok(default.to_owned());
    };
    let name = written.get_ref();
    if bases.contains_key(name) {
        return Ok(name.clone());
    }
    let defined: Vec<&str> = bases.keys().map(String::as_str).collect();
    let defined_list = render_backticked_list(&defined);
    let hint = match closest_candidate(name, defined.iter().copied()) {
        Some(suggestion) => format!("did you mean `{suggestion}`? the bases are {defined_list}"),
        None => format!("the bases are {defined_list}"),
    };
    fail(
        origin,
        written.span(),
        key,
        format!("`{key}` = {name:?}: no `[base.{}]` table", render_key(name)),
        Some(hint),
    )
}

/// The project's template file `written`, which must exist, else the built-in one.
fn resolve_template(
    origin: Origin<'_>,
    written: Option<&Spanned<String>>,
    key: &str,
    built_in: Template,
) -> Result<Template, ConfigError> {
    match written {
        Some(written) => Ok(Template::File(resolve_existing_project_path(
            origin,
            written,
            key,
            ExpectedEntry::File,
        )?)),
        None => Ok(built_in),
    }
}

/// A path relative to the deploy file's folder that must stay inside it; exists as `expected`.
fn resolve_existing_project_path(
    origin: Origin<'_>,
    written: &Spanned<String>,
    key: &str,
    expected: ExpectedEntry,
) -> Result<PathBuf, ConfigError> {
    let relative = resolve_project_relative_path(origin, written, key)?;
    let absolute = origin.root.join(relative);
    let check = PathCheck {
        source: origin.source,
        span: written.span(),
        key,
        root: origin.root,
        note: HINT_PROJECT_RELATIVE,
    };
    check_path_exists(&check, &absolute, expected)?;
    check_stays_inside_through_links(&check, &absolute)?;
    Ok(absolute)
}

fn resolve_project_relative_path(
    origin: Origin<'_>,
    written: &Spanned<String>,
    key: &str,
) -> Result<PathBuf, ConfigError> {
    normalize_relative_path(written.get_ref()).or_else(|problem| {
        let text = written.get_ref();
        let (message, hint) = match problem {
            RelativePathProblem::Empty => (format!("`{key}` is empty"), None),
            RelativePathProblem::Absolute => (
                format!("`{key}` = {text:?}: must be a relative path"),
                Some("paths are relative to the folder holding deploy.toml".to_owned()),
            ),
            RelativePathProblem::Escapes => (
                format!("`{key}` = {text:?}: path escapes the project folder"),
                Some(
                    "paths are relative to the folder holding deploy.toml and must stay inside it"
                        .to_owned(),
                ),
            ),
        };
        fail(origin, written.span(), key, message, hint)
    })
}

fn resolve_app_relative_path(
    origin: Origin<'_>,
    written: &Spanned<String>,
    key: &str,
) -> Result<PathBuf, ConfigError> {
    normalize_relative_path(written.get_ref()).or_else(|problem| {
        let text = written.get_ref();
        let (message, hint) = match problem {
            RelativePathProblem::Empty => (format!("`{key}` is empty"), None),
            RelativePathProblem::Absolute => (
                format!("`{key}` = {text:?}: must be a relative path"),
                Some("this path is relative to app.path".to_owned()),
            ),
            RelativePathProblem::Escapes => (
                format!("`{key}` = {text:?}: path escapes the app folder"),
                Some("this path is relative to app.path and must stay inside it".to_owned()),
            ),
        };
        fail(origin, written.span(), key, message, hint)
    })
}

/// An HTTP path written at `key` (`app.health_path`, `smoke.page`, a check's `path`): starts with `/`, no whitespace.
fn resolve_http_path(
    origin: Origin<'_>,
    path: &Spanned<String>,
    key: &str,
) -> Result<String, ConfigError> {
    let text = path.get_ref();
    if !text.starts_with('/') {
        return fail(
            origin,
            path.span(),
            key,
            format!("`{key}` = {text:?}: must start with `/`"),
            Some(format!("write \"/{text}\"")),
        );
    }
    if text.chars().any(char::is_whitespace) {
        return fail(
            origin,
            path.span(),
            key,
            format!("`{key}` = {text:?}: must not contain whitespace"),
            Some("percent-encode it, for example \"/search/?q=a%20b\"".to_owned()),
        );
    }
    Ok(text.clone())
}
