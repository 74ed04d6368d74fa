//! Rendering an [`Inspection`] as a commented `deploy.toml`: each value with a comment saying where it was found.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use dockyard_config::container_paths::absolute_container_path;
use dockyard_python::{DependencyFormat, RequirementsFile, RequirementsRole};

use crate::{Inspection, PythonChoice, StaticRoot, TestRunner};

/// The Pipfile.lock category pipenv writes for `[dev-packages]`.
const PIPENV_DEVELOP: &str = "develop";

/// Group and extra names that are for tests and development, not the production image.
const DEVELOPMENT_GROUPS: &[&str] = &[
    "dev",
    "develop",
    "development",
    "test",
    "tests",
    "testing",
    "lint",
    "docs",
    "ci",
];

/// The host smoke asks for: nginx's first default `server_name`.
const SMOKE_HOST: &str = "localhost";
/// The port `[app] port` gets: gunicorn's default.
const DEFAULT_PORT: u16 = 8000;

/// The `deploy.toml` for `inspection`.
pub fn render(inspection: &Inspection) -> String {
    let mut out = String::new();
    let line = |out: &mut String, text: &str| {
        out.push_str(text);
        out.push('\n');
    };
    line(
        &mut out,
        &format!(
            "# deploy.toml for {}, written by `cargo xtask init` from the project's files",
            inspection.project_name
        ),
    );
    line(&mut out, "# (nothing was run).");
    line(&mut out, "# Paths are relative to the folder holding this file. Each value says where it was found: review them, then run");
    line(
        &mut out,
        "# `cargo xtask plan --config deploy.toml` and `cargo xtask check --config deploy.toml`.",
    );
    line(&mut out, "# Dockerfile templates, base images and the nginx configuration are Dockyard's built-in defaults.");
    line(&mut out, "");
    line(&mut out, "[project]");
    line(
        &mut out,
        &format!("name = {}", quote(&inspection.project_name)),
    );
    render_python(&mut out, inspection);
    let requirements = render_dependencies(&mut out, inspection);
    render_app(&mut out, inspection, requirements);
    render_packages(&mut out, inspection);
    render_nginx(&mut out, inspection);
    render_smoke(&mut out, inspection);
    render_release(&mut out, inspection);
    render_services(&mut out, inspection);
    render_assets(&mut out, inspection);
    out
}

fn render_python(out: &mut String, inspection: &Inspection) {
    let offered: Vec<String> = crate::offered_pythons()
        .iter()
        .map(|offered| format!("{} (Debian {})", offered.version_key, offered.suite))
        .collect();
    out.push('\n');
    for request in &inspection.python_requests {
        let _ = writeln!(out, "# Python asked for: {request}.");
    }
    match inspection.python {
        PythonChoice::NotAsked => {
            let _ = writeln!(
                out,
                "# The project asks for no Python version: Dockyard's default applies ({}).",
                offered.join(" or ")
            );
        }
        PythonChoice::NoneFits(chosen) => {
            let _ = writeln!(
                out,
                "# None of the versions Dockyard offers fits: {}.",
                offered.join(", ")
            );
            let _ = writeln!(out, "# The newest is chosen, and each file asking otherwise is ignored below, so every `plan` prints the");
            let _ = writeln!(out, "# mismatch and the builder's tests prove the project on it. To drop an entry, change the file's request or");
            let _ = writeln!(
                out,
                "# give [base.runtime] and [base.builder] images that bring a fitting Python."
            );
            let _ = writeln!(out, "[python]");
            let _ = writeln!(out, "version = {}", quote(chosen.version_key));
            let mut files: Vec<PathBuf> = Vec::new();
            for request in &inspection.python_requests {
                let file = inspection.dependency_root.join(&request.file);
                if !request.allows(chosen.version) && !files.contains(&file) {
                    files.push(file);
                }
            }
            for file in files {
                let _ = writeln!(out, "\n[[python.ignore]]");
                let _ = writeln!(out, "file = {}", quote(&file.to_string_lossy()));
                let reason = format!(
                    "written by init: no offered Python fits; {} (Debian {}) is the newest on offer",
                    chosen.version_key, chosen.suite
                );
                let _ = writeln!(out, "reason = {}", quote(&reason));
            }
        }
        PythonChoice::Offered(chosen) => {
            let fitting: Vec<&str> = crate::offered_pythons()
                .iter()
                .filter(|offered| {
                    inspection
                        .python_requests
                        .iter()
                        .all(|request| request.allows(offered.version))
                })
                .map(|offered| offered.version_key)
                .collect();
            let _ = writeln!(
                out,
                "# Dockyard offers {}; fitting: {} (the oldest is chosen).",
                offered.join(", "),
                fitting.join(", ")
            );
            let _ = writeln!(out, "[python]");
            let _ = writeln!(out, "version = {}", quote(chosen.version_key));
        }
    }
    render_official_images(out, inspection);
}

