//! The resolving step: from the raw mirror to a checked [`DeployConfig`], section by section.
//!
//! Checks run in the file's usual order (project, app, bases, builder, production, nginx, smoke,
//! scan, release, context) and stop at the first problem. The only IO is looking at the files and folders
//! the config names.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use crate::error::{invalid_at, line_and_column, ConfigError, SourceText};
use crate::image_reference::{
    check_registry_prefix, check_repository, is_valid_tag, looks_like_registry,
    parse_image_reference, suggest_registry_prefix, suggest_repository, MAXIMUM_NAME_LENGTH,
    MAXIMUM_TAG_LENGTH,
};
use crate::model::{
    App, BaseImage, Bootstrap, Builder, ContextRules, DeployConfig, Nginx, Production, Project,
    Release, Scan, ScanIgnore, Smoke, SmokeCheck, Via,
};
use crate::names::{
    is_dotted_json_path, is_dotted_python_path, is_http_url, is_nginx_size, is_package_url_prefix,
    is_real_day, is_trivy_version, is_uppercase_environment_variable_name, is_valid_base_name,
    is_valid_debian_package_name, is_valid_debian_suite, is_valid_environment_variable_name,
    is_valid_host_header, is_valid_http_header_name, is_valid_project_name, is_valid_server_name,
    is_valid_volume_name, is_wsgi_reference, looks_like_credential, looks_like_secret_name,
    split_iso_date, suggest_project_name, MAXIMUM_PROJECT_NAME_LENGTH,
};
use crate::paths::{
    check_path_exists, check_stays_inside_through_links, display_path, normalize_lexically,
    normalize_relative_path, ExpectedEntry, PathCheck, RelativePathProblem,
};
use crate::raw;
use crate::source_map::{render_key, ValueKind};
use crate::suggestions::{closest_candidate, render_backticked_list};
use crate::tag_template::{
    is_tag_character, render_tag_template, split_tag_template, TagValues, TemplatePiece,
    PLACEHOLDERS,
};

const DEFAULT_VERSION: &str = "0.0.0-dev";
const DEFAULT_HEALTH_PATH: &str = "/health/";
const DEFAULT_STATIC_ROOT: &str = "staticfiles";
const DEFAULT_TEST_COMMAND: [&str; 4] = ["python", "manage.py", "test", "--noinput"];
const DEFAULT_BOOTSTRAP_VARIANT: &str = "minbase";
const DEFAULT_PRODUCTION_USER: u32 = 10001;
const DEFAULT_NGINX_PORT: u16 = 8080;
const DEFAULT_NGINX_USER: u32 = 10101;
const DEFAULT_SERVER_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];
const DEFAULT_CLIENT_MAX_BODY_SIZE: &str = "10m";
const DEFAULT_STARTUP_TIMEOUT_SECONDS: u64 = 60;
const MAXIMUM_STARTUP_TIMEOUT_SECONDS: u64 = 600;
const DEFAULT_STOP_TIMEOUT_SECONDS: u64 = 10;
const MAXIMUM_STOP_TIMEOUT_SECONDS: u64 = 120;
const DEFAULT_CHECK_STATUS: u16 = 200;
const DEFAULT_CHECK_METHOD: &str = "GET";
const CHECK_METHODS: [&str; 3] = ["GET", "HEAD", "POST"];
const VIA_NAMES: [&str; 2] = ["nginx", "app"];
const SCANNERS: [&str; 4] = ["vuln", "secret", "misconfig", "license"];
const DEFAULT_SCANNERS: [&str; 3] = ["vuln", "secret", "misconfig"];
const SCAN_IMAGES: [&str; 3] = ["app", "nginx", "builder"];
const DEFAULT_SCAN_IMAGES: [&str; 2] = ["app", "nginx"];
const SEVERITIES: [&str; 5] = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"];
const DEFAULT_FAIL_ON_SEVERITY: &str = "HIGH";
const DEFAULT_SCAN_TIMEOUT_SECONDS: u64 = 600;
const MINIMUM_SCAN_TIMEOUT_SECONDS: u64 = 10;
const MAXIMUM_SCAN_TIMEOUT_SECONDS: u64 = 3600;
const DEFAULT_TRIVY_CACHE_DIR: &str = "target/dockyard/trivy-cache";
const EXAMPLE_TRIVY_VERSION: &str = "0.76.0";
const EXAMPLE_DB_REPOSITORY: &str = "registry.example.com/trivy-db:2";
const MINIMUM_IGNORE_REASON_CHARACTERS: usize = 10;
const EXAMPLE_EXPIRES: &str = "expires = 2026-12-31";
const DEFAULT_RELEASE_TAGS: [&str; 2] = ["{version}", "sha-{git_sha}"];
const DEFAULT_MOVING_TAGS: [&str; 1] = ["latest"];
const DEFAULT_PUSH_ATTEMPTS: u64 = 4;
const MAXIMUM_PUSH_ATTEMPTS: u64 = 10;
const DEFAULT_PUSH_BACKOFF_MS: u64 = 500;
const MAXIMUM_PUSH_BACKOFF_MS: u64 = 60_000;
const DEFAULT_USERNAME_ENV: &str = "DOCKYARD_REGISTRY_USERNAME";
const DEFAULT_PASSWORD_ENV: &str = "DOCKYARD_REGISTRY_PASSWORD";
/// What `{version}` stands for when a tag template is checked.
const SAMPLE_TAG_VERSION: &str = "1.2.3";
/// What `{git_sha}` stands for when a tag template is checked.
const SAMPLE_TAG_GIT_SHA: &str = "0123456789ab";
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
const HINT_REGISTRY_EXAMPLES: &str = "write a registry host, with an optional port and namespace \
     path, like \"ghcr.io/owner\", \"localhost:5000\" or \"127.0.0.1:5000/team\"";
const HINT_REPOSITORY_EXAMPLES: &str =
    "the repository is the image name after the registry, for example \"shop\" or \"team/shop\"";
