//! Inspecting a Django project by reading its files: where `manage.py` is, the settings, the WSGI target, the
//! dependencies, the static root, the test runner, the Python version, services, assets and a health endpoint.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use dockyard_python::{detect_dependencies, python_requests, DependencyFormat, PythonRequest};
use regex::Regex;

use crate::settings::{self, PathValue, SourceFile};
use crate::{
    Evidence, InitError, Inspection, PythonChoice, Service, ServiceKind, SettingsChoice,
    StaticRoot, TestRunner,
};

/// Folders never searched for `manage.py`, `urls.py` or `package.json`.
const SKIPPED_FOLDERS: &[&str] = &[
    "node_modules",
    "venv",
    "site-packages",
    "__pycache__",
    "static",
    "staticfiles",
];

/// How deep below the folder given `manage.py` and `package.json` are looked for.
const SEARCH_DEPTH: usize = 3;

/// Inspects the Django project in `root` (the folder holding `manage.py`, or a repository with it below).
pub fn inspect(root: &Path) -> Result<Inspection, InitError> {
    if !root.is_dir() {
        return Err(InitError::NotAFolder {
            folder: root.to_path_buf(),
        });
    }
    let manage_py = files_named(root, "manage.py", SEARCH_DEPTH)
        .into_iter()
        .next()
        .ok_or_else(|| InitError::NoManagePy {
            folder: root.to_path_buf(),
        })?;
    let app_path = manage_py
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let settings_choice = choose_settings(root, &app_path, &manage_py)?;
    let settings_files = settings::load(root, &app_path, &settings_choice.module)?;
    let test_runner = test_runner(root, &app_path, &settings_choice)?;
    let test_module = match &test_runner {
        TestRunner::Django {
            settings: Some(module),
        }
        | TestRunner::Pytest(_, Some(module)) => module.clone(),
        _ => settings_choice.module.clone(),
    };
    let tests_need_manifest = manifest_storage(&settings::load(root, &app_path, &test_module)?);
    let (dependency_root, dependencies) = find_dependencies(root, &app_path)?;
    let python_requests = python_requests(&root.join(&dependency_root))?;
    let postgres_driver = match &dependencies {
        Some(format) => crate::system::postgres_driver(&root.join(&dependency_root), format)?.map(
            |(driver, evidence)| {
                let file = dependency_root.join(&evidence.file);
                (driver, Evidence::new(&file, evidence.line))
            },
        ),
        None => None,
    };
    Ok(Inspection {
        project_name: project_name(root),
        wsgi: wsgi(root, &app_path, &settings_files),
        static_root: static_root(&settings_files, &app_path),
        test_runner,
        tests_need_manifest,
        python: choose_python(&python_requests),
        python_requests,
        services: services(root, &app_path, &settings_files, postgres_driver.as_ref())?,
        allowed_hosts: allowed_hosts(&settings_files),
        allowed_hosts_env: crate::services::variables_read(&settings_files)
            .into_iter()
            .find(|read| read.name.ends_with("ALLOWED_HOSTS"))
            .map(|read| (read.name, read.evidence)),
        secrets: secrets(&settings_files),
        celery: settings_files.iter().find_map(|file| file.find(&CELERY)),
        celery_app: crate::services::celery_module(
            root,
            &app_path,
            &files_named(&root.join(&app_path), "celery.py", SEARCH_DEPTH)
                .into_iter()
                .chain(files_named(&root.join(&app_path), "tasks.py", SEARCH_DEPTH))
                .collect::<Vec<_>>(),
        ),
        celery_beat: settings_files
            .iter()
            .find_map(|file| file.find(&CELERY_BEAT)),
        assets: crate::assets::find(
            root,
            files_named(root, "package.json", SEARCH_DEPTH),
            &settings_files,
            &app_path,
        )?,
        health_path: health_path(root, &app_path)?,
        admin_login: admin_login(root, &app_path)?,
        postgres_driver,
        settings: settings_choice,
        dependencies,
        dependency_root,
        app_path,
    })
}