/// The official python images a team with a registry would pick instead of the Debian recipes, as a comment: the
/// templates work on both (Python in `/usr/local` or in `/usr`).
fn render_official_images(out: &mut String, inspection: &Inspection) {
    let (version, suite) = match inspection.python {
        PythonChoice::Offered(chosen) | PythonChoice::NoneFits(chosen) => {
            (chosen.version_key, chosen.suite)
        }
        PythonChoice::NotAsked => {
            let python = dockyard_config::PythonVersion::DEFAULT;
            (python.as_str(), python.debian_suite())
        }
    };
    let _ = writeln!(out, "\n# The bases are Debian {suite} recipes, bootstrapped with mmdebstrap when no registry has them. With a");
    let _ = writeln!(out, "# registry (GitHub Actions, most CI), the official images are the usual choice: uncomment, pull once, then pin");
    let _ = writeln!(out, "# each by digest (`image = \"python:{version}-slim-{suite}@sha256:...\"`). The builder needs a compiler: the full image.");
    let _ = writeln!(out, "# Debian packages added through [production] or [builder] packages need the recipes (or images of your own).");
    let _ = writeln!(out, "# [base.runtime]");
    let _ = writeln!(out, "# image = \"python:{version}-slim-{suite}\"");
    let _ = writeln!(out, "# pull = true");
    let _ = writeln!(out, "# [base.builder]");
    let _ = writeln!(out, "# image = \"python:{version}-{suite}\"");
    let _ = writeln!(out, "# pull = true");
}

/// Writes `[dependencies]` for lock-file formats; returns the requirements files for `[app]` otherwise.
fn render_dependencies(
    out: &mut String,
    inspection: &Inspection,
) -> Option<(Vec<PathBuf>, Vec<PathBuf>)> {
    let at_root = |path: &Path| inspection.dependency_root.join(path);
    let Some(format) = &inspection.dependencies else {
        out.push_str("\n# No dependency files found (requirements*.txt, pyproject.toml + a lock, Pipfile.lock).\n");
        return None;
    };
    if let DependencyFormat::Requirements(files) = format {
        // A file another file of the same role includes is installed through that one.
        let chosen = |role: RequirementsRole| -> Vec<PathBuf> {
            let included: Vec<&Path> = files
                .iter()
                .filter(|file| file.role == role)
                .flat_map(|file| file.includes.iter().map(|include| include.path.as_path()))
                .collect();
            files
                .iter()
                .filter(|file: &&RequirementsFile| {
                    file.role == role && !included.contains(&file.path.as_path())
                })
                .map(|file| at_root(&file.path))
                .collect()
        };
        return Some((
            chosen(RequirementsRole::Production),
            chosen(RequirementsRole::Development),
        ));
    }
    let files: Vec<String> = format
        .files()
        .iter()
        .map(|file| quote(&slashes(&at_root(file))))
        .collect();
    let (groups, kind) = match format {
        DependencyFormat::Uv { extras, groups, .. } => (
            extras.iter().chain(groups).cloned().collect(),
            "extras and groups",
        ),
        DependencyFormat::Poetry { groups, .. } => (groups.clone(), "groups"),
        // pipenv always writes the `develop` category beside `default`.
        DependencyFormat::Pipenv { .. } => (vec![PIPENV_DEVELOP.to_owned()], "categories"),
        _ => (Vec::new(), "groups"),
    };
    let (test, production): (Vec<String>, Vec<String>) = groups
        .into_iter()
        .partition(|group| DEVELOPMENT_GROUPS.contains(&group.as_str()));
    let _ = writeln!(out, "\n# Dependencies: {format}.");
    let _ = writeln!(out, "# Dockyard installs what the lock pins, hash-checked: production groups in the production image,");
    let _ = writeln!(
        out,
        "# test groups in the builder only. Files are relative to the folder holding this file."
    );
    let _ = writeln!(out, "[dependencies]");
    let _ = writeln!(out, "format = {}", quote(format.name()));
    let _ = writeln!(out, "files = [{}]", files.join(", "));
    if !production.is_empty() {
        let _ = writeln!(
            out,
            "# Optional {kind} installed beside the main dependencies, in the production image."
        );
        let _ = writeln!(out, "groups = {}", array(&production));
    }
    if !test.is_empty() {
        let _ = writeln!(out, "# Optional {kind} for the tests only, in the builder.");
        let _ = writeln!(out, "test_groups = {}", array(&test));
    }
    None
}