const HINT_CREDENTIAL_NAMES: &str =
    "name the environment variable that holds it; deploy.toml is committed";

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
    let nginx = match &document.nginx {
        Some(nginx) => Some(resolve_nginx(origin, nginx, &bases)?),
        None => None,
    };
    let smoke = resolve_smoke(origin, document.smoke.as_ref(), nginx.is_some())?;
    let scan = match &document.scan {
        Some(scan) => Some(resolve_scan(origin, scan, nginx.is_some())?),
        None => None,
    };
    let release = match &document.release {
        Some(release) => Some(resolve_release(origin, release, &project, nginx.is_some())?),
        None => None,
    };
    let context = resolve_context_rules(origin, document.context.as_ref(), &app)?;
    Ok(DeployConfig {
        file: file.to_path_buf(),
        root: root.to_path_buf(),
        project,
        app,
        bases,
        builder,
        production,
        nginx,
        smoke,
        scan,
        release,
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
    check_stays_inside_through_links(&app_check, &app_path)?;
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

    let port = resolve_port(
        origin,
        &app.port,
        &PortUse {
            key: "app.port",
            image: "production",
            example: 8000,
        },
    )?;

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

/// Which port a port check is about, to word its messages.
struct PortUse<'a> {
    /// The full key, for example `app.port`.
    key: &'a str,
    /// The image that listens on it, for example `production`.
    image: &'a str,
    /// A good port to suggest.
    example: u16,
}

fn resolve_port(
    origin: Origin<'_>,
    port: &Spanned<i64>,
    port_use: &PortUse<'_>,
) -> Result<u16, ConfigError> {
    let PortUse {
        key,
        image,
        example,
    } = port_use;
    let value = *port.get_ref();
    if let Ok(valid) = u16::try_from(value) {
        if i64::from(valid) >= LOWEST_UNPRIVILEGED_PORT {
            return Ok(valid);
        }
        if valid > 0 {
            return fail(
                origin,
                port.span(),
                key,
                format!("`{key}` = {value}: port below 1024 needs root inside the container"),
                Some(format!(
                    "the {image} image runs as an unprivileged user; listen on a port such as \
                     {example} and publish it with `docker run -p {value}:{example}`"
                )),
            );
        }
    }
    fail(
        origin,
        port.span(),
        key,
        format!("`{key}` = {value}: not a TCP port"),
        Some(format!("use a port from 1024 to 65535, such as {example}")),
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
        Some(user) => resolve_user(
            origin,
            user,
            &UserUse {
                key: "production.user",
                image: "production",
                default: DEFAULT_PRODUCTION_USER,
            },
        )?,
        None => DEFAULT_PRODUCTION_USER,
    };
    Ok(Production {
        dockerfile,
        base,
        user,
    })
}

/// Which uid a user check is about, to word its messages.
struct UserUse<'a> {
    /// The full key, for example `production.user`.
    key: &'a str,
    /// The image that runs as this user, for example `production`.
    image: &'a str,
    /// The uid used when the key is left out.
    default: u32,
}

fn resolve_user(
    origin: Origin<'_>,
    user: &Spanned<i64>,
    user_use: &UserUse<'_>,
) -> Result<u32, ConfigError> {
    let UserUse {
        key,
        image,
        default,
    } = user_use;
    let value = *user.get_ref();
    if value == 0 {
        return fail(
            origin,
            user.span(),
            key,
            format!("`{key}` = 0: the {image} image must not run as root"),
            Some(format!(
                "use an unprivileged uid such as {default}, or leave the key out for that default"
            )),
        );
    }
    match u32::try_from(value) {
        Ok(uid) => Ok(uid),
        Err(_) => fail(
            origin,
            user.span(),
            key,
            format!("`{key}` = {value}: not a valid uid"),
            Some(format!(
                "use a number from 1 to {}, such as {default}",
                u32::MAX
            )),
        ),
    }
}

fn resolve_nginx(
    origin: Origin<'_>,
    nginx: &raw::Nginx,
    bases: &BTreeMap<String, BaseImage>,
) -> Result<Nginx, ConfigError> {
    let dockerfile = resolve_existing_project_path(
        origin,
        &nginx.dockerfile,
        "nginx.dockerfile",
        ExpectedEntry::File,
    )?;
    let config =
        resolve_existing_project_path(origin, &nginx.config, "nginx.config", ExpectedEntry::File)?;
    let base = resolve_base_name(origin, &nginx.base, "nginx.base", bases)?;
    let port = match &nginx.port {
        Some(port) => resolve_port(
            origin,
            port,
            &PortUse {
                key: "nginx.port",
                image: "nginx",
                example: DEFAULT_NGINX_PORT,
            },
        )?,
        None => DEFAULT_NGINX_PORT,
    };
    let user = match &nginx.user {
        Some(user) => resolve_user(
            origin,
            user,
            &UserUse {
                key: "nginx.user",
                image: "nginx",
                default: DEFAULT_NGINX_USER,
            },
        )?,
        None => DEFAULT_NGINX_USER,
    };
    let server_names = match &nginx.server_names {
        Some(server_names) => resolve_server_names(origin, server_names)?,
        None => DEFAULT_SERVER_NAMES.map(str::to_owned).to_vec(),
    };
    let client_max_body_size = match &nginx.client_max_body_size {
        Some(size) => {
            let text = size.get_ref();
            if !is_nginx_size(text) {
                return fail(
                    origin,
                    size.span(),
                    "nginx.client_max_body_size",
                    format!("`nginx.client_max_body_size` = {text:?}: not an nginx size"),
                    Some(format!(
                        "write a number of bytes, optionally followed by `k`, `m` or `g`, for \
                         example \"{DEFAULT_CLIENT_MAX_BODY_SIZE}\""
                    )),
                );
            }
            text.clone()
        }
        None => DEFAULT_CLIENT_MAX_BODY_SIZE.to_owned(),
    };
    Ok(Nginx {
        dockerfile,
        config,
        base,
        port,
        user,
        server_names,
        client_max_body_size,
    })
}

fn resolve_server_names(
    origin: Origin<'_>,
    server_names: &raw::SpannedStrings,
) -> Result<Vec<String>, ConfigError> {
    if server_names.get_ref().is_empty() {
        return fail(
            origin,
            server_names.span(),
            "nginx.server_names",
            "`nginx.server_names` is empty".to_owned(),
            Some(format!(
                "list at least one host name or IPv4 address, for example {:?}, or leave the key \
                 out for that default",
                DEFAULT_SERVER_NAMES
            )),
        );
    }
    let mut resolved = Vec::with_capacity(server_names.get_ref().len());
    for (index, server_name) in server_names.get_ref().iter().enumerate() {
        let text = server_name.get_ref();
        if !is_valid_server_name(text) {
            let key = format!("nginx.server_names[{index}]");
            return fail(
                origin,
                server_name.span(),
                &key,
                format!("`{key}` = {text:?}: not a host name or IPv4 address"),
                Some(
                    "use letters, digits, `.`, `-` and `*`, for example \"example.com\", \
                     \"*.example.com\" or \"127.0.0.1\""
                        .to_owned(),
                ),
            );
        }
        resolved.push(text.clone());
    }
    Ok(resolved)
}

fn resolve_smoke(
    origin: Origin<'_>,
    smoke: Option<&raw::Smoke>,
    has_nginx: bool,
) -> Result<Smoke, ConfigError> {
    let Some(smoke) = smoke else {
        return Ok(Smoke {
            startup_timeout_seconds: DEFAULT_STARTUP_TIMEOUT_SECONDS,
            stop_timeout_seconds: DEFAULT_STOP_TIMEOUT_SECONDS,
            app_size_budget_mb: None,
            nginx_size_budget_mb: None,
            checks: Vec::new(),
        });
    };
    let startup_timeout_seconds = match &smoke.startup_timeout_seconds {
        Some(seconds) => resolve_in_range(
            origin,
            seconds,
            &RangeUse {
                key: "smoke.startup_timeout_seconds",
                unit: "seconds",
                minimum: 1,
                maximum: MAXIMUM_STARTUP_TIMEOUT_SECONDS,
                default: DEFAULT_STARTUP_TIMEOUT_SECONDS,
            },
        )?,
        None => DEFAULT_STARTUP_TIMEOUT_SECONDS,
    };
    let stop_timeout_seconds = match &smoke.stop_timeout_seconds {
        Some(seconds) => resolve_in_range(
            origin,
            seconds,
            &RangeUse {
                key: "smoke.stop_timeout_seconds",
                unit: "seconds",
                minimum: 1,
                maximum: MAXIMUM_STOP_TIMEOUT_SECONDS,
                default: DEFAULT_STOP_TIMEOUT_SECONDS,
            },
        )?,
        None => DEFAULT_STOP_TIMEOUT_SECONDS,
    };
    let app_size_budget_mb = match &smoke.app_size_budget_mb {
        Some(budget) => Some(resolve_size_budget(
            origin,
            budget,
            "smoke.app_size_budget_mb",
        )?),
        None => None,
    };
    let nginx_size_budget_mb = match &smoke.nginx_size_budget_mb {
        Some(budget) => Some(resolve_size_budget(
            origin,
            budget,
            "smoke.nginx_size_budget_mb",
        )?),
        None => None,
    };

    let written_checks = smoke.check.as_deref().unwrap_or_default();
    let mut checks: Vec<SmokeCheck> = Vec::with_capacity(written_checks.len());
    for (index, check) in written_checks.iter().enumerate() {
        let table = format!("smoke.check[{index}]");
        let name = check.get_ref().name.get_ref();
        let first_with_that_name = written_checks[..index]
            .iter()
            .find(|earlier| earlier.get_ref().name.get_ref() == name);
        if let Some(first) = first_with_that_name {
            let (first_line, _) =
                line_and_column(origin.source.text, first.get_ref().name.span().start);
            let key = format!("{table}.name");
            return fail(
                origin,
                check.get_ref().name.span(),
                &key,
                format!("`{key}` = {name:?}: another check already has this name"),
                Some(format!(
                    "the first check named {name:?} is on line {first_line}; give each check its \
                     own name"
                )),
            );
        }
        checks.push(resolve_smoke_check(origin, &table, check, has_nginx)?);
    }

    Ok(Smoke {
        startup_timeout_seconds,
        stop_timeout_seconds,
        app_size_budget_mb,
        nginx_size_budget_mb,
        checks,
    })
}

