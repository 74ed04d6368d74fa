//! Lock files to hash-pinned requirements: groups selected, markers kept, unpinnable entries refused.

use super::*;

/// A lock converter: [`poetry_requirements`] or [`pipenv_requirements`].
type Convert = fn(&Path, &Path, &[String], &[String]) -> Result<LockedRequirements, PythonError>;

/// Writes `lock` as `name` into a fresh folder, converts it with `convert` for `groups` and `test_groups`, and
/// compares the production and test files (or the error) with `expected`.
fn check(
    name: &str,
    lock: &str,
    convert: Convert,
    groups: &[&str],
    test_groups: &[&str],
    expected: &str,
) {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join(name), lock).unwrap();
    let owned = |names: &[&str]| {
        names
            .iter()
            .map(|name| (*name).to_owned())
            .collect::<Vec<_>>()
    };
    let rendered = match convert(
        folder.path(),
        Path::new(name),
        &owned(groups),
        &owned(test_groups),
    ) {
        Ok(locked) => format!(
            "## production\n{}## test\n{}",
            locked.production, locked.test
        ),
        Err(error) => format!("error: {error}"),
    };
    assert_eq!(
        rendered, expected,
        "{name}, groups {groups:?}, test groups {test_groups:?}"
    );
}

const POETRY: &str = r#"
[[package]]
name = "django"
version = "5.2.9"
optional = false
groups = ["main", "dev"]
files = [
    {file = "django-5.2.9-py3-none-any.whl", hash = "sha256:aaa"},
    {file = "django-5.2.9.tar.gz", hash = "sha256:bbb"},
]

[[package]]
name = "gunicorn"
version = "23.0.0"
groups = ["production"]
files = [{file = "gunicorn-23.0.0-py3-none-any.whl", hash = "sha256:ccc"}]

[[package]]
name = "pytest"
version = "8.4.0"
groups = ["dev"]
files = [{file = "pytest-8.4.0-py3-none-any.whl", hash = "sha256:ddd"}]

[[package]]
name = "tzdata"
version = "2025.2"
groups = ["main", "production"]
markers = {main = "sys_platform == \"win32\"", production = "sys_platform == \"win32\""}
files = [{file = "tzdata-2025.2-py2.py3-none-any.whl", hash = "sha256:eee"}]

[metadata]
lock-version = "2.1"
"#;

#[test]
fn poetry_groups() {
    check(
        "poetry.lock",
        POETRY,
        poetry_requirements,
        &["production"],
        &["dev"],
        "## production\n\
         # Made by Dockyard from poetry.lock: hash-pinned, installed with --require-hashes.\n\
         django==5.2.9 \\\n    --hash=sha256:aaa \\\n    --hash=sha256:bbb\n\
         gunicorn==23.0.0 \\\n    --hash=sha256:ccc\n\
         tzdata==2025.2 ; sys_platform == \"win32\" \\\n    --hash=sha256:eee\n\
         ## test\n\
         # Made by Dockyard from poetry.lock: hash-pinned, installed with --require-hashes.\n\
         django==5.2.9 \\\n    --hash=sha256:aaa \\\n    --hash=sha256:bbb\n\
         gunicorn==23.0.0 \\\n    --hash=sha256:ccc\n\
         pytest==8.4.0 \\\n    --hash=sha256:ddd\n\
         tzdata==2025.2 ; sys_platform == \"win32\" \\\n    --hash=sha256:eee\n",
    );
    // Without the production group, gunicorn stays out; the main group alone is production.
    check(
        "poetry.lock",
        POETRY,
        poetry_requirements,
        &[],
        &[],
        "## production\n\
         # Made by Dockyard from poetry.lock: hash-pinned, installed with --require-hashes.\n\
         django==5.2.9 \\\n    --hash=sha256:aaa \\\n    --hash=sha256:bbb\n\
         tzdata==2025.2 ; sys_platform == \"win32\" \\\n    --hash=sha256:eee\n\
         ## test\n\
         # Made by Dockyard from poetry.lock: hash-pinned, installed with --require-hashes.\n\
         django==5.2.9 \\\n    --hash=sha256:aaa \\\n    --hash=sha256:bbb\n\
         tzdata==2025.2 ; sys_platform == \"win32\" \\\n    --hash=sha256:eee\n",
    );
}