fn render_app(
    out: &mut String,
    inspection: &Inspection,
    requirements: Option<(Vec<PathBuf>, Vec<PathBuf>)>,
) {
    let app = &inspection.app_path;
    let settings = &inspection.settings;
    let _ = writeln!(out, "\n[app]");
    let where_manage_py = if app.as_os_str().is_empty() {
        "this folder".to_owned()
    } else {
        format!("{}/", slashes(app))
    };
    let _ = writeln!(out, "# manage.py is in {where_manage_py}.");
    let _ = writeln!(out, "path = {}", quote(&display_folder(app)));
    if settings.production_beside {
        let _ = writeln!(
            out,
            "# {} defaults to {}; the production module beside it is chosen.",
            slashes(&settings.default_from),
            settings.default
        );
    } else {
        let _ = writeln!(out, "# The default in {}.", slashes(&settings.default_from));
    }
    let _ = writeln!(out, "settings_module = {}", quote(&settings.module));
    match &inspection.wsgi {
        Some((target, evidence)) => {
            let _ = writeln!(out, "# From {evidence}.");
            let _ = writeln!(out, "wsgi = {}", quote(target));
        }
        None => {
            let _ = writeln!(out, "# No WSGI_APPLICATION or wsgi.py found: name the WSGI callable as module:callable.");
        }
    }
    let _ = writeln!(out, "# gunicorn's default port.");
    let _ = writeln!(out, "port = {DEFAULT_PORT}");
    match &inspection.health_path {
        Some((path, evidence)) => {
            let _ = writeln!(out, "# Routed in {evidence}.");
            let _ = writeln!(out, "health_path = {}", quote(path));
        }
        None => {
            let _ = writeln!(
                out,
                "# No health endpoint routed in a urls.py (looked for health/, healthz/, up/)."
            );
            match &inspection.admin_login {
                Some((path, evidence)) => {
                    let _ = writeln!(out, "# The admin routed in {evidence} stands in: its login page renders on an empty database.");
                    let _ = writeln!(out, "health_path = {}", quote(path));
                }
                None => {
                    let _ = writeln!(out, "# The home page stands in.");
                    let _ = writeln!(out, "health_path = \"/\"");
                }
            }
        }
    }
    if let Some((production, test)) = requirements {
        let relative = |files: &[PathBuf]| -> Vec<String> {
            files
                .iter()
                .map(|file| slashes(&relative_to(app, file)))
                .collect()
        };
        let _ = writeln!(out, "# pip requirements files (relative to path); those naming dev/test/local are for the tests.");
        let _ = writeln!(out, "requirements = {}", array(&relative(&production)));
        if !test.is_empty() {
            let _ = writeln!(out, "test_requirements = {}", array(&relative(&test)));
        }
    }
    match &inspection.test_runner {
        TestRunner::Pytest(evidence, module) => {
            let _ = writeln!(out, "# pytest-django is configured in {evidence}.");
            match module {
                Some(module) => {
                    let _ = writeln!(out, "# `--ds`: the builder sets DJANGO_SETTINGS_MODULE to the production settings, which would win over that file.");
                    let _ = writeln!(
                        out,
                        "test_command = {}",
                        array(&["python", "-m", "pytest", "--ds", module])
                    );
                }
                None => {
                    let _ = writeln!(out, "test_command = {}", array(&["python", "-m", "pytest"]));
                }
            }
        }
        TestRunner::Django {
            settings: Some(test_settings),
        } => {
            let _ = writeln!(
                out,
                "# Django's test runner, with the test settings beside the default."
            );
            let _ = writeln!(
                out,
                "test_command = {}",
                array(&[
                    "python",
                    "manage.py",
                    "test",
                    "--noinput",
                    "--settings",
                    test_settings
                ])
            );
        }
        TestRunner::Django { settings: None } => {
            let _ = writeln!(out, "# Django's test runner.");
            let _ = writeln!(
                out,
                "test_command = {}",
                array(&["python", "manage.py", "test", "--noinput"])
            );
        }
    }
    match &inspection.static_root {
        StaticRoot::Relative(path, evidence) => {
            let _ = writeln!(out, "# STATIC_ROOT in {evidence}.");
            let _ = writeln!(out, "static_root = {}", quote(&slashes(path)));
        }
        StaticRoot::Absolute(path, evidence) => match absolute_container_path(path) {
            Ok(_) => {
                let _ = writeln!(out, "# STATIC_ROOT is the absolute {path} ({evidence}): collectstatic writes there in the");
                let _ = writeln!(
                    out,
                    "# builder, and the production image keeps its staticfiles.json there."
                );
                let _ = writeln!(out, "static_root = {}", quote(path));
            }
            Err(_) => {
                let _ = writeln!(out, "# STATIC_ROOT is the absolute {path} ({evidence}), a folder the images need for");
                let _ = writeln!(out, "# themselves: point it at a folder of its own (\"/public_collected\") or inside the app.");
            }
        },
        StaticRoot::Unreadable(expression, evidence) => {
            let _ = writeln!(out, "# STATIC_ROOT = {expression} ({evidence}) cannot be read without running the settings.");
        }
        StaticRoot::NotSet => {
            let _ = writeln!(out, "# The settings do not set STATIC_ROOT.");
        }
    }
    if !inspection.secrets.is_empty() {
        for (name, evidence) in &inspection.secrets {
            let _ = writeln!(out, "# {name} is read without a default in {evidence}.");
        }
        let _ = writeln!(out, "# Each secret gets a throwaway value in every run (builder, smoke, `run`), never in an image.");
        let names: Vec<&str> = inspection
            .secrets
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        let _ = writeln!(out, "secrets = {}", array(&names));
    }
    if let Some((name, evidence)) = &inspection.allowed_hosts_env {
        let _ = writeln!(out, "\n# The runtime environment smoke and `cargo xtask run` give the app (never written to the image).");
        let _ = writeln!(out, "[app.env]");
        let _ = writeln!(out, "# ALLOWED_HOSTS is read from {name} in {evidence}: smoke asks for `{SMOKE_HOST}` (the first nginx server_name).");
        let _ = writeln!(out, "{name} = {}", quote(SMOKE_HOST));
    }
}