/// Which bounded number a range check is about, to word its messages.
struct RangeUse<'a> {
    /// The full key, for example `smoke.stop_timeout_seconds`.
    key: &'a str,
    /// What the number counts, plural, for example `seconds`.
    unit: &'a str,
    /// The smallest acceptable number.
    minimum: u64,
    /// The largest acceptable number.
    maximum: u64,
    /// The number used when the key is left out.
    default: u64,
}

fn resolve_in_range(
    origin: Origin<'_>,
    number: &Spanned<i64>,
    range_use: &RangeUse<'_>,
) -> Result<u64, ConfigError> {
    let RangeUse {
        key,
        unit,
        minimum,
        maximum,
        default,
    } = range_use;
    let value = *number.get_ref();
    match u64::try_from(value) {
        Ok(valid) if (*minimum..=*maximum).contains(&valid) => Ok(valid),
        _ => fail(
            origin,
            number.span(),
            key,
            format!("`{key}` = {value}: must be from {minimum} to {maximum} {unit}"),
            Some(format!(
                "use a number of {unit} from {minimum} to {maximum}, or leave the key out for \
                 the default {default}"
            )),
        ),
    }
}

fn resolve_size_budget(
    origin: Origin<'_>,
    budget: &Spanned<i64>,
    key: &str,
) -> Result<u64, ConfigError> {
    let value = *budget.get_ref();
    match u64::try_from(value) {
        Ok(valid) if valid > 0 => Ok(valid),
        _ => fail(
            origin,
            budget.span(),
            key,
            format!("`{key}` = {value}: must be a positive number of megabytes"),
            Some("leave the key out for no size budget".to_owned()),
        ),
    }
}

fn resolve_smoke_check(
    origin: Origin<'_>,
    table: &str,
    check: &Spanned<raw::SmokeCheck>,
    has_nginx: bool,
) -> Result<SmokeCheck, ConfigError> {
    let written = check.get_ref();

    let name = written.name.get_ref();
    if name.trim().is_empty() {
        let key = format!("{table}.name");
        return fail(
            origin,
            written.name.span(),
            &key,
            format!("`{key}` is empty"),
            Some("name the check, for example \"health through nginx\"".to_owned()),
        );
    }

    let path = written.path.get_ref();
    if !path.starts_with('/') {
        let key = format!("{table}.path");
        return fail(
            origin,
            written.path.span(),
            &key,
            format!("`{key}` = {path:?}: must start with `/`"),
            Some(format!("write \"/{path}\"")),
        );
    }
    if path.chars().any(char::is_whitespace) {
        let key = format!("{table}.path");
        return fail(
            origin,
            written.path.span(),
            &key,
            format!("`{key}` = {path:?}: must not contain whitespace"),
            Some("percent-encode it, for example \"/search/?q=a%20b\"".to_owned()),
        );
    }

    let via = resolve_via(origin, table, check, has_nginx)?;

    let method = match &written.method {
        Some(method) => {
            let text = method.get_ref();
            if !CHECK_METHODS.contains(&text.as_str()) {
                let key = format!("{table}.method");
                let all = render_backticked_list(&CHECK_METHODS);
                let hint = match closest_candidate(text, CHECK_METHODS) {
                    Some(suggestion) => {
                        format!("did you mean `{suggestion}`? the methods are {all}")
                    }
                    None => format!("the methods are {all}"),
                };
                return fail(
                    origin,
                    method.span(),
                    &key,
                    format!("`{key}` = {text:?}: not a method smoke checks send"),
                    Some(hint),
                );
            }
            text.clone()
        }
        None => DEFAULT_CHECK_METHOD.to_owned(),
    };

    let status = match &written.status {
        Some(status) => {
            let value = *status.get_ref();
            match u16::try_from(value) {
                Ok(valid) if (100..=599).contains(&valid) => valid,
                _ => {
                    let key = format!("{table}.status");
                    return fail(
                        origin,
                        status.span(),
                        &key,
                        format!("`{key}` = {value}: not an HTTP status code"),
                        Some(format!(
                            "use a status from 100 to 599, for example {DEFAULT_CHECK_STATUS}"
                        )),
                    );
                }
            }
        }
        None => DEFAULT_CHECK_STATUS,
    };

    let host = match &written.host {
        Some(host) => {
            let text = host.get_ref();
            if !is_valid_host_header(text) {
                let key = format!("{table}.host");
                return fail(
                    origin,
                    host.span(),
                    &key,
                    format!("`{key}` = {text:?}: not a Host header value"),
                    Some(
                        "write a host name, optionally with a port, for example \"localhost\" \
                         or \"example.com:8080\""
                            .to_owned(),
                    ),
                );
            }
            Some(text.clone())
        }
        None => None,
    };

    let json = match &written.json {
        Some(json) => resolve_json_expectations(origin, table, json)?,
        None => BTreeMap::new(),
    };
    let headers = match &written.headers {
        Some(headers) => resolve_header_expectations(origin, table, headers)?,
        None => BTreeMap::new(),
    };

    let mut body_contains = Vec::new();
    if let Some(substrings) = &written.body_contains {
        for (index, substring) in substrings.get_ref().iter().enumerate() {
            if substring.get_ref().is_empty() {
                let key = format!("{table}.body_contains[{index}]");
                return fail(
                    origin,
                    substring.span(),
                    &key,
                    format!("`{key}` is empty"),
                    Some("an empty string is in every body; write the text to look for".to_owned()),
                );
            }
            body_contains.push(substring.get_ref().clone());
        }
    }

    Ok(SmokeCheck {
        name: name.clone(),
        path: path.clone(),
        via,
        method,
        status,
        host,
        json,
        headers,
        body_contains,
    })
}