/// The dependency files of the folder given, else of the app folder below it, with the folder holding them.
fn find_dependencies(
    root: &Path,
    app: &Path,
) -> Result<(PathBuf, Option<DependencyFormat>), InitError> {
    let found = detect_dependencies(root)?;
    if found.is_some() || app.as_os_str().is_empty() {
        return Ok((PathBuf::new(), found));
    }
    match detect_dependencies(&root.join(app))? {
        Some(format) => Ok((app.to_path_buf(), Some(format))),
        None => Ok((PathBuf::new(), None)),
    }
}

/// Files named `name` below `root` (at most `depth` folders down, hidden and [`SKIPPED_FOLDERS`] skipped), relative
/// to it, shallowest first, then by path.
fn files_named(root: &Path, name: &str, depth: usize) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut level = vec![PathBuf::new()];
    for _ in 0..=depth {
        let mut next = Vec::new();
        let mut here = Vec::new();
        for folder in &level {
            let Ok(entries) = std::fs::read_dir(root.join(folder)) else {
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                let entry_name = entry.file_name().to_string_lossy().into_owned();
                let path = folder.join(&entry_name);
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir()
                    && !entry_name.starts_with('.')
                    && !SKIPPED_FOLDERS.contains(&entry_name.as_str())
                {
                    next.push(path);
                } else if kind.is_file() && entry_name == name {
                    here.push(path);
                }
            }
        }
        here.sort();
        found.extend(here);
        next.sort();
        level = next;
    }
    found
}

/// The project name from the folder's name, made valid for image names.
fn project_name(root: &Path) -> String {
    let folder = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let name: String = folder
        .file_name()
        .map(|name| name.to_string_lossy().to_lowercase())
        .unwrap_or_default()
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || matches!(character, '.' | '_' | '-') {
                character
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_start_matches(|character: char| !character.is_ascii_alphanumeric());
    if name.is_empty() {
        "django-app".to_owned()
    } else {
        name.chars().take(64).collect()
    }
}

static SETDEFAULT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']"#).expect("a valid regex")
});
static MODULE_LITERAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"["'](\w+(?:\.\w+)+)["']"#).expect("a valid regex"));

/// The settings module: the `DJANGO_SETTINGS_MODULE` default of `manage.py` (or a module literal it names), then
/// of `wsgi.py` and `asgi.py`, the first naming a module that exists; a `production` or `prod` module beside it wins.
fn choose_settings(root: &Path, app: &Path, manage_py: &Path) -> Result<SettingsChoice, InitError> {
    let mut candidates = vec![manage_py.to_path_buf()];
    for name in ["wsgi.py", "asgi.py"] {
        candidates.extend(
            files_named(&root.join(app), name, SEARCH_DEPTH)
                .into_iter()
                .map(|path| app.join(path)),
        );
    }
    for candidate in candidates {
        let Some(file) = settings::read(root, &candidate)? else {
            continue;
        };
        let mut modules: Vec<String> = SETDEFAULT
            .captures_iter(&file.text)
            .map(|captures| captures[1].to_owned())
            .collect();
        if modules.is_empty() {
            // `os.environ.setdefault("DJANGO_SETTINGS_MODULE", default_settings)`: the literals it chooses from,
            // test settings last.
            let mut literals: Vec<String> = MODULE_LITERAL
                .captures_iter(&file.text)
                .map(|captures| captures[1].to_owned())
                .filter(|module| module.contains("settings"))
                .collect();
            literals.sort_by_key(|module| {
                module
                    .rsplit('.')
                    .next()
                    .is_some_and(|last| last.starts_with("test"))
            });
            modules = literals;
        }
        let Some(default) = modules
            .into_iter()
            .find(|module| settings::module_exists(root, app, module))
        else {
            continue;
        };
        let production = sibling(root, app, &default, &["production", "prod"]);
        return Ok(SettingsChoice {
            module: production.clone().unwrap_or_else(|| default.clone()),
            default,
            default_from: candidate,
            production_beside: production.is_some(),
        });
    }
    Err(InitError::NoSettingsModule {
        manage_py: manage_py.to_path_buf(),
    })
}