/// `[production]` and `[builder]`: the Debian libraries the PostgreSQL driver needs, and collectstatic before the
/// tests when the tests' settings store static files through a manifest.
fn render_packages(out: &mut String, inspection: &Inspection) {
    let (runtime, builder) = match &inspection.postgres_driver {
        Some((driver, _)) => (driver.runtime_packages(), driver.builder_packages()),
        None => (&[][..], &[][..]),
    };
    if let (Some((driver, evidence)), false) = (&inspection.postgres_driver, runtime.is_empty()) {
        let _ = writeln!(out, "\n# {} is installed ({evidence}) and loads the system's libpq: Debian packages added to the", driver.name());
        let _ = writeln!(out, "# built-in runtime base (and so to the builder's).");
        let _ = writeln!(out, "[production]");
        let _ = writeln!(out, "packages = {}", array(runtime));
    }
    if builder.is_empty() && inspection.tests_need_manifest.is_none() {
        return;
    }
    let _ = writeln!(out);
    if let (Some((driver, _)), false) = (&inspection.postgres_driver, builder.is_empty()) {
        let _ = writeln!(
            out,
            "# {} is built from source in the builder: libpq's headers.",
            driver.name()
        );
    }
    if let Some(evidence) = &inspection.tests_need_manifest {
        let _ = writeln!(out, "# The tests' settings store static files through a manifest ({evidence}): templates rendered in the tests");
        let _ = writeln!(
            out,
            "# need collectstatic's staticfiles.json, so collectstatic runs first."
        );
    }
    let _ = writeln!(out, "[builder]");
    if !builder.is_empty() {
        let _ = writeln!(out, "packages = {}", array(builder));
    }
    if inspection.tests_need_manifest.is_some() {
        let _ = writeln!(out, "collectstatic_before_tests = true");
    }
}