fn resolve_via(
    origin: Origin<'_>,
    table: &str,
    check: &Spanned<raw::SmokeCheck>,
    has_nginx: bool,
) -> Result<Via, ConfigError> {
    let key = format!("{table}.via");
    let Some(written) = &check.get_ref().via else {
        if has_nginx {
            return Ok(Via::Nginx);
        }
        // Placed at the check's `[[smoke.check]]` header: there is no `via` to point at.
        return fail(
            origin,
            check.span(),
            &key,
            format!(
                "`{key}` defaults to \"nginx\" but there is no [nginx] table"
            ),
            Some("add an [nginx] table, or write via = \"app\" to send the request straight to the app".to_owned()),
        );
    };
    let text = written.get_ref();
    let via = match text.as_str() {
        "nginx" => Via::Nginx,
        "app" => Via::App,
        _ => {
            let all = render_backticked_list(&VIA_NAMES);
            let hint = match closest_candidate(text, VIA_NAMES) {
                Some(suggestion) => format!("did you mean `{suggestion}`? `via` takes {all}"),
                None => format!("`via` takes {all}"),
            };
            return fail(
                origin,
                written.span(),
                &key,
                format!("`{key}` = {text:?}: not a container smoke checks can reach"),
                Some(hint),
            );
        }
    };
    if via == Via::Nginx && !has_nginx {
        return fail(
            origin,
            written.span(),
            &key,
            format!("`{key}` = \"nginx\" but there is no [nginx] table"),
            Some("add an [nginx] table, or write via = \"app\" to send the request straight to the app".to_owned()),
        );
    }
    Ok(via)
}

fn resolve_json_expectations(
    origin: Origin<'_>,
    table: &str,
    json: &BTreeMap<Spanned<String>, Spanned<String>>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut resolved = BTreeMap::new();
    let mut entries: Vec<_> = json.iter().collect();
    entries.sort_by_key(|(path, _)| path.span().start);
    for (path, expected) in entries {
        if !is_dotted_json_path(path.get_ref()) {
            let key = format!("{table}.json.{}", render_key(path.get_ref()));
            return fail(
                origin,
                path.span(),
                &key,
                format!("`{key}`: not a dotted path into the JSON body"),
                Some(
                    "name a value by its keys joined with `.`, for example \"checks.database\""
                        .to_owned(),
                ),
            );
        }
        resolved.insert(path.get_ref().clone(), expected.get_ref().clone());
    }
    Ok(resolved)
}

fn resolve_header_expectations(
    origin: Origin<'_>,
    table: &str,
    headers: &BTreeMap<Spanned<String>, Spanned<String>>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut resolved: BTreeMap<String, String> = BTreeMap::new();
    let mut entries: Vec<_> = headers.iter().collect();
    entries.sort_by_key(|(name, _)| name.span().start);
    let mut first_spelling: BTreeMap<String, &str> = BTreeMap::new();
    for (name, expected) in entries {
        let key = format!("{table}.headers.{}", render_key(name.get_ref()));
        if !is_valid_http_header_name(name.get_ref()) {
            return fail(
                origin,
                name.span(),
                &key,
                format!("`{key}`: not an HTTP header name"),
                Some("use letters, digits and `-`, for example \"content-type\"".to_owned()),
            );
        }
        let lowercase = name.get_ref().to_ascii_lowercase();
        if let Some(first) = first_spelling.get(&lowercase) {
            return fail(
                origin,
                name.span(),
                &key,
                format!("`{key}`: the header is already listed as `{first}`"),
                Some("header names are case-insensitive; list each header once".to_owned()),
            );
        }
        first_spelling.insert(lowercase.clone(), name.get_ref());
        resolved.insert(lowercase, expected.get_ref().clone());
    }
    Ok(resolved)
}

fn resolve_scan(
    origin: Origin<'_>,
    scan: &Spanned<raw::Scan>,
    has_nginx: bool,
) -> Result<Scan, ConfigError> {
    let written = scan.get_ref();

    let trivy_version = written.trivy_version.get_ref();
    if !is_trivy_version(trivy_version) {
        let hint = match trivy_version.strip_prefix('v') {
            Some(bare) if is_trivy_version(bare) => format!("write it without the `v`: \"{bare}\""),
            _ => format!(
                "pin an exact release, MAJOR.MINOR.PATCH, for example \"{EXAMPLE_TRIVY_VERSION}\""
            ),
        };
        return fail(
            origin,
            written.trivy_version.span(),
            "scan.trivy_version",
            format!("`scan.trivy_version` = {trivy_version:?}: not a trivy release number"),
            Some(hint),
        );
    }

    let scanners = match &written.scanners {
        Some(scanners) => resolve_choices(
            origin,
            scanners,
            &ChoiceList {
                key: "scan.scanners",
                noun: "scanner",
                unknown: "not a trivy scanner",
                choices: &SCANNERS,
                default: &DEFAULT_SCANNERS,
            },
        )?,
        None => DEFAULT_SCANNERS.map(str::to_owned).to_vec(),
    };

    let images = match &written.images {
        Some(images) => {
            let resolved = resolve_choices(
                origin,
                images,
                &ChoiceList {
                    key: "scan.images",
                    noun: "image",
                    unknown: "not an image Dockyard builds",
                    choices: &SCAN_IMAGES,
                    default: &DEFAULT_SCAN_IMAGES,
                },
            )?;
            let nginx_without_table = images
                .get_ref()
                .iter()
                .enumerate()
                .find(|(_, image)| image.get_ref() == "nginx" && !has_nginx);
            if let Some((index, image)) = nginx_without_table {
                let key = format!("scan.images[{index}]");
                return fail(
                    origin,
                    image.span(),
                    &key,
                    format!("`{key}` = \"nginx\" but there is no [nginx] table"),
                    Some("add an [nginx] table, or leave \"nginx\" out of scan.images".to_owned()),
                );
            }
            resolved
        }
        None => {
            if !has_nginx {
                // Placed at the `[scan]` header: there is no `images` to point at.
                return fail(
                    origin,
                    scan.span(),
                    "scan.images",
                    format!(
                        "`scan.images` defaults to {DEFAULT_SCAN_IMAGES:?} but there is no [nginx] \
                         table"
                    ),
                    Some(
                        "add an [nginx] table, or write images = [\"app\"] to scan the app image \
                         alone"
                            .to_owned(),
                    ),
                );
            }
            DEFAULT_SCAN_IMAGES.map(str::to_owned).to_vec()
        }
    };

    let fail_on_severity = resolve_severity(
        origin,
        written.fail_on_severity.as_ref(),
        "scan.fail_on_severity",
    )?;
    let misconfig_fail_on_severity = resolve_severity(
        origin,
        written.misconfig_fail_on_severity.as_ref(),
        "scan.misconfig_fail_on_severity",
    )?;

    let timeout_seconds = match &written.timeout_seconds {
        Some(seconds) => resolve_in_range(
            origin,
            seconds,
            &RangeUse {
                key: "scan.timeout_seconds",
                unit: "seconds",
                minimum: MINIMUM_SCAN_TIMEOUT_SECONDS,
                maximum: MAXIMUM_SCAN_TIMEOUT_SECONDS,
                default: DEFAULT_SCAN_TIMEOUT_SECONDS,
            },
        )?,
        None => DEFAULT_SCAN_TIMEOUT_SECONDS,
    };

    // The cache is trivy's to create, so it need not exist yet.
    let cache_dir = match &written.cache_dir {
        Some(cache_dir) => {
            let relative = resolve_project_relative_path(origin, cache_dir, "scan.cache_dir")?;
            if relative.as_os_str().is_empty() {
                return fail(
                    origin,
                    cache_dir.span(),
                    "scan.cache_dir",
                    format!(
                        "`scan.cache_dir` = {:?}: must name a folder inside the project folder, \
                         not the project folder itself",
                        cache_dir.get_ref()
                    ),
                    Some(format!("for example \"{DEFAULT_TRIVY_CACHE_DIR}\"")),
                );
            }
            origin.root.join(relative)
        }
        None => origin.root.join(DEFAULT_TRIVY_CACHE_DIR),
    };

    let db_repository = match &written.db_repository {
        Some(repository) => {
            let text = repository.get_ref();
            if text.trim().is_empty() {
                return fail(
                    origin,
                    repository.span(),
                    "scan.db_repository",
                    "`scan.db_repository` is empty".to_owned(),
                    Some(format!(
                        "name the repository of trivy's vulnerability database, for example \
                         \"{EXAMPLE_DB_REPOSITORY}\", or leave the key out for trivy's own"
                    )),
                );
            }
            if text.chars().any(char::is_whitespace) {
                return fail(
                    origin,
                    repository.span(),
                    "scan.db_repository",
                    format!("`scan.db_repository` = {text:?}: must not contain whitespace"),
                    Some(format!("for example \"{EXAMPLE_DB_REPOSITORY}\"")),
                );
            }
            Some(text.clone())
        }
        None => None,
    };

    let written_ignores = written.ignore.as_deref().unwrap_or_default();
    let mut ignores: Vec<ScanIgnore> = Vec::with_capacity(written_ignores.len());
    for (index, entry) in written_ignores.iter().enumerate() {
        let table = format!("scan.ignore[{index}]");
        let ignore = resolve_scan_ignore(origin, &table, entry.get_ref())?;
        let first_with_that_scope = ignores.iter().position(|earlier| {
            earlier.id == ignore.id
                && earlier.image == ignore.image
                && earlier.package == ignore.package
                && earlier.path == ignore.path
        });
        if let Some(first) = first_with_that_scope {
            let (first_line, _) = line_and_column(
                origin.source.text,
                written_ignores[first].get_ref().id.span().start,
            );
            let key = format!("{table}.id");
            return fail(
                origin,
                entry.get_ref().id.span(),
                &key,
                format!(
                    "`{key}` = {:?}: another entry already ignores this id with the same image, \
                     package and path",
                    ignore.id
                ),
                Some(format!(
                    "the first entry ignoring {:?} is on line {first_line}; keep one of the two",
                    ignore.id
                )),
            );
        }
        ignores.push(ignore);
    }

    Ok(Scan {
        trivy_version: trivy_version.clone(),
        scanners,
        images,
        fail_on_severity,
        ignore_unfixed: written
            .ignore_unfixed
            .as_ref()
            .is_some_and(|ignore_unfixed| *ignore_unfixed.get_ref()),
        misconfig_fail_on_severity,
        timeout_seconds,
        cache_dir,
        db_repository,
        ignores,
    })
}

