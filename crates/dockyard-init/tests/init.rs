//! `init` on the four real-world projects in `examples/` (the rendered deploy.toml, snapshotted), on a small
//! project written here, and its two refusals.

use std::path::{Path, PathBuf};

use dockyard_init::{init, inspect, render, InitError};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

/// Renders the deploy.toml of `examples/<name>` (read only: nothing is written there) as the snapshot `name`.
fn check(name: &str) {
    let inspection = inspect(&example(name)).unwrap_or_else(|error| panic!("{name}: {error}"));
    insta::assert_snapshot!(name, render(&inspection));
}

#[test]
fn the_corpus_projects() {
    for name in [
        "wagtail-guide",
        "docker-django-example",
        "djangonaut-space",
        "styleguide-example",
    ] {
        check(name);
    }
}

/// Writes `files` into `folder`.
fn write(folder: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = folder.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn writes_deploy_toml_once_then_refuses_to_overwrite_it() {
    let parent = tempfile::tempdir().unwrap();
    let folder = parent.path().join("My Shop");
    write(
        &folder,
        &[
            ("src/manage.py", "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings')\n"),
            ("src/shop/__init__.py", ""),
            ("src/shop/settings.py", "BASE_DIR = Path(__file__).resolve().parent.parent\nSTATIC_ROOT = BASE_DIR / 'collected'\n"),
            ("src/shop/wsgi.py", "application = get_wsgi_application()\n"),
            ("src/shop/urls.py", "urlpatterns = [path('healthz/', views.health)]\n"),
            ("requirements.txt", "django==5.2\n"),
            ("requirements-test.txt", "-r requirements.txt\npytest\n"),
            (".python-version", "3.13\n"),
        ],
    );
    let (path, inspection) = init(&folder).unwrap();
    assert_eq!(path, folder.join("deploy.toml"));
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written, render(&inspection));
    insta::assert_snapshot!("small-project", written);

    let error = init(&folder).unwrap_err();
    assert!(
        matches!(&error, InitError::AlreadyExists { path: existing } if *existing == path),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "{} already exists; init never overwrites it",
            path.display()
        )
    );
    assert!(error
        .hint()
        .unwrap()
        .contains("edit the existing deploy.toml"));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        written,
        "the existing file is untouched"
    );
}