/// A note on the deployment checks smoke runs, and `[smoke] page`: without a health endpoint, the admin's login page, which renders on the empty database of a smoke
/// run (a content site's home page needs content).
fn render_smoke(out: &mut String, inspection: &Inspection) {
    let _ = writeln!(out, "\n# Smoke runs Django's deployment checks (`manage.py check --deploy`) on the production image: each");
    let _ = writeln!(out, "# warning fails it until fixed in the settings or accepted with its reason, under [smoke.silence]:");
    let _ = writeln!(out, "# \"security.W008\" = \"TLS ends at the load balancer, which redirects http\" (init cannot run them).");
    let (None, Some((path, evidence))) = (&inspection.health_path, &inspection.admin_login) else {
        return;
    };
    let _ = writeln!(out, "# The page smoke renders to check its static files through nginx: the admin's login page ({evidence}),");
    let _ = writeln!(out, "# which renders on the empty database of a smoke run; name a page of the app's own once one does.");
    let _ = writeln!(out, "[smoke]");
    let _ = writeln!(out, "page = {}", quote(path));
}

/// `[release]` with its defaults, so `check` writes `release.json` and `release` has tags to push.
fn render_release(out: &mut String, inspection: &Inspection) {
    let _ = writeln!(out, "\n# Release (`cargo xtask release`, and `release.json` from `check`): images `{0}` and `{0}-nginx` tagged", inspection.project_name);
    let _ = writeln!(out, "# `{{version}}` and `sha-{{git_sha}}`, `latest` moved last; pushed to `registry` (for example \"ghcr.io/OWNER\") or,");
    let _ = writeln!(
        out,
        "# without one, written as image archives under target/dockyard/release/."
    );
    let _ = writeln!(out, "[release]");
}

/// `[nginx]`: its defaults, or the host names a literal `ALLOWED_HOSTS` allows (smoke asks for the first).
fn render_nginx(out: &mut String, inspection: &Inspection) {
    let _ = writeln!(out, "\n# nginx serves the collected static files with immutable caching and proxies the rest to the app.");
    match &inspection.allowed_hosts {
        Some((hosts, evidence)) if inspection.allowed_hosts_env.is_none() => {
            let _ = writeln!(out, "# ALLOWED_HOSTS lists these names ({evidence}): nginx answers for them and smoke asks for the first.");
            let _ = writeln!(out, "[nginx]");
            let _ = writeln!(out, "server_names = {}", array(hosts));
        }
        _ => {
            let _ = writeln!(out, "# server_names defaults to [\"{SMOKE_HOST}\", \"127.0.0.1\"]: add the site's own names.");
            let _ = writeln!(out, "[nginx]");
        }
    }
}