/// Which closed list of names a list check is about, to word its messages.
struct ChoiceList<'a> {
    /// The full key of the list, for example `scan.scanners`.
    key: &'a str,
    /// What one name is, for example `scanner`.
    noun: &'a str,
    /// What an unknown name is not, for example `not a trivy scanner`.
    unknown: &'a str,
    /// Every acceptable name.
    choices: &'a [&'a str],
    /// The list used when the key is left out.
    default: &'a [&'a str],
}

/// A non-empty list of names from `choice_list.choices`, each listed once, in the file's order.
fn resolve_choices(
    origin: Origin<'_>,
    list: &raw::SpannedStrings,
    choice_list: &ChoiceList<'_>,
) -> Result<Vec<String>, ConfigError> {
    let ChoiceList {
        key: list_key,
        noun,
        unknown,
        choices,
        default,
    } = choice_list;
    let all = render_backticked_list(choices);
    if list.get_ref().is_empty() {
        return fail(
            origin,
            list.span(),
            list_key,
            format!("`{list_key}` is empty"),
            Some(format!(
                "the {noun}s are {all}; list at least one, or leave the key out for the default \
                 {default:?}"
            )),
        );
    }
    let mut resolved: Vec<String> = Vec::with_capacity(list.get_ref().len());
    for (index, name) in list.get_ref().iter().enumerate() {
        let key = format!("{list_key}[{index}]");
        let text = name.get_ref();
        if !choices.contains(&text.as_str()) {
            let hint = match closest_candidate(text, choices.iter().copied()) {
                Some(suggestion) => format!("did you mean `{suggestion}`? the {noun}s are {all}"),
                None => format!("the {noun}s are {all}"),
            };
            return fail(
                origin,
                name.span(),
                &key,
                format!("`{key}` = {text:?}: {unknown}"),
                Some(hint),
            );
        }
        if let Some(first) = resolved.iter().position(|earlier| earlier == text) {
            return fail(
                origin,
                name.span(),
                &key,
                format!("`{key}` = {text:?}: already listed as `{list_key}[{first}]`"),
                Some(format!("list each {noun} once")),
            );
        }
        resolved.push(text.clone());
    }
    Ok(resolved)
}

/// A trivy severity, in any case, stored uppercase; `HIGH` when not written.
fn resolve_severity(
    origin: Origin<'_>,
    severity: Option<&Spanned<String>>,
    key: &str,
) -> Result<String, ConfigError> {
    let Some(severity) = severity else {
        return Ok(DEFAULT_FAIL_ON_SEVERITY.to_owned());
    };
    let text = severity.get_ref();
    let uppercase = text.to_ascii_uppercase();
    if SEVERITIES.contains(&uppercase.as_str()) {
        return Ok(uppercase);
    }
    let all = render_backticked_list(&SEVERITIES);
    let hint = match closest_candidate(text, SEVERITIES) {
        Some(suggestion) => {
            format!("did you mean `{suggestion}`? the severities are {all}, lowest first")
        }
        None => format!("the severities are {all}, lowest first"),
    };
    fail(
        origin,
        severity.span(),
        key,
        format!("`{key}` = {text:?}: not a trivy severity"),
        Some(hint),
    )
}

