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