fn render_services(out: &mut String, inspection: &Inspection) {
    if inspection.services.is_empty() {
        return;
    }
    let suite = match inspection.python {
        PythonChoice::Offered(chosen) | PythonChoice::NoneFits(chosen) => chosen.suite,
        PythonChoice::NotAsked => dockyard_config::PythonVersion::DEFAULT.debian_suite(),
    };
    let _ = writeln!(out, "\n# Services the settings name. Dockyard starts each for the builder's tests, smoke and `cargo xtask run`");
    let _ = writeln!(out, "# on the run's private network (its host name is the table's name), with credentials generated for each");
    let _ = writeln!(
        out,
        "# run; each variable in `env` receives the service's URL or one part of it."
    );
    for service in &inspection.services {
        let kind = service.kind;
        let _ = writeln!(out, "[services.{kind}]");
        let _ = writeln!(out, "# Named in {}.", service.evidence);
        let _ = writeln!(out, "kind = {}", quote(kind.as_str()));
        match dockyard_config::service_images::DEBIAN_SERVICES
            .iter()
            .find(|offer| offer.kind == kind && offer.suite == suite)
        {
            Some(offer) => {
                let _ = writeln!(out, "# Debian {suite}'s {kind}, the suite of the Python above; another version needs `image = \"{kind}:<version>\"`.");
                let _ = writeln!(out, "version = {}", quote(offer.series));
            }
            None => {
                let _ = writeln!(out, "# Debian {suite} packages no {kind}: name the version and an image the engine has or can pull.");
            }
        }
        if service.env.is_empty() {
            let _ = writeln!(out, "# No variable the settings read names this service: name the ones the app reads, for example");
            let _ = writeln!(out, "# env = {{ DATABASE_URL = \"url\" }} (parts: url, host, port, user, password, database).");
            let _ = writeln!(out, "env = {{}}");
            continue;
        }
        for (name, _, evidence) in &service.env {
            let _ = writeln!(out, "# {name}: read in {evidence}.");
        }
        let entries: Vec<String> = service
            .env
            .iter()
            .map(|(name, part, _)| format!("{name} = {}", quote(part.as_str())))
            .collect();
        let _ = writeln!(out, "env = {{ {} }}", entries.join(", "));
    }
    render_processes(out, inspection);
}

/// The Celery worker (and beat) as `[[app.process]]` entries, when the settings configure Celery.
fn render_processes(out: &mut String, inspection: &Inspection) {
    let Some(evidence) = &inspection.celery else {
        return;
    };
    let Some((module, app_evidence)) = &inspection.celery_app else {
        let _ = writeln!(out, "\n# Celery is configured in {evidence}, but no module defines its app (`Celery(`): add its worker as");
        let _ = writeln!(
            out,
            "# [[app.process]] with name, command and ready_command."
        );
        return;
    };
    let _ = writeln!(out, "\n# Celery is configured in {evidence} and its app defined in {app_evidence}: smoke starts its worker beside");
    let _ = writeln!(
        out,
        "# the app, ready when it answers `celery inspect ping` through the broker."
    );
    let _ = writeln!(out, "[[app.process]]");
    let _ = writeln!(out, "name = \"worker\"");
    let _ = writeln!(
        out,
        "command = [\"celery\", \"-A\", {}, \"worker\", \"--loglevel\", \"info\"]",
        quote(module)
    );
    let _ = writeln!(
        out,
        "ready_command = [\"celery\", \"-A\", {}, \"inspect\", \"ping\"]",
        quote(module)
    );
    if let Some(beat) = &inspection.celery_beat {
        let _ = writeln!(out, "\n# A beat schedule is configured in {beat}: beat must stay up; its schedule file goes to /tmp (the root");
        let _ = writeln!(out, "# filesystem is read-only).");
        let _ = writeln!(out, "[[app.process]]");
        let _ = writeln!(out, "name = \"beat\"");
        let _ = writeln!(out, "command = [\"celery\", \"-A\", {}, \"beat\", \"--loglevel\", \"info\", \"--schedule\", \"/tmp/celerybeat-schedule\"]", quote(module));
    }
}