fn resolve_scan_ignore(
    origin: Origin<'_>,
    table: &str,
    ignore: &raw::ScanIgnore,
) -> Result<ScanIgnore, ConfigError> {
    let id = ignore.id.get_ref();
    if id.trim().is_empty() {
        let key = format!("{table}.id");
        return fail(
            origin,
            ignore.id.span(),
            &key,
            format!("`{key}` is empty"),
            Some(
                "write the id of the finding to accept, for example \"CVE-2019-18276\"".to_owned(),
            ),
        );
    }
    if id.chars().any(char::is_whitespace) {
        let key = format!("{table}.id");
        return fail(
            origin,
            ignore.id.span(),
            &key,
            format!("`{key}` = {id:?}: must not contain whitespace"),
            Some(
                "write one [[scan.ignore]] entry for each id, for example \"CVE-2019-18276\""
                    .to_owned(),
            ),
        );
    }

    let reason = ignore.reason.get_ref();
    if reason.trim().chars().count() < MINIMUM_IGNORE_REASON_CHARACTERS {
        let key = format!("{table}.reason");
        return fail(
            origin,
            ignore.reason.span(),
            &key,
            format!(
                "`{key}` = {reason:?}: say why the risk is accepted, in at least \
                 {MINIMUM_IGNORE_REASON_CHARACTERS} characters"
            ),
            Some(
                "the reason is what the next reviewer reads, for example \"bash is not reachable \
                 from the app\""
                    .to_owned(),
            ),
        );
    }

    let expires = resolve_expiry_date(origin, table, &ignore.expires)?;

    let image = match &ignore.image {
        Some(image) => {
            let text = image.get_ref();
            if !SCAN_IMAGES.contains(&text.as_str()) {
                let key = format!("{table}.image");
                let all = render_backticked_list(&SCAN_IMAGES);
                let hint = match closest_candidate(text, SCAN_IMAGES) {
                    Some(suggestion) => format!("did you mean `{suggestion}`? the images are {all}"),
                    None => format!(
                        "the images are {all}; leave the key out to accept the finding in every image"
                    ),
                };
                return fail(
                    origin,
                    image.span(),
                    &key,
                    format!("`{key}` = {text:?}: not an image Dockyard builds"),
                    Some(hint),
                );
            }
            Some(text.clone())
        }
        None => None,
    };

    let package = match &ignore.package {
        Some(package) => {
            let text = package.get_ref();
            if !is_package_url_prefix(text) {
                let key = format!("{table}.package");
                return fail(
                    origin,
                    package.span(),
                    &key,
                    format!("`{key}` = {text:?}: not a package URL"),
                    Some(
                        "write a package URL or the start of one, without whitespace, for example \
                         \"pkg:deb/debian/bash\""
                            .to_owned(),
                    ),
                );
            }
            Some(text.clone())
        }
        None => None,
    };

    let path = match &ignore.path {
        Some(path) => {
            if path.get_ref().trim().is_empty() {
                let key = format!("{table}.path");
                return fail(
                    origin,
                    path.span(),
                    &key,
                    format!("`{key}` is empty"),
                    Some(
                        "write the path the finding is in, or leave the key out to accept it in \
                         any path"
                            .to_owned(),
                    ),
                );
            }
            Some(path.get_ref().clone())
        }
        None => None,
    };

    Ok(ScanIgnore {
        id: id.clone(),
        reason: reason.clone(),
        expires,
        image,
        package,
        path,
    })
}

/// `expires` as `YYYY-MM-DD`: a TOML local date, or a string holding one; a real day either way.
///
/// Whether the day has passed is not checked here: that depends on the day of the scan, and an
/// expired entry is for the scan gate to report, not for the config to refuse.
fn resolve_expiry_date(
    origin: Origin<'_>,
    table: &str,
    expires: &Spanned<toml::Value>,
) -> Result<String, ConfigError> {
    let key = format!("{table}.expires");
    let example =
        format!("write the last day the entry applies as a TOML date: `{EXAMPLE_EXPIRES}`");
    match expires.get_ref() {
        toml::Value::Datetime(datetime) => match (datetime.date, datetime.time, datetime.offset) {
            (Some(date), None, None) if is_real_day(date.year, date.month, date.day) => Ok(
                format!("{:04}-{:02}-{:02}", date.year, date.month, date.day),
            ),
            (Some(_), None, None) => fail(
                origin,
                expires.span(),
                &key,
                format!("`{key}` = {datetime}: there is no such day"),
                Some(example),
            ),
            (Some(date), _, _) => fail(
                origin,
                expires.span(),
                &key,
                format!("`{key}` = {datetime}: must be a date alone, without a time of day"),
                Some(format!(
                    "write the date alone: `expires = {:04}-{:02}-{:02}`",
                    date.year, date.month, date.day
                )),
            ),
            (None, _, _) => fail(
                origin,
                expires.span(),
                &key,
                format!("`{key}` = {datetime}: a time of day, not a date"),
                Some(example),
            ),
        },
        toml::Value::String(text) => match split_iso_date(text) {
            Some((year, month, day)) if is_real_day(year, month, day) => Ok(text.clone()),
            Some(_) => fail(
                origin,
                expires.span(),
                &key,
                format!("`{key}` = {text:?}: there is no such day"),
                Some(example),
            ),
            None => fail(
                origin,
                expires.span(),
                &key,
                format!("`{key}` = {text:?}: not a date"),
                Some(example),
            ),
        },
        other => fail(
            origin,
            expires.span(),
            &key,
            format!(
                "`{key}` must be a date, found {}",
                toml_value_kind(other).with_article()
            ),
            Some(example),
        ),
    }
}

fn toml_value_kind(value: &toml::Value) -> ValueKind {
    match value {
        toml::Value::String(_) => ValueKind::String,
        toml::Value::Integer(_) => ValueKind::Integer,
        toml::Value::Float(_) => ValueKind::Float,
        toml::Value::Boolean(_) => ValueKind::Boolean,
        toml::Value::Datetime(_) => ValueKind::Datetime,
        toml::Value::Array(_) => ValueKind::Array,
        toml::Value::Table(_) => ValueKind::Table,
    }
}

