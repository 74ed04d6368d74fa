//! `[app]`: the Django project folder, its entry points, test command and runtime environment (its requirement
//! files are resolved with `[dependencies]`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use toml::Spanned;

use super::numbers::{resolve_port, PortUse};
use super::{fail, resolve_app_relative_path, resolve_project_relative_path, Origin};
use crate::container_paths::{absolute_container_path, ContainerPathProblem, StaticRoot, APP_DIR};
use crate::error::ConfigError;
use crate::model::App;
use crate::names::{
    is_dotted_python_path, is_valid_environment_variable_name, is_wsgi_reference,
    looks_like_secret_name,
};
use crate::paths::{
    check_path_exists, check_stays_inside_through_links, display_path, ExpectedEntry, PathCheck,
};
use crate::raw;
use crate::source_map::render_key;

const DEFAULT_HEALTH_PATH: &str = "/health/";
const DEFAULT_STATIC_ROOT: &str = "staticfiles";
const DEFAULT_TEST_COMMAND: [&str; 4] = ["python", "manage.py", "test", "--noinput"];
const HINT_SECRETS: &str =
    "deploy.toml is committed: name the variable in `[app] secrets` instead, and Dockyard gives it a throwaway value in each run (DJANGO_SECRET_KEY always gets one)";
/// The variable every run gives a throwaway secret key, whatever `secrets` says.
const DJANGO_SECRET_KEY: &str = "DJANGO_SECRET_KEY";

pub(super) fn resolve_app(origin: Origin<'_>, app: &raw::App) -> Result<App, ConfigError> {
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
        Some(health_path) => super::resolve_http_path(origin, health_path, "app.health_path")?,
        None => DEFAULT_HEALTH_PATH.to_owned(),
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
        None => StaticRoot::InApp(PathBuf::from(DEFAULT_STATIC_ROOT)),
    };

    let env = match &app.env {
        Some(env) => resolve_environment(origin, env, "app.env")?,
        None => BTreeMap::new(),
    };

    let secrets = match &app.secrets {
        Some(secrets) => resolve_secrets(origin, secrets, &env)?,
        None => Vec::new(),
    };

    Ok(App {
        path: app_path,
        settings_module: settings_module.clone(),
        wsgi: wsgi.clone(),
        port,
        health_path,
        test_command,
        static_root,
        env,
        secrets,
        processes: super::services::resolve_processes(origin, app.process.as_ref())?,
    })
}

/// `[app] secrets`: valid variable names, each once, none also in `[app.env]`, not `DJANGO_SECRET_KEY`.
fn resolve_secrets(
    origin: Origin<'_>,
    secrets: &raw::SpannedStrings,
    env: &BTreeMap<String, String>,
) -> Result<Vec<String>, ConfigError> {
    let mut resolved: Vec<String> = Vec::new();
    for (index, name) in secrets.get_ref().iter().enumerate() {
        let key = format!("app.secrets[{index}]");
        let text = name.get_ref();
        let problem = if !is_valid_environment_variable_name(text) {
            Some((
                format!("`{key}` = {text:?}: not a valid environment variable name"),
                "use letters, digits and `_`, not starting with a digit".to_owned(),
            ))
        } else if text == DJANGO_SECRET_KEY {
            Some((
                format!(
                    "`{key}` = {text:?}: Dockyard gives it a throwaway value in every run already"
                ),
                "remove it from `secrets`".to_owned(),
            ))
        } else if env.contains_key(text) {
            Some((
                format!("`{key}` = {text:?}: also written in [app.env]"),
                "a secret gets a throwaway value in each run: remove it from [app.env]".to_owned(),
            ))
        } else if resolved.contains(text) {
            Some((
                format!("`{key}` = {text:?}: named twice"),
                "name each variable once".to_owned(),
            ))
        } else {
            None
        };
        if let Some((message, hint)) = problem {
            return fail(origin, name.span(), &key, message, Some(hint));
        }
        resolved.push(text.clone());
    }
    Ok(resolved)
}

/// `app.static_root`: a folder inside app.path (relative to it), or an absolute container path outside the app
/// folder and the folders the images need (`/public_collected`).
fn resolve_static_root(
    origin: Origin<'_>,
    static_root: &Spanned<String>,
) -> Result<StaticRoot, ConfigError> {
    let text = static_root.get_ref();
    if text.starts_with('/') {
        let problem = match absolute_container_path(text) {
            Ok(path) => return Ok(StaticRoot::Absolute(path)),
            Err(problem) => problem,
        };
        let (message, hint) = match problem {
            ContainerPathProblem::Root => (
                format!("`app.static_root` = {text:?}: the container's root folder"),
                format!("name a folder of its own, for example \"/{DEFAULT_STATIC_ROOT}\""),
            ),
            ContainerPathProblem::NotNormal => (
                format!("`app.static_root` = {text:?}: `.` and `..` are not allowed in an absolute static root"),
                "write the folder as STATIC_ROOT resolves it, for example \"/public_collected\"".to_owned(),
            ),
            ContainerPathProblem::Reserved(first) => (
                format!("`app.static_root` = {text:?}: {first} belongs to the image (system files, the app folder {APP_DIR} or the builder's folders)"),
                format!(
                    "use a folder of its own at the container root (for example \"/public_collected\"), or a folder \
                     inside app.path such as \"{DEFAULT_STATIC_ROOT}\""
                ),
            ),
        };
        return fail(
            origin,
            static_root.span(),
            "app.static_root",
            message,
            Some(hint),
        );
    }
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
    Ok(StaticRoot::InApp(relative))
}

/// Fails unless `name` (written at `key`) is a valid environment variable name.
pub(super) fn check_variable_name(
    origin: Origin<'_>,
    name: &Spanned<String>,
    key: &str,
) -> Result<(), ConfigError> {
    if is_valid_environment_variable_name(name.get_ref()) {
        return Ok(());
    }
    fail(
        origin,
        name.span(),
        key,
        format!("`{key}`: not a valid environment variable name"),
        Some("use letters, digits and `_`, not starting with a digit".to_owned()),
    )
}

/// The environment table `table` (`app.env`, `assets.env`): valid names, none secret-looking.
pub(super) fn resolve_environment(
    origin: Origin<'_>,
    env: &BTreeMap<Spanned<String>, Spanned<String>>,
    table: &str,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut resolved = BTreeMap::new();
    // Report problems in the order they are written, not in key order.
    let mut entries: Vec<_> = env.iter().collect();
    entries.sort_by_key(|(name, _)| name.span().start);
    for (name, value) in entries {
        let key = format!("{table}.{}", render_key(name.get_ref()));
        check_variable_name(origin, name, &key)?;
        if looks_like_secret_name(name.get_ref()) {
            return fail(
                origin,
                name.span(),
                &key,
                format!("`{key}`: secret-looking key in {table}"),
                Some(HINT_SECRETS.to_owned()),
            );
        }
        resolved.insert(name.get_ref().clone(), value.get_ref().clone());
    }
    Ok(resolved)
}