fn render_assets(out: &mut String, inspection: &Inspection) {
    let Some(assets) = &inspection.assets else {
        return;
    };
    let manager = assets.manager;
    let _ = writeln!(
        out,
        "\n# Front-end assets: package.json + {} in `path`, installed with `{}`, built {}",
        manager.lock_file(),
        manager.install_command().join(" "),
        if assets.django_tailwind.is_some() {
            "in the builder"
        } else {
            "in a Node container"
        }
    );
    let _ = writeln!(
        out,
        "# before collectstatic; Node, node_modules and the asset sources never reach the production image."
    );
    let _ = writeln!(out, "[assets]");
    let _ = writeln!(out, "path = {}", quote(&display_folder(&assets.folder)));
    let _ = writeln!(out, "package_manager = {}", quote(manager.as_str()));
    match (&assets.django_tailwind, &assets.build_script) {
        (Some((theme, evidence, manage_py)), _) => {
            let _ = writeln!(
                out,
                "# django-tailwind builds the CSS of the app {theme} ({evidence}) with its management command, which loads"
            );
            let _ = writeln!(
                out,
                "# the settings: it runs in the builder once the Python dependencies are installed (Node joins the builder base)."
            );
            let _ = writeln!(
                out,
                "build_command = {}",
                array(&["python", manage_py.as_str(), "tailwind", "build"])
            );
            let _ = writeln!(out, "runs_in = \"builder\"");
        }
        (None, Some(script)) => {
            let _ = writeln!(out, "build_script = {}", quote(script));
        }
        (None, None) => {
            let _ = writeln!(
                out,
                "# package.json has no `build` script: name the build, for example build_command = [\"node\", \"build.mjs\"]."
            );
        }
    }
    if assets.outputs.is_empty() {
        let _ = writeln!(
            out,
            "# The folders the build writes, relative to this file: inside app.path, or beside it (then at the images'"
        );
        let _ = writeln!(
            out,
            "# root, where the settings reach them from the app folder with `..`). init cannot know them, and plan"
        );
        let _ = writeln!(out, "# refuses [assets] until they are named.");
        let _ = writeln!(out, "outputs = []");
    } else {
        for (path, evidence, reason) in &assets.outputs {
            let _ = writeln!(
                out,
                "# The build writes {} ({reason}: {evidence}).",
                display_folder(path)
            );
        }
        let _ = writeln!(
            out,
            "# (inside app.path an output travels with the app; beside it, it lands at the images' root)."
        );
        let outputs: Vec<String> = assets
            .outputs
            .iter()
            .map(|(path, _, _)| display_folder(path))
            .collect();
        let _ = writeln!(out, "outputs = {}", array(&outputs));
    }
    // In the builder the whole app is there already: sources are for the Node container.
    if !assets.sources.is_empty() && assets.django_tailwind.is_none() {
        for (path, evidence) in &assets.sources {
            let _ = writeln!(
                out,
                "# Tailwind reads {} ({evidence}): uploaded beside the asset folder, so the CSS has the classes it uses.",
                display_folder(path)
            );
        }
        let sources: Vec<String> = assets
            .sources
            .iter()
            .map(|(path, _)| display_folder(path))
            .collect();
        let _ = writeln!(out, "sources = {}", array(&sources));
    }
    let _ = writeln!(out, "\n[assets.env]");
    let _ = writeln!(out, "NODE_ENV = \"production\"");
}

/// A TOML basic string.
fn quote(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// A TOML array of strings.
fn array<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| quote(item.as_ref())).collect();
    format!("[{}]", quoted.join(", "))
}

/// A relative path with `/`.
fn slashes(path: &Path) -> String {
    path.iter()
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// A folder relative to the inspected one, `.` for itself.
fn display_folder(path: &Path) -> String {
    if path.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        slashes(path)
    }
}

/// `to` (relative to the inspected folder) relative to `from` (a folder relative to it), with `..` where needed.
fn relative_to(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component<'_>> = from.components().collect();
    let to_parts: Vec<Component<'_>> = to.components().collect();
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut relative = PathBuf::new();
    for _ in common..from.len() {
        relative.push("..");
    }
    for part in &to_parts[common..] {
        relative.push(part.as_os_str());
    }
    relative
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        let check = |from: &str, to: &str, expected: &str| {
            assert_eq!(
                slashes(&relative_to(Path::new(from), Path::new(to))),
                expected,
                "{from} -> {to}"
            );
        };
        check("", "requirements.txt", "requirements.txt");
        check("src", "requirements.txt", "../requirements.txt");
        check("src", "src/requirements/base.txt", "requirements/base.txt");
        check("a/b", "a/c/r.txt", "../c/r.txt");
    }
}