fn resolve_release(
    origin: Origin<'_>,
    release: &Spanned<raw::Release>,
    project: &Project,
    has_nginx: bool,
) -> Result<Release, ConfigError> {
    let written = release.get_ref();

    let registry = match &written.registry {
        Some(registry) => Some(resolve_registry(origin, registry)?),
        None => None,
    };

    let app_repository = resolve_repository(
        origin,
        release,
        &RepositoryUse {
            key: "release.app_repository",
            written: written.app_repository.as_ref(),
            default: project.name.clone(),
            default_source: "project.name",
            registry: registry.as_deref(),
        },
    )?;

    let nginx_repository = match (&written.nginx_repository, has_nginx) {
        (Some(repository), false) => {
            return fail(
                origin,
                repository.span(),
                "release.nginx_repository",
                format!(
                    "`release.nginx_repository` = {:?} but there is no [nginx] table",
                    repository.get_ref()
                ),
                Some(
                    "add an [nginx] table, or leave `nginx_repository` out: without one there is \
                     no nginx image to release"
                        .to_owned(),
                ),
            );
        }
        (None, false) => None,
        (written_repository, true) => Some(resolve_repository(
            origin,
            release,
            &RepositoryUse {
                key: "release.nginx_repository",
                written: written_repository.as_ref(),
                default: format!("{}-nginx", project.name),
                default_source: "project.name followed by `-nginx`",
                registry: registry.as_deref(),
            },
        )?),
    };
    if nginx_repository.as_ref() == Some(&app_repository) {
        // Placed at whichever of the two was written: both defaults never collide.
        let hint = Some(
            "the app and nginx images get the same tags, so each needs a repository of its own"
                .to_owned(),
        );
        if let Some(written_nginx) = &written.nginx_repository {
            let which_defaults = match &written.app_repository {
                Some(_) => "",
                None => ", which defaults to project.name",
            };
            return fail(
                origin,
                written_nginx.span(),
                "release.nginx_repository",
                format!(
                    "`release.nginx_repository` = {app_repository:?}: the same repository as \
                     `release.app_repository`{which_defaults}"
                ),
                hint,
            );
        }
        if let Some(written_app) = &written.app_repository {
            return fail(
                origin,
                written_app.span(),
                "release.app_repository",
                format!(
                    "`release.app_repository` = {app_repository:?}: the same repository as \
                     `release.nginx_repository`, which defaults to {app_repository:?}"
                ),
                hint,
            );
        }
    }

    let tags = match &written.tags {
        Some(tags) => resolve_tag_templates(
            origin,
            tags,
            &TagList {
                key: "release.tags",
                default: &DEFAULT_RELEASE_TAGS,
                may_be_empty: false,
            },
            &project.name,
        )?,
        None => DEFAULT_RELEASE_TAGS.map(str::to_owned).to_vec(),
    };
    let moving_tags = match &written.moving_tags {
        Some(moving_tags) => resolve_tag_templates(
            origin,
            moving_tags,
            &TagList {
                key: "release.moving_tags",
                default: &DEFAULT_MOVING_TAGS,
                may_be_empty: true,
            },
            &project.name,
        )?,
        None => DEFAULT_MOVING_TAGS.map(str::to_owned).to_vec(),
    };
    check_tags_do_not_move(origin, written, &tags, &moving_tags)?;

    let push_attempts = match &written.push_attempts {
        Some(attempts) => resolve_in_range(
            origin,
            attempts,
            &RangeUse {
                key: "release.push_attempts",
                unit: "attempts",
                minimum: 1,
                maximum: MAXIMUM_PUSH_ATTEMPTS,
                default: DEFAULT_PUSH_ATTEMPTS,
            },
        )?,
        None => DEFAULT_PUSH_ATTEMPTS,
    };
    let push_backoff_ms = match &written.push_backoff_ms {
        Some(backoff) => resolve_in_range(
            origin,
            backoff,
            &RangeUse {
                key: "release.push_backoff_ms",
                unit: "milliseconds",
                minimum: 0,
                maximum: MAXIMUM_PUSH_BACKOFF_MS,
                default: DEFAULT_PUSH_BACKOFF_MS,
            },
        )?,
        None => DEFAULT_PUSH_BACKOFF_MS,
    };

    let username_env = resolve_credential_variable(
        origin,
        written.username_env.as_ref(),
        "release.username_env",
        DEFAULT_USERNAME_ENV,
    )?;
    let password_env = resolve_credential_variable(
        origin,
        written.password_env.as_ref(),
        "release.password_env",
        DEFAULT_PASSWORD_ENV,
    )?;
    if username_env == password_env {
        // Placed at whichever of the two was written: both defaults differ.
        let written_one = match (&written.password_env, &written.username_env) {
            (Some(password), _) => Some((password, "release.password_env", "release.username_env")),
            (None, Some(username)) => {
                Some((username, "release.username_env", "release.password_env"))
            }
            (None, None) => None,
        };
        if let Some((variable, key, other)) = written_one {
            return fail(
                origin,
                variable.span(),
                key,
                format!("`{key}` = {password_env:?}: the same variable as `{other}`"),
                Some("the username and the password come from two variables".to_owned()),
            );
        }
    }

    Ok(Release {
        registry,
        app_repository,
        nginx_repository,
        tags,
        moving_tags,
        // Both were checked against small maximums.
        push_attempts: u32::try_from(push_attempts).unwrap_or(u32::MAX),
        push_backoff_ms,
        username_env,
        password_env,
    })
}

/// A registry host with an optional port and namespace path, without scheme, slash or tag.
fn resolve_registry(origin: Origin<'_>, registry: &Spanned<String>) -> Result<String, ConfigError> {
    let key = "release.registry";
    let text = registry.get_ref();
    let invalid =
        |message: String, hint: String| fail(origin, registry.span(), key, message, Some(hint));
    let write_instead = |suggestion: &str| {
        if check_registry_prefix(suggestion).is_ok() {
            format!("write {suggestion:?}")
        } else {
            HINT_REGISTRY_EXAMPLES.to_owned()
        }
    };
    if text.is_empty() {
        return invalid(
            format!("`{key}` is empty"),
            "name a registry such as \"ghcr.io/owner\" or \"localhost:5000\", or leave the key \
             out to write image archives instead of pushing"
                .to_owned(),
        );
    }
    if let Some((_, rest)) = text.split_once("://") {
        return invalid(
            format!("`{key}` = {text:?}: a registry is written without a scheme"),
            write_instead(rest.trim_end_matches('/')),
        );
    }
    if text.ends_with('/') {
        return invalid(
            format!("`{key}` = {text:?}: must not end with `/`"),
            write_instead(text.trim_end_matches('/')),
        );
    }
    let has_tag_or_digest = text.contains('@')
        || text
            .split_once('/')
            .is_some_and(|(_, namespace)| namespace.contains(':'));
    if has_tag_or_digest {
        return invalid(
            format!("`{key}` = {text:?}: a registry takes no tag or digest"),
            "write the registry and namespace alone, for example \"ghcr.io/owner\": the \
             repositories come from `release.app_repository` and `release.nginx_repository`, the \
             tags from `release.tags` and `release.moving_tags`"
                .to_owned(),
        );
    }
    if let Err(reason) = check_registry_prefix(text) {
        let hint = match suggest_registry_prefix(text) {
            Some(suggestion) => format!("write {suggestion:?}"),
            None => HINT_REGISTRY_EXAMPLES.to_owned(),
        };
        return invalid(format!("`{key}` = {text:?}: {reason}"), hint);
    }
    Ok(text.clone())
}

/// Which repository a repository check is about, to word its messages.
struct RepositoryUse<'a> {
    /// The full key, for example `release.app_repository`.
    key: &'a str,
    /// The repository as written, if it was.
    written: Option<&'a Spanned<String>>,
    /// The repository used when the key is left out.
    default: String,
    /// Where the default comes from, for example `project.name`.
    default_source: &'a str,
    /// The registry the repository goes to, if any.
    registry: Option<&'a str>,
}

fn resolve_repository(
    origin: Origin<'_>,
    release: &Spanned<raw::Release>,
    repository_use: &RepositoryUse<'_>,
) -> Result<String, ConfigError> {
    let RepositoryUse {
        key,
        written,
        default,
        default_source,
        registry,
    } = repository_use;
    let field = key.trim_start_matches("release.");
    let (repository, span, shown) = match written {
        Some(written) => (
            written.get_ref().clone(),
            written.span(),
            format!("`{key}` = {:?}", written.get_ref()),
        ),
        // Placed at the `[release]` header: there is no key to point at.
        None => (
            default.clone(),
            release.span(),
            format!("`{key}` defaults to {default:?} ({default_source})"),
        ),
    };

    if let Err(reason) = check_repository(&repository) {
        let hint = match suggest_repository(&repository) {
            Some(suggestion) => format!("write `{field} = {suggestion:?}`"),
            None => HINT_REPOSITORY_EXAMPLES.to_owned(),
        };
        return fail(origin, span, key, format!("{shown}: {reason}"), Some(hint));
    }
    if let Some((first, _)) = repository.split_once('/') {
        if looks_like_registry(first) {
            let last = repository.rsplit('/').next().unwrap_or(&repository);
            return fail(
                origin,
                span,
                key,
                format!("{shown}: `{first}` looks like a registry host"),
                Some(format!(
                    "the registry goes in `release.registry`; write the path after it here, for \
                     example `{field} = {last:?}`"
                )),
            );
        }
    }
    let name_length = registry.map_or(0, |registry| registry.len() + 1) + repository.len();
    if name_length > MAXIMUM_NAME_LENGTH {
        let with_registry = if registry.is_some() {
            " with the registry"
        } else {
            ""
        };
        return fail(
            origin,
            span,
            key,
            format!(
                "{shown}: the image name{with_registry} is {name_length} characters long, more \
                 than {MAXIMUM_NAME_LENGTH}"
            ),
            Some("shorten the registry's namespace path or the repository".to_owned()),
        );
    }
    Ok(repository)
}