/// A module named one of `names` in the package of `module` (or in `module` itself when it is a package). A module
/// file named `settings` has none: its package is the project's, whose other modules are not settings.
fn sibling(root: &Path, app: &Path, module: &str, names: &[&str]) -> Option<String> {
    let last = module.rsplit('.').next().unwrap_or(module);
    let is_package =
        settings::module_file(root, app, module).is_some_and(|file| file.ends_with("__init__.py"));
    if !is_package && last == "settings" {
        return None;
    }
    let package = if is_package {
        module
    } else {
        module.rsplit_once('.').map_or("", |(package, _)| package)
    };
    names
        .iter()
        .filter(|name| **name != last)
        .map(|name| {
            if package.is_empty() {
                (*name).to_owned()
            } else {
                format!("{package}.{name}")
            }
        })
        .find(|candidate| settings::module_exists(root, app, candidate))
}

static WSGI_APPLICATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^WSGI_APPLICATION\s*=\s*["']([\w.]+)\.(\w+)["']"#).expect("a valid regex")
});

/// `module:callable` from `WSGI_APPLICATION`, else from the `wsgi.py` nearest the app folder.
fn wsgi(root: &Path, app: &Path, settings_files: &[SourceFile]) -> Option<(String, Evidence)> {
    for file in settings_files {
        for (index, line) in file.text.lines().enumerate() {
            if let Some(captures) = WSGI_APPLICATION.captures(line) {
                return Some((
                    format!("{}:{}", &captures[1], &captures[2]),
                    Evidence::new(&file.path, index + 1),
                ));
            }
        }
    }
    let wsgi_py = files_named(&root.join(app), "wsgi.py", SEARCH_DEPTH)
        .into_iter()
        .next()?;
    let module: Vec<String> = wsgi_py
        .with_extension("")
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    Some((
        format!("{}:application", module.join(".")),
        Evidence::new(&app.join(&wsgi_py), 1),
    ))
}

/// `STATIC_ROOT` as a path relative to the app folder, or why it cannot be one.
fn static_root(settings_files: &[SourceFile], app: &Path) -> StaticRoot {
    let Some((file, line, expression)) = settings::assignment(settings_files, "STATIC_ROOT") else {
        return StaticRoot::NotSet;
    };
    let evidence = Evidence::new(&file.path, line);
    match settings::evaluate_path(settings_files, &file.path, &expression, 0) {
        Some(PathValue::Inside(path)) => match path.strip_prefix(app) {
            Ok(relative) if !relative.as_os_str().is_empty() => {
                StaticRoot::Relative(relative.to_path_buf(), evidence)
            }
            _ => StaticRoot::Unreadable(expression, evidence),
        },
        Some(PathValue::Absolute(path)) => StaticRoot::Absolute(path, evidence),
        None => StaticRoot::Unreadable(expression, evidence),
    }
}

/// pytest when a pytest configuration names the Django settings (pytest-django), Django's runner otherwise.
fn test_runner(
    root: &Path,
    app: &Path,
    settings_choice: &SettingsChoice,
) -> Result<TestRunner, InitError> {
    static PYTEST_SECTION: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^\[(pytest|tool:pytest|tool\.pytest\.ini_options)\]").expect("a valid regex")
    });
    static NAMES_SETTINGS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?:DJANGO_SETTINGS_MODULE\s*=\s*|--ds[= ])["']?([A-Za-z_][\w.]*)"#)
            .expect("a valid regex")
    });
    let mut folders = vec![PathBuf::new()];
    if !app.as_os_str().is_empty() {
        folders.push(app.to_path_buf());
    }
    for folder in folders {
        for name in ["pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini"] {
            let Some(file) = settings::read(root, &folder.join(name))? else {
                continue;
            };
            let configures = file.text.lines().any(|line| PYTEST_SECTION.is_match(line));
            if let Some(evidence) = file.find(&NAMES_SETTINGS).filter(|_| configures) {
                let module = NAMES_SETTINGS
                    .captures(&file.text)
                    .map(|captures| captures[1].to_owned());
                return Ok(TestRunner::Pytest(evidence, module));
            }
        }
    }
    let test_settings = sibling(
        root,
        app,
        &settings_choice.default,
        &["test", "tests", "testing"],
    );
    Ok(TestRunner::Django {
        settings: test_settings,
    })
}