#[test]
fn refuses_a_folder_without_manage_py() {
    let folder = tempfile::tempdir().unwrap();
    write(
        folder.path(),
        &[
            ("README.md", "not django\n"),
            ("a/b/c/d/manage.py", "too deep\n"),
        ],
    );
    let error = init(folder.path()).unwrap_err();
    assert!(matches!(&error, InitError::NoManagePy { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "no manage.py in {} or the folders below it: not a Django project",
            folder.path().display()
        )
    );
    assert!(error.hint().unwrap().contains("src/manage.py"));
    assert!(
        !folder.path().join("deploy.toml").exists(),
        "nothing written"
    );

    let missing = folder.path().join("missing");
    assert!(matches!(
        init(&missing).unwrap_err(),
        InitError::NotAFolder { .. }
    ));
}

/// Inspects a project made of `files` and compares a one-line-per-fact summary with `expected`.
fn check_inspection(files: &[(&str, &str)], expected: &str) {
    let folder = tempfile::tempdir().unwrap();
    write(folder.path(), files);
    let summary = match inspect(folder.path()) {
        Ok(found) => {
            let mut lines = vec![
                format!("app {:?}", found.app_path),
                format!(
                    "settings {} (default {} from {})",
                    found.settings.module,
                    found.settings.default,
                    found.settings.default_from.display()
                ),
            ];
            if let Some((target, evidence)) = &found.wsgi {
                lines.push(format!("wsgi {target} ({evidence})"));
            }
            lines.push(format!("static {:?}", found.static_root));
            lines.push(format!("tests {:?}", found.test_runner));
            for service in &found.services {
                lines.push(format!(
                    "service {} ({})",
                    service.kind.as_str(),
                    service.evidence
                ));
            }
            if let Some(evidence) = &found.celery {
                lines.push(format!("celery ({evidence})"));
            }
            if let Some(assets) = &found.assets {
                lines.push(format!(
                    "assets {} in {:?} build {:?}",
                    assets.manager.as_str(),
                    assets.folder,
                    assets.build_script
                ));
            }
            if let Some((path, evidence)) = &found.health_path {
                lines.push(format!("health {path} ({evidence})"));
            }
            lines.join("\n")
        }
        Err(error) => format!("error: {error}"),
    };
    assert_eq!(summary, expected, "files: {files:?}");
}

#[test]
fn inspections() {
    // A settings package with a `prod` module beside the default, asgi.py only, re_path health route.
    check_inspection(
        &[
            ("manage.py", "import os\n"),
            ("site/__init__.py", ""),
            ("site/asgi.py", "os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"site.settings\")\n"),
            ("site/settings/__init__.py", "from .base import *\n"),
            ("site/settings/base.py", "import os\nBASE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))\nSTATIC_ROOT = os.path.join(BASE_DIR, 'public', 'static')  # collected\n"),
            ("site/settings/prod.py", "from .base import *\nCACHES = {'default': {'BACKEND': 'django.core.cache.backends.redis.RedisCache'}}\n"),
            ("site/urls.py", "urlpatterns = [re_path(r'^health/$', health)]\n"),
            ("setup.cfg", "[tool:pytest]\nDJANGO_SETTINGS_MODULE = site.settings.test\n"),
            ("frontend/package.json", "{\"scripts\": {\"build\": \"vite build\"}}"),
            ("frontend/pnpm-lock.yaml", ""),
        ],
        "app \"\"\n\
         settings site.settings.prod (default site.settings from site/asgi.py)\n\
         static Relative(\"public/static\", Evidence { file: \"site/settings/base.py\", line: 3 })\n\
         tests Pytest(Evidence { file: \"setup.cfg\", line: 2 }, Some(\"site.settings.test\"))\n\
         service redis (site/settings/prod.py:2)\n\
         assets pnpm in \"frontend\" build Some(\"build\")\n\
         health /health/ (site/urls.py:1)",
    );
    // A settings module file; an unreadable STATIC_ROOT; a Celery broker on RabbitMQ; a package.json without a lock.
    check_inspection(
        &[
            ("backend/manage.py", "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'core.settings')\n"),
            ("backend/core/settings.py", "from core.celery_settings import *\nSTATIC_ROOT = env('STATIC_ROOT')\nDATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql'}}\n"),
            ("backend/core/celery_settings.py", "CELERY_BROKER_URL = 'amqp://guest@rabbit//'\n"),
            ("backend/core/tests.py", ""),
            ("package.json", "{}"),
        ],
        "app \"backend\"\n\
         settings core.settings (default core.settings from backend/manage.py)\n\
         static Unreadable(\"env('STATIC_ROOT')\", Evidence { file: \"backend/core/settings.py\", line: 2 })\n\
         tests Django { settings: None }\n\
         service postgres (backend/core/settings.py:3)\n\
         service rabbitmq (backend/core/celery_settings.py:1)\n\
         celery (backend/core/celery_settings.py:1)",
    );
    // Test settings beside the default; the default names a module that does not exist, so wsgi.py's is used.
    check_inspection(
        &[
            (
                "manage.py",
                "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'gone.settings')\n",
            ),
            (
                "proj/wsgi.py",
                "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings.dev')\n",
            ),
            (
                "proj/settings/dev.py",
                "WSGI_APPLICATION = 'proj.wsgi.application'\n",
            ),
            ("proj/settings/test.py", ""),
        ],
        "app \"\"\n\
         settings proj.settings.dev (default proj.settings.dev from proj/wsgi.py)\n\
         wsgi proj.wsgi:application (proj/settings/dev.py:1)\n\
         static NotSet\n\
         tests Django { settings: Some(\"proj.settings.test\") }",
    );
    check_inspection(
        &[(
            "manage.py",
            "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'gone.settings')\n",
        )],
        "error: manage.py: no DJANGO_SETTINGS_MODULE default naming a module that exists",
    );
}