/// Which list of tag templates a list check is about, to word its messages.
struct TagList<'a> {
    /// The full key of the list, for example `release.tags`.
    key: &'a str,
    /// The list used when the key is left out.
    default: &'a [&'a str],
    /// Whether the list may be empty.
    may_be_empty: bool,
}

/// Tag templates, each listed once, in the file's order.
fn resolve_tag_templates(
    origin: Origin<'_>,
    list: &raw::SpannedStrings,
    tag_list: &TagList<'_>,
    project: &str,
) -> Result<Vec<String>, ConfigError> {
    let TagList {
        key: list_key,
        default,
        may_be_empty,
    } = tag_list;
    if list.get_ref().is_empty() && !may_be_empty {
        return fail(
            origin,
            list.span(),
            list_key,
            format!("`{list_key}` is empty"),
            Some(format!(
                "list at least one tag template, for example {default:?}, or leave the key out \
                 for that default"
            )),
        );
    }
    let mut resolved: Vec<String> = Vec::with_capacity(list.get_ref().len());
    for (index, template) in list.get_ref().iter().enumerate() {
        let key = format!("{list_key}[{index}]");
        check_tag_template(origin, template, &key, project)?;
        let text = template.get_ref();
        if let Some(first) = resolved.iter().position(|earlier| earlier == text) {
            return fail(
                origin,
                template.span(),
                &key,
                format!("`{key}` = {text:?}: already listed as `{list_key}[{first}]`"),
                Some("list each tag once".to_owned()),
            );
        }
        resolved.push(text.clone());
    }
    Ok(resolved)
}

/// Fails unless `template` holds only known placeholders and tag characters, and renders a valid
/// Docker tag with a sample version and git sha.
fn check_tag_template(
    origin: Origin<'_>,
    template: &Spanned<String>,
    key: &str,
    project: &str,
) -> Result<(), ConfigError> {
    let text = template.get_ref();
    let invalid =
        |message: String, hint: String| fail(origin, template.span(), key, message, Some(hint));
    let placeholders = render_backticked_list(&PLACEHOLDERS);
    if text.is_empty() {
        return invalid(
            format!("`{key}` is empty"),
            "write a tag such as \"latest\" or \"v{version}\"".to_owned(),
        );
    }
    let pieces = match split_tag_template(text) {
        Ok(pieces) => pieces,
        Err(reason) => {
            return invalid(
                format!("`{key}` = {text:?}: {reason}"),
                format!("braces only surround a placeholder: {placeholders}"),
            );
        }
    };
    for piece in pieces {
        match piece {
            TemplatePiece::Placeholder(placeholder) if !PLACEHOLDERS.contains(&placeholder) => {
                let hint = match closest_candidate(placeholder, PLACEHOLDERS) {
                    Some(suggestion) => {
                        format!("did you mean `{suggestion}`? the placeholders are {placeholders}")
                    }
                    None => format!("the placeholders are {placeholders}"),
                };
                return invalid(
                    format!("`{key}` = {text:?}: unknown placeholder `{placeholder}`"),
                    hint,
                );
            }
            TemplatePiece::Placeholder(_) => {}
            TemplatePiece::Literal(literal) => {
                if let Some(character) = literal
                    .chars()
                    .find(|character| !is_tag_character(*character))
                {
                    return invalid(
                        format!("`{key}` = {text:?}: {character:?} is not allowed in a tag"),
                        format!(
                            "around the placeholders ({placeholders}) a tag uses letters, digits, \
                             `_`, `.` and `-`"
                        ),
                    );
                }
            }
        }
    }
    let rendered = render_tag_template(
        text,
        &TagValues {
            version: SAMPLE_TAG_VERSION,
            git_sha: SAMPLE_TAG_GIT_SHA,
            project,
        },
    );
    if rendered.len() > MAXIMUM_TAG_LENGTH {
        return invalid(
            format!(
                "`{key}` = {text:?}: renders to {} characters, more than {MAXIMUM_TAG_LENGTH}",
                rendered.len()
            ),
            format!(
                "that is with version \"{SAMPLE_TAG_VERSION}\" and git sha \
                 \"{SAMPLE_TAG_GIT_SHA}\"; shorten the text around the placeholders"
            ),
        );
    }
    if !is_valid_tag(&rendered) {
        let trimmed = text.trim_start_matches(['.', '-']);
        let hint = if trimmed.is_empty() {
            "start it with a letter, a digit, `_` or a placeholder".to_owned()
        } else {
            format!("write {trimmed:?}")
        };
        return invalid(
            format!("`{key}` = {text:?}: a tag must not start with `.` or `-`"),
            hint,
        );
    }
    Ok(())
}

/// Fails when a moving tag is also a tag: the one would move what the other promises to keep.
fn check_tags_do_not_move(
    origin: Origin<'_>,
    written: &raw::Release,
    tags: &[String],
    moving_tags: &[String],
) -> Result<(), ConfigError> {
    let hint = "a tag in `tags` stays on the release it was pushed for, a moving tag follows the \
                newest release; keep it in one of the two lists";
    for (moving_index, moving_tag) in moving_tags.iter().enumerate() {
        let Some(index) = tags.iter().position(|tag| tag == moving_tag) else {
            continue;
        };
        // Placed at whichever of the two was written: both defaults never overlap.
        if let Some(written_moving) = &written.moving_tags {
            let key = format!("release.moving_tags[{moving_index}]");
            let also = match &written.tags {
                Some(_) => format!("also listed as `release.tags[{index}]`"),
                None => {
                    format!("also in `release.tags`, which defaults to {DEFAULT_RELEASE_TAGS:?}")
                }
            };
            return fail(
                origin,
                written_moving.get_ref()[moving_index].span(),
                &key,
                format!("`{key}` = {moving_tag:?}: {also}"),
                Some(hint.to_owned()),
            );
        }
        if let Some(written_tags) = &written.tags {
            let key = format!("release.tags[{index}]");
            return fail(
                origin,
                written_tags.get_ref()[index].span(),
                &key,
                format!(
                    "`{key}` = {moving_tag:?}: also in `release.moving_tags`, which defaults to \
                     {DEFAULT_MOVING_TAGS:?}"
                ),
                Some(format!("{hint}, or write `moving_tags = []`")),
            );
        }
    }
    Ok(())
}

/// The name of an environment variable holding a registry credential; never shows the value,
/// which may be the credential itself.
fn resolve_credential_variable(
    origin: Origin<'_>,
    written: Option<&Spanned<String>>,
    key: &str,
    default: &str,
) -> Result<String, ConfigError> {
    let Some(variable) = written else {
        return Ok(default.to_owned());
    };
    let text = variable.get_ref();
    if is_uppercase_environment_variable_name(text) {
        return Ok(text.clone());
    }
    let message = if looks_like_credential(text) {
        format!(
            "`{key}` looks like a credential, not the name of an environment variable; if it is \
             a real one, revoke it"
        )
    } else {
        format!(
            "`{key}` is not an environment variable name: use uppercase letters, digits and `_`, \
             not starting with a digit"
        )
    };
    fail(
        origin,
        variable.span(),
        key,
        message,
        Some(HINT_CREDENTIAL_NAMES.to_owned()),
    )
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