/// The offered Python the requests allow (the older when several do), else the newest, overriding them.
fn choose_python(requests: &[PythonRequest]) -> PythonChoice {
    if requests.is_empty() {
        return PythonChoice::NotAsked;
    }
    crate::offered_pythons()
        .iter()
        .find(|offered| {
            requests
                .iter()
                .all(|request| request.allows(offered.version))
        })
        .map_or_else(
            || {
                let newest = crate::offered_pythons()
                    .last()
                    .expect("Dockyard offers at least one Python");
                PythonChoice::NoneFits(newest)
            },
            PythonChoice::Offered,
        )
}

static CELERY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^CELERY_BROKER_URL\b|Celery\(").expect("a valid regex"));

/// Secret-looking variables the settings read without a default, other than the services' and the secret key
/// Dockyard always sets.
fn secrets(settings_files: &[SourceFile]) -> Vec<(String, Evidence)> {
    crate::services::variables_read(settings_files)
        .into_iter()
        .filter(|read| {
            read.required
                && read.name != "DJANGO_SECRET_KEY"
                && dockyard_config::looks_like_secret_name(&read.name)
                && crate::services::part_of(&read.name, ServiceKind::Redis).is_none()
        })
        .map(|read| (read.name, read.evidence))
        .collect()
}

static CELERY_BEAT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"CELERY_BEAT_SCHEDULE|beat_schedule|django_celery_beat").expect("a valid regex")
});

/// The services the settings (or, for PostgreSQL-only fields, the models) name, each with the variables the settings
/// read to reach it. PostgreSQL also when the settings read a database URL (dj-database-url, django-environ) whose
/// default is another engine while the dependencies install a PostgreSQL driver: production runs on PostgreSQL.
fn services(
    root: &Path,
    app: &Path,
    settings_files: &[SourceFile],
    postgres_driver: Option<&(crate::PostgresDriver, Evidence)>,
) -> Result<Vec<Service>, InitError> {
    static PATTERNS: LazyLock<Vec<(ServiceKind, Regex)>> = LazyLock::new(|| {
        [
            (
                ServiceKind::Postgres,
                r"django\.db\.backends\.postgresql|postgres(ql)?://|django\.contrib\.postgres",
            ),
            (
                ServiceKind::Redis,
                r"django_redis|cache\.backends\.redis|rediss?://",
            ),
            (ServiceKind::Rabbitmq, r"(py)?amqps?://"),
        ]
        .into_iter()
        .map(|(kind, pattern)| (kind, Regex::new(pattern).expect("a valid regex")))
        .collect()
    });
    let models = files_named(&root.join(app), "models.py", SEARCH_DEPTH)
        .into_iter()
        .map(|path| settings::read(root, &app.join(path)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut found = Vec::new();
    for (kind, pattern) in PATTERNS.iter() {
        let evidence = settings_files
            .iter()
            .chain(models.iter().flatten())
            .find_map(|file| file.find(pattern));
        if let Some(evidence) = evidence {
            found.push(Service {
                kind: *kind,
                evidence,
                env: Vec::new(),
            });
        }
    }
    let reads = crate::services::variables_read(settings_files);
    if let Some((_, evidence)) = postgres_driver {
        let reads_database_url = reads.iter().any(|read| {
            crate::services::part_of(&read.name, ServiceKind::Redis)
                == Some((ServiceKind::Postgres, dockyard_config::ServiceValue::Url))
        });
        if reads_database_url
            && !found
                .iter()
                .any(|service| service.kind == ServiceKind::Postgres)
        {
            found.insert(
                0,
                Service {
                    kind: ServiceKind::Postgres,
                    evidence: evidence.clone(),
                    env: Vec::new(),
                },
            );
        }
    }
    let broker = if found
        .iter()
        .any(|service| service.kind == ServiceKind::Rabbitmq)
    {
        ServiceKind::Rabbitmq
    } else {
        ServiceKind::Redis
    };
    for read in reads {
        let Some((kind, part)) = crate::services::part_of(&read.name, broker) else {
            continue;
        };
        if let Some(service) = found.iter_mut().find(|service| service.kind == kind) {
            let part = if part == dockyard_config::ServiceValue::Url
                && crate::services::appends_database(settings_files, &read.name)
            {
                dockyard_config::ServiceValue::ServerUrl
            } else {
                part
            };
            service.env.push((read.name, part, read.evidence));
        }
    }
    Ok(found)
}

/// The shallowest `package.json` with a lock file beside it.
static HEALTH_ROUTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:re_)?path\(\s*r?["']\^?(health|healthz|up)/?(?:\$)?["']"#)
        .expect("a valid regex")
});

/// The host names of the first literal `ALLOWED_HOSTS = ["...", ...]` at the top level of the settings (the module
/// itself first, so its own list wins over the one it imports); `None` when the list allows any host (`"*"`) or no
/// file writes one.
fn allowed_hosts(settings_files: &[SourceFile]) -> Option<(Vec<String>, Evidence)> {
    static LIST: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?m)^ALLOWED_HOSTS\s*=\s*\[([^\]]*)\]"#).expect("a valid regex")
    });
    static ITEM: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"^\s*["']([^"']+)["']\s*$"#).expect("a valid regex"));
    for file in settings_files {
        let Some(captures) = LIST.captures(&file.text) else {
            continue;
        };
        let inside = captures.get(1).expect("group 1").as_str();
        let items: Option<Vec<String>> = inside
            .lines()
            .map(|line| line.split('#').next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ")
            .split(',')
            .filter(|item| !item.trim().is_empty())
            .map(|item| ITEM.captures(item).map(|item| item[1].to_owned()))
            .collect();
        let items = items?;
        if items.is_empty() || items.iter().any(|item| item == "*") {
            return None;
        }
        let line = file.text[..captures.get(0).expect("match").start()]
            .lines()
            .count()
            + 1;
        return Some((items, Evidence::new(&file.path, line)));
    }
    None
}

/// Where `files` (a settings module first, then what it imports) choose a manifest static files storage: the last
/// storage class named in the first file naming one decides (a test module overriding the production storage wins).
fn manifest_storage(files: &[SourceFile]) -> Option<Evidence> {
    static STORAGE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[\w.]*StaticFilesStorage\b").expect("a valid regex"));
    for file in files {
        let mut last = None;
        for (index, line) in file.text.lines().enumerate() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            if let Some(found) = STORAGE.find_iter(line).last() {
                last = Some((found.as_str().contains("Manifest"), index + 1));
            }
        }
        if let Some((manifest, line)) = last {
            return manifest.then(|| Evidence::new(&file.path, line));
        }
    }
    None
}

