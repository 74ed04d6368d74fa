//! The resolving step: from the raw mirror to a checked [`DeployConfig`], section by section.
//!
//! Checks run in the file's usual order (project, app, bases, builder, production, context) and
//! stop at the first problem. The only IO is looking at the files and folders the config names.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use crate::error::{invalid_at, ConfigError, SourceText};
use crate::image_reference::{is_valid_tag, parse_image_reference};
use crate::model::{
    App, BaseImage, Bootstrap, Builder, ContextRules, DeployConfig, Production, Project,
};
use crate::names::{
    is_dotted_python_path, is_http_url, is_valid_base_name, is_valid_debian_package_name,
    is_valid_debian_suite, is_valid_environment_variable_name, is_valid_project_name,
    is_valid_volume_name, is_wsgi_reference, looks_like_secret_name, suggest_project_name,
    MAXIMUM_PROJECT_NAME_LENGTH,
};
use crate::paths::{
    check_path_exists, display_path, normalize_lexically, normalize_relative_path, ExpectedEntry,
    PathCheck, RelativePathProblem,
};
use crate::raw;
use crate::source_map::render_key;
use crate::suggestions::{closest_candidate, render_backticked_list};

const DEFAULT_VERSION: &str = "0.0.0-dev";
const DEFAULT_HEALTH_PATH: &str = "/health/";
const DEFAULT_STATIC_ROOT: &str = "staticfiles";
const DEFAULT_TEST_COMMAND: [&str; 4] = ["python", "manage.py", "test", "--noinput"];
const DEFAULT_BOOTSTRAP_VARIANT: &str = "minbase";
const DEFAULT_PRODUCTION_USER: u32 = 10001;
const LOWEST_UNPRIVILEGED_PORT: i64 = 1024;
const DEBOOTSTRAP_VARIANTS: [&str; 10] = [
    "extract",
    "custom",
    "essential",
    "apt",
    "required",
    "minbase",
    "buildd",
    "important",
    "debootstrap",
    "standard",
];
const HINT_SECRETS: &str =
    "deploy.toml is committed; pass secrets at run time (DJANGO_SECRET_KEY is generated per run)";
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
    let app = resolve_app(origin, &document.app)?;
    let bases = resolve_bases(origin, &document.base)?;
    let builder = resolve_builder(origin, &document.builder, &project, &bases)?;
    let production = resolve_production(origin, &document.production, &bases)?;
    let context = resolve_context_rules(origin, document.context.as_ref(), &app)?;
    Ok(DeployConfig {
        file: file.to_path_buf(),
        root: root.to_path_buf(),
        project,
        app,
        bases,
        builder,
        production,
        context,
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

fn resolve_project(origin: Origin<'_>, project: &raw::Project) -> Result<Project, ConfigError> {
    let name = project.name.get_ref();
    if name.len() > MAXIMUM_PROJECT_NAME_LENGTH {
        return fail(
            origin,
            project.name.span(),
            "project.name",
            format!(
                "`project.name` is {} characters long, more than {MAXIMUM_PROJECT_NAME_LENGTH}",
                name.len()
            ),
            Some("the name is used in image names and file names; shorten it".to_owned()),
        );
    }
    if !is_valid_project_name(name) {
        let suggestion = match suggest_project_name(name) {
            Some(suggestion) => format!(", for example {suggestion:?}"),
            None => String::new(),
        };
        return fail(
            origin,
            project.name.span(),
            "project.name",
            format!(
                "`project.name` = {name:?}: use lowercase letters, digits, `.`, `_` and `-`, \
                 starting with a letter or digit"
            ),
            Some(format!(
                "the name is used in image names and file names{suggestion}"
            )),
        );
    }

    let version = match &project.version {
        Some(version) => {
            if !is_valid_tag(version.get_ref()) {
                return fail(
                    origin,
                    version.span(),
                    "project.version",
                    format!(
                        "`project.version` = {:?}: the version must be usable as an image tag",
                        version.get_ref()
                    ),
                    Some(
                        "use letters, digits, `_`, `.` and `-` (up to 128, not starting with `.` \
                         or `-`), for example \"1.2.0\""
                            .to_owned(),
                    ),
                );
            }
            version.get_ref().clone()
        }
        None => DEFAULT_VERSION.to_owned(),
    };

    let source = match &project.source {
        Some(source) => {
            if !is_http_url(source.get_ref()) {
                return fail(
                    origin,
                    source.span(),
                    "project.source",
                    format!(
                        "`project.source` = {:?}: expected an http(s) URL",
                        source.get_ref()
                    ),
                    Some("for example \"https://github.com/owner/repository\"".to_owned()),
                );
            }
            Some(source.get_ref().clone())
        }
        None => None,
    };

    Ok(Project {
        name: name.clone(),
        version,
        source,
    })
}

fn resolve_app(origin: Origin<'_>, app: &raw::App) -> Result<App, ConfigError> {
    let relative_app = resolve_project_relative_path(origin, &app.path, "app.path")?;
    let app_path = origin.root.join(&relative_app);
    let app_check = PathCheck {
        source: origin.source,
        span: app.path.span(),
        key: "app.path",
        root: origin.root,
        note: " (app.path is the Django project folder, the one holding manage.py)",
    };
    check_path_exists(&app_check, &app_path, ExpectedEntry::Folder)?;
    let manage_py = app_path.join("manage.py");
    if !manage_py.is_file() {
        return fail(
            origin,
            app.path.span(),
            "app.path",
            format!(
                "`app.path` points to {}, which has no manage.py",
                display_path(origin.root, &app_path)
            ),
            Some(format!(
                "app.path must be the Django project folder, the one holding manage.py; looked \
                 for {}",
                manage_py.display()
            )),
        );
    }

    let settings_module = app.settings_module.get_ref();
    if !is_dotted_python_path(settings_module) {
        return fail(
            origin,
            app.settings_module.span(),
            "app.settings_module",
            format!(
                "`app.settings_module` = {settings_module:?}: expected a dotted Python module path"
            ),
            Some("for example \"mysite.settings\"".to_owned()),
        );
    }

    let wsgi = app.wsgi.get_ref();
    if !is_wsgi_reference(wsgi) {
        return fail(
            origin,
            app.wsgi.span(),
            "app.wsgi",
            format!("`app.wsgi` = {wsgi:?}: expected `module.path:callable`"),
            Some("for example \"mysite.wsgi:application\"".to_owned()),
        );
    }

    let port = resolve_port(origin, &app.port)?;

    let health_path = match &app.health_path {
        Some(health_path) => {
            let text = health_path.get_ref();
            if !text.starts_with('/') {
                return fail(
                    origin,
                    health_path.span(),
                    "app.health_path",
                    format!("`app.health_path` = {text:?}: must start with `/`"),
                    Some(format!("write \"/{text}\"")),
                );
            }
            if text.chars().any(char::is_whitespace) {
                return fail(
                    origin,
                    health_path.span(),
                    "app.health_path",
                    format!("`app.health_path` = {text:?}: must not contain whitespace"),
                    Some("for example \"/health/\"".to_owned()),
                );
            }
            text.clone()
        }
        None => DEFAULT_HEALTH_PATH.to_owned(),
    };

    if app.requirements.get_ref().is_empty() {
        return fail(
            origin,
            app.requirements.span(),
            "app.requirements",
            "`app.requirements` is empty".to_owned(),
            Some(
                "list at least one pip requirements file, relative to app.path, for example \
                 [\"requirements.txt\"]"
                    .to_owned(),
            ),
        );
    }
    let requirements = resolve_requirement_files(
        origin,
        &app_path,
        app.requirements.get_ref(),
        "app.requirements",
    )?;
    let test_requirements = match &app.test_requirements {
        Some(files) => {
            resolve_requirement_files(origin, &app_path, files.get_ref(), "app.test_requirements")?
        }
        None => Vec::new(),
    };

    let test_command = match &app.test_command {
        Some(command) => {
            let first_is_empty = command
                .get_ref()
                .first()
                .is_none_or(|program| program.get_ref().trim().is_empty());
            if first_is_empty {
                return fail(
                    origin,
                    command.span(),
                    "app.test_command",
                    "`app.test_command` has no program to run".to_owned(),
                    Some(format!(
                        "for example {:?}, or leave it out for that default",
                        DEFAULT_TEST_COMMAND
                    )),
                );
            }
            command
                .get_ref()
                .iter()
                .map(|argument| argument.get_ref().clone())
                .collect()
        }
        None => DEFAULT_TEST_COMMAND.map(str::to_owned).to_vec(),
    };

    let static_root = match &app.static_root {
        Some(static_root) => resolve_static_root(origin, static_root)?,
        None => PathBuf::from(DEFAULT_STATIC_ROOT),
    };

    let env = match &app.env {
        Some(env) => resolve_environment(origin, env)?,
        None => BTreeMap::new(),
    };

    Ok(App {
        path: app_path,
        settings_module: settings_module.clone(),
        wsgi: wsgi.clone(),
        port,
        health_path,
        requirements,
        test_requirements,
        test_command,
        static_root,
        env,
    })
}

fn resolve_port(origin: Origin<'_>, port: &Spanned<i64>) -> Result<u16, ConfigError> {
    let value = *port.get_ref();
    if let Ok(valid) = u16::try_from(value) {
        if i64::from(valid) >= LOWEST_UNPRIVILEGED_PORT {
            return Ok(valid);
        }
        if valid > 0 {
            return fail(
                origin,
                port.span(),
                "app.port",
                format!("`app.port` = {value}: port below 1024 needs root inside the container"),
                Some(format!(
                    "the production image runs as an unprivileged user; listen on a port such \
                     as 8000 and publish it with `docker run -p {value}:8000`"
                )),
            );
        }
    }
    fail(
        origin,
        port.span(),
        "app.port",
        format!("`app.port` = {value}: not a TCP port"),
        Some("use a port from 1024 to 65535, such as 8000".to_owned()),
    )
}

fn resolve_requirement_files(
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
        check_path_exists(&check, &app_path.join(&relative), ExpectedEntry::File)?;
        resolved.push(relative);
    }
    Ok(resolved)
}

fn resolve_static_root(
    origin: Origin<'_>,
    static_root: &Spanned<String>,
) -> Result<PathBuf, ConfigError> {
    let relative = resolve_app_relative_path(origin, static_root, "app.static_root")?;
    if relative.as_os_str().is_empty() {
        return fail(
            origin,
            static_root.span(),
            "app.static_root",
            format!(
                "`app.static_root` = {:?}: must name a folder inside app.path, not app.path itself",
                static_root.get_ref()
            ),
            Some(format!("for example \"{DEFAULT_STATIC_ROOT}\"")),
        );
    }
    Ok(relative)
}

fn resolve_environment(
    origin: Origin<'_>,
    env: &BTreeMap<Spanned<String>, Spanned<String>>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut resolved = BTreeMap::new();
    // Report problems in the order they are written, not in key order.
    let mut entries: Vec<_> = env.iter().collect();
    entries.sort_by_key(|(name, _)| name.span().start);
    for (name, value) in entries {
        let key = format!("app.env.{}", render_key(name.get_ref()));
        if !is_valid_environment_variable_name(name.get_ref()) {
            return fail(
                origin,
                name.span(),
                &key,
                format!("`{key}`: not a valid environment variable name"),
                Some("use letters, digits and `_`, not starting with a digit".to_owned()),
            );
        }
        if looks_like_secret_name(name.get_ref()) {
            return fail(
                origin,
                name.span(),
                &key,
                format!("`{key}`: secret-looking key in app.env"),
                Some(HINT_SECRETS.to_owned()),
            );
        }
        resolved.insert(name.get_ref().clone(), value.get_ref().clone());
    }
    Ok(resolved)
}

fn resolve_bases(
    origin: Origin<'_>,
    bases: &Spanned<BTreeMap<Spanned<String>, raw::Base>>,
) -> Result<BTreeMap<String, BaseImage>, ConfigError> {
    if bases.get_ref().is_empty() {
        return fail(
            origin,
            bases.span(),
            "base",
            "`base` defines no base image".to_owned(),
            Some(
                "add at least one `[base.<name>]` table, for example [base.runtime] with \
                 image = \"python:3.12-slim-bookworm\""
                    .to_owned(),
            ),
        );
    }
    let mut entries: Vec<_> = bases.get_ref().iter().collect();
    entries.sort_by_key(|(name, _)| name.span().start);
    let mut resolved = BTreeMap::new();
    for (name, base) in entries {
        let base_image = resolve_base(origin, name, base)?;
        resolved.insert(name.get_ref().clone(), base_image);
    }
    Ok(resolved)
}

fn resolve_base(
    origin: Origin<'_>,
    name: &Spanned<String>,
    base: &raw::Base,
) -> Result<BaseImage, ConfigError> {
    let table = format!("base.{}", render_key(name.get_ref()));
    if !is_valid_base_name(name.get_ref()) {
        return fail(
            origin,
            name.span(),
            &table,
            format!(
                "`[{table}]`: base names use lowercase letters, digits, `_` and `-`, starting \
                 with a letter or digit"
            ),
            Some(match name.get_ref().to_lowercase() {
                lowercase if is_valid_base_name(&lowercase) => format!(
                    "the name is used in image tags and file names; for example `[base.{lowercase}]`"
                ),
                _ => "the name is used in image tags and file names".to_owned(),
            }),
        );
    }

    let image_key = format!("{table}.image");
    let image = match parse_image_reference(base.image.get_ref()) {
        Ok(image) => image,
        Err(reason) => {
            return fail(
                origin,
                base.image.span(),
                &image_key,
                format!("`{image_key}` = {:?}: {reason}", base.image.get_ref()),
                Some(
                    "write it like \"python:3.12-slim\", \"localhost:5000/team/app:v1\" or \
                     \"ghcr.io/owner/app@sha256:<64 hex digits>\""
                        .to_owned(),
                ),
            );
        }
    };

    let bootstrap = match &base.bootstrap {
        Some(bootstrap) => Some(resolve_bootstrap(origin, &table, bootstrap)?),
        None => None,
    };

    Ok(BaseImage {
        name: name.get_ref().clone(),
        image,
        pull: base.pull.as_ref().is_none_or(|pull| *pull.get_ref()),
        bootstrap,
    })
}

fn resolve_bootstrap(
    origin: Origin<'_>,
    table: &str,
    bootstrap: &raw::Bootstrap,
) -> Result<Bootstrap, ConfigError> {
    let suite = bootstrap.suite.get_ref();
    if !is_valid_debian_suite(suite) {
        let key = format!("{table}.bootstrap.suite");
        return fail(
            origin,
            bootstrap.suite.span(),
            &key,
            format!("`{key}` = {suite:?}: not a Debian suite name"),
            Some("for example \"bookworm\" or \"stable\"".to_owned()),
        );
    }

    let variant = match &bootstrap.variant {
        Some(variant) => {
            let text = variant.get_ref();
            if !DEBOOTSTRAP_VARIANTS.contains(&text.as_str()) {
                let key = format!("{table}.bootstrap.variant");
                let all = render_backticked_list(&DEBOOTSTRAP_VARIANTS);
                let hint = match closest_candidate(text, DEBOOTSTRAP_VARIANTS) {
                    Some(suggestion) => {
                        format!("did you mean `{suggestion}`? the variants are {all}")
                    }
                    None => format!("the variants are {all}"),
                };
                return fail(
                    origin,
                    variant.span(),
                    &key,
                    format!("`{key}` = {text:?}: not a debootstrap variant"),
                    Some(hint),
                );
            }
            text.clone()
        }
        None => DEFAULT_BOOTSTRAP_VARIANT.to_owned(),
    };

    let mut packages = Vec::new();
    if let Some(listed) = &bootstrap.packages {
        for (index, package) in listed.get_ref().iter().enumerate() {
            if !is_valid_debian_package_name(package.get_ref()) {
                let key = format!("{table}.bootstrap.packages[{index}]");
                return fail(
                    origin,
                    package.span(),
                    &key,
                    format!(
                        "`{key}` = {:?}: not a Debian package name",
                        package.get_ref()
                    ),
                    Some(
                        "package names use lowercase letters, digits, `+`, `-` and `.`, at least \
                         two characters, starting with a letter or digit"
                            .to_owned(),
                    ),
                );
            }
            packages.push(package.get_ref().clone());
        }
    }

    let mirror = match &bootstrap.mirror {
        Some(mirror) => {
            if !is_http_url(mirror.get_ref()) {
                let key = format!("{table}.bootstrap.mirror");
                return fail(
                    origin,
                    mirror.span(),
                    &key,
                    format!("`{key}` = {:?}: expected an http(s) URL", mirror.get_ref()),
                    Some("for example \"http://deb.debian.org/debian\"".to_owned()),
                );
            }
            Some(mirror.get_ref().clone())
        }
        None => None,
    };

    Ok(Bootstrap {
        suite: suite.clone(),
        variant,
        packages,
        mirror,
    })
}

fn resolve_builder(
    origin: Origin<'_>,
    builder: &raw::Builder,
    project: &Project,
    bases: &BTreeMap<String, BaseImage>,
) -> Result<Builder, ConfigError> {
    let dockerfile = resolve_existing_project_path(
        origin,
        &builder.dockerfile,
        "builder.dockerfile",
        ExpectedEntry::File,
    )?;
    let context = resolve_existing_project_path(
        origin,
        &builder.context,
        "builder.context",
        ExpectedEntry::Folder,
    )?;
    let base = resolve_base_name(origin, &builder.base, "builder.base", bases)?;

    let ca_bundle = match &builder.ca_bundle {
        Some(ca_bundle) => {
            let written = ca_bundle.get_ref();
            if written.is_empty() {
                return fail(
                    origin,
                    ca_bundle.span(),
                    "builder.ca_bundle",
                    "`builder.ca_bundle` is empty".to_owned(),
                    Some("name a CA bundle file, or leave the key out".to_owned()),
                );
            }
            let absolute = normalize_lexically(&origin.root.join(written));
            let check = PathCheck {
                source: origin.source,
                span: ca_bundle.span(),
                key: "builder.ca_bundle",
                root: origin.root,
                note: HINT_PROJECT_RELATIVE,
            };
            check_path_exists(&check, &absolute, ExpectedEntry::File)?;
            Some(absolute)
        }
        None => None,
    };

    let pip_cache_volume = match &builder.pip_cache_volume {
        Some(volume) => {
            if !is_valid_volume_name(volume.get_ref()) {
                return fail(
                    origin,
                    volume.span(),
                    "builder.pip_cache_volume",
                    format!(
                        "`builder.pip_cache_volume` = {:?}: not a valid Docker volume name",
                        volume.get_ref()
                    ),
                    Some(format!(
                        "use letters, digits, `_`, `.` and `-`, at least two characters, \
                         starting with a letter or digit, for example \"{}-pip-cache\"",
                        project.name
                    )),
                );
            }
            volume.get_ref().clone()
        }
        None => format!("{}-pip-cache", project.name),
    };

    Ok(Builder {
        dockerfile,
        context,
        base,
        ca_bundle,
        pip_cache_volume,
    })
}

fn resolve_production(
    origin: Origin<'_>,
    production: &raw::Production,
    bases: &BTreeMap<String, BaseImage>,
) -> Result<Production, ConfigError> {
    let dockerfile = resolve_existing_project_path(
        origin,
        &production.dockerfile,
        "production.dockerfile",
        ExpectedEntry::File,
    )?;
    let base = resolve_base_name(origin, &production.base, "production.base", bases)?;
    let user = match &production.user {
        Some(user) => {
            let value = *user.get_ref();
            if value == 0 {
                return fail(
                    origin,
                    user.span(),
                    "production.user",
                    "`production.user` = 0: the production image must not run as root".to_owned(),
                    Some(format!(
                        "use an unprivileged uid such as {DEFAULT_PRODUCTION_USER}, or leave the \
                         key out for that default"
                    )),
                );
            }
            match u32::try_from(value) {
                Ok(uid) => uid,
                Err(_) => {
                    return fail(
                        origin,
                        user.span(),
                        "production.user",
                        format!("`production.user` = {value}: not a valid uid"),
                        Some(format!(
                            "use a number from 1 to {}, such as {DEFAULT_PRODUCTION_USER}",
                            u32::MAX
                        )),
                    );
                }
            }
        }
        None => DEFAULT_PRODUCTION_USER,
    };
    Ok(Production {
        dockerfile,
        base,
        user,
    })
}

fn resolve_context_rules(
    origin: Origin<'_>,
    context: Option<&raw::Context>,
    app: &App,
) -> Result<ContextRules, ConfigError> {
    let written_dockerignore = context.and_then(|context| context.dockerignore.as_ref());
    let dockerignore = match written_dockerignore {
        Some(dockerignore) => {
            let key = "context.dockerignore";
            let relative = resolve_app_relative_path(origin, dockerignore, key)?;
            let absolute = app.path.join(relative);
            let check = PathCheck {
                source: origin.source,
                span: dockerignore.span(),
                key,
                root: origin.root,
                note: HINT_APP_RELATIVE,
            };
            check_path_exists(&check, &absolute, ExpectedEntry::File)?;
            Some(absolute)
        }
        None => {
            let default = app.path.join(".dockerignore");
            default.is_file().then_some(default)
        }
    };

    let mut exclude = Vec::new();
    let written_exclude = context.and_then(|context| context.exclude.as_ref());
    for (index, pattern) in written_exclude
        .into_iter()
        .flat_map(|list| list.get_ref().iter())
        .enumerate()
    {
        if pattern.get_ref().trim().is_empty() {
            let key = format!("context.exclude[{index}]");
            return fail(
                origin,
                pattern.span(),
                &key,
                format!("`{key}` is empty"),
                Some("write a gitignore-style pattern such as \"*.sqlite3\"".to_owned()),
            );
        }
        exclude.push(pattern.get_ref().clone());
    }

    Ok(ContextRules {
        dockerignore,
        exclude,
    })
}

fn resolve_base_name(
    origin: Origin<'_>,
    written: &Spanned<String>,
    key: &str,
    bases: &BTreeMap<String, BaseImage>,
) -> Result<String, ConfigError> {
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