#[test]
fn poetry_extras_asked_by_a_dependent_are_pinned() {
    check(
        "poetry.lock",
        "[[package]]\nname = \"wagtail\"\nversion = \"7.2\"\ngroups = [\"main\"]\n\
         files = [{file = \"w.whl\", hash = \"sha256:aaa\"}]\n\
         [package.dependencies]\nWillow = {version = \">=1.11\", extras = [\"heif\"]}\n\
         pillow-heif = [{version = \">=0.10\", optional = true, extras = [\"x\"]}]\n\
         [[package]]\nname = \"willow\"\nversion = \"1.11.0\"\ngroups = [\"main\"]\n\
         files = [{file = \"willow.whl\", hash = \"sha256:bbb\"}]\n",
        poetry_requirements,
        &[],
        &[],
        "## production\n\
         # Made by Dockyard from poetry.lock: hash-pinned, installed with --require-hashes.\n\
         wagtail==7.2 \\\n    --hash=sha256:aaa\n\
         willow[heif]==1.11.0 \\\n    --hash=sha256:bbb\n\
         ## test\n\
         # Made by Dockyard from poetry.lock: hash-pinned, installed with --require-hashes.\n\
         wagtail==7.2 \\\n    --hash=sha256:aaa\n\
         willow[heif]==1.11.0 \\\n    --hash=sha256:bbb\n",
    );
}

#[test]
fn poetry_refusals() {
    check(
        "poetry.lock",
        "[[package]]\nname = \"x\"\nversion = \"1\"\ncategory = \"main\"\nfiles = []\n",
        poetry_requirements,
        &[],
        &[],
        "error: poetry.lock: cannot pin `x`: the lock lists no file hash for it",
    );
    check(
        "poetry.lock",
        "[[package]]\nname = \"x\"\nversion = \"1\"\ngroups = [\"main\"]\n\
         [package.source]\ntype = \"git\"\nurl = \"https://example.com/x.git\"\n",
        poetry_requirements,
        &[],
        &[],
        "error: poetry.lock: cannot pin `x`: it comes from a git source, which has no hash to pin",
    );
    check(
        "poetry.lock",
        "[[package]]\nname = \"x\"\nversion = \"1\"\n",
        poetry_requirements,
        &[],
        &[],
        "error: poetry.lock: cannot pin `x`: the lock says neither the package's groups nor its category \
         (lock format 2.0)",
    );
    check(
        "poetry.lock",
        "[[package]\n",
        poetry_requirements,
        &[],
        &[],
        "error: poetry.lock is not valid TOML: unclosed array table, expected `]`",
    );
}

const PIPENV: &str = r#"{
    "_meta": {"hash": {"sha256": "x"}, "pipfile-spec": 6},
    "default": {
        "django": {"hashes": ["sha256:aaa", "sha256:bbb"], "index": "pypi", "version": "==5.2.9"},
        "tzdata": {"hashes": ["sha256:eee"], "markers": "sys_platform == 'win32'", "version": "==2025.2"}
    },
    "develop": {
        "requests": {"extras": ["socks"], "hashes": ["sha256:fff"], "version": "==2.32.0"}
    }
}"#;

#[test]
fn pipenv_default_and_develop() {
    check(
        "Pipfile.lock",
        PIPENV,
        pipenv_requirements,
        &[],
        &["develop"],
        "## production\n\
         # Made by Dockyard from Pipfile.lock: hash-pinned, installed with --require-hashes.\n\
         django==5.2.9 \\\n    --hash=sha256:aaa \\\n    --hash=sha256:bbb\n\
         tzdata==2025.2 ; sys_platform == 'win32' \\\n    --hash=sha256:eee\n\
         ## test\n\
         # Made by Dockyard from Pipfile.lock: hash-pinned, installed with --require-hashes.\n\
         django==5.2.9 \\\n    --hash=sha256:aaa \\\n    --hash=sha256:bbb\n\
         requests[socks]==2.32.0 \\\n    --hash=sha256:fff\n\
         tzdata==2025.2 ; sys_platform == 'win32' \\\n    --hash=sha256:eee\n",
    );
    check(
        "Pipfile.lock",
        PIPENV,
        pipenv_requirements,
        &["docs"],
        &[],
        "error: Pipfile.lock has no group `docs`; it has `default`, `develop`",
    );
    check(
        "Pipfile.lock",
        r#"{"default": {"x": {"git": "https://example.com/x.git", "ref": "abc"}}}"#,
        pipenv_requirements,
        &[],
        &[],
        "error: Pipfile.lock: cannot pin `x`: it comes from a git repository, which has no hash to pin",
    );
}

#[test]
fn declared_names() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("pyproject.toml"),
        "[project.optional-dependencies]\ntest = []\n[dependency-groups]\nlint = []\n\
         [tool.poetry.group.production.dependencies]\n[tool.poetry.dev-dependencies]\n",
    )
    .unwrap();
    let declared = declared_groups(folder.path(), Path::new("pyproject.toml")).unwrap();
    assert_eq!(declared.extras, ["test"]);
    assert_eq!(declared.groups, ["lint"]);
    assert_eq!(declared.poetry_groups, ["production", "dev"]);
}

#[test]
fn pipenv_category_names() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("Pipfile.lock"), PIPENV).unwrap();
    let categories = pipenv_categories(folder.path(), Path::new("Pipfile.lock")).unwrap();
    assert_eq!(categories, ["default", "develop"]);
}