static ADMIN_ROUTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?:re_)?path\(\s*r?["']\^?([A-Za-z0-9_/-]*?)/?\$?["']\s*,\s*(?:admin\.site\.urls|include\(\s*wagtailadmin_urls)"#,
    )
    .expect("a valid regex")
});

/// The login page of the first admin a `urls.py` routes (Django's `admin.site.urls`, Wagtail's admin): a page that
/// renders, static files and all, on the empty database of a smoke run.
fn admin_login(root: &Path, app: &Path) -> Result<Option<(String, Evidence)>, InitError> {
    for urls in files_named(&root.join(app), "urls.py", SEARCH_DEPTH) {
        let Some(file) = settings::read(root, &app.join(urls))? else {
            continue;
        };
        for (index, line) in file.text.lines().enumerate() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            if let Some(captures) = ADMIN_ROUTE.captures(line) {
                let prefix = captures[1].trim_matches('/');
                let path = if prefix.is_empty() {
                    "/login/".to_owned()
                } else {
                    format!("/{prefix}/login/")
                };
                return Ok(Some((path, Evidence::new(&file.path, index + 1))));
            }
        }
    }
    Ok(None)
}

/// `/health/`, `/healthz/` or `/up/` when a `urls.py` routes it.
fn health_path(root: &Path, app: &Path) -> Result<Option<(String, Evidence)>, InitError> {
    for urls in files_named(&root.join(app), "urls.py", SEARCH_DEPTH) {
        let Some(file) = settings::read(root, &app.join(urls))? else {
            continue;
        };
        for (index, line) in file.text.lines().enumerate() {
            if let Some(captures) = HEALTH_ROUTE.captures(line) {
                return Ok(Some((
                    format!("/{}/", &captures[1]),
                    Evidence::new(&file.path, index + 1),
                )));
            }
        }
    }
    Ok(None)
}
