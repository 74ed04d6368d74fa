//! `[dependencies]` and `[app] requirements`: broken files, each an edit of a valid lock-file project, with the exact
//! message a user sees; and the valid formats, resolved.

use crate::fixture::{canonical_root, redact_root, write_fixture_project, MINIMAL};

/// [`MINIMAL`] with its requirements moved to a `[dependencies]` table for uv.
fn lock_project() -> String {
    let text = MINIMAL.replace(
        "requirements = [\"requirements.txt\"]\n",
        "requirements = []\n\n[dependencies]\nformat = \"uv\"\nfiles = [\"pyproject.toml\", \"uv.lock\"]\n\
         groups = [\"lint\"]\ntest_groups = [\"test\"]\n",
    );
    assert_ne!(text, MINIMAL, "the edit applies");
    text
}

const PYPROJECT: &str = "[project]\nname = \"shop\"\ndependencies = [\"django\"]\n\
    [project.optional-dependencies]\ntest = [\"pytest\"]\n[dependency-groups]\nlint = [\"ruff\"]\n\
    [tool.poetry.group.production.dependencies]\ngunicorn = \"*\"\n";

const PIPFILE_LOCK: &str = "{\"_meta\": {}, \"default\": {}, \"develop\": {}}";

/// The lock files beside the fixture's files.
const LOCK_FILES: &[&str] = &[
    "uv.lock",
    "poetry.lock",
    "Pipfile",
    "Pipfile.lock",
    "sub/uv.lock",
    "setup.py",
    "requirements/base.txt",
    "app/pyproject.toml",
    "app/poetry.lock",
];

/// Parses `text` in a fixture project holding the lock files: the resolved dependencies as JSON, or the error.
fn parse(text: &str) -> Result<String, String> {
    let folder = write_fixture_project(text, &[], LOCK_FILES);
    std::fs::write(folder.path().join("pyproject.toml"), PYPROJECT).expect("write pyproject.toml");
    std::fs::write(folder.path().join("Pipfile.lock"), PIPFILE_LOCK).expect("write Pipfile.lock");
    let root = canonical_root(&folder);
    match dockyard_config::parse(text, &root.join("deploy.toml")) {
        Ok(config) => Ok(redact_root(
            &serde_json::to_string_pretty(&config.dependencies).expect("configs serialize"),
            &root,
        )),
        Err(error) => {
            assert!(
                error.line().is_some() && error.column().is_some(),
                "{error}"
            );
            assert!(error.key().is_some(), "{error}");
            Err(redact_root(&error.to_string(), &root))
        }
    }
}

/// One test per case: [`lock_project`] with `old` replaced by `new` must fail; recorded like the other broken files.
macro_rules! broken_dependencies {
    ($name:ident, $old:expr => $new:expr) => {
        #[test]
        fn $name() {
            let base = lock_project();
            assert_eq!(base.matches($old).count(), 1, "the fixture must contain {:?} once", $old);
            let rendered = match parse(&base.replacen($old, $new, 1)) {
                Ok(resolved) => panic!("expected an error, got {resolved}"),
                Err(error) => error,
            };
            insta::with_settings!({
                description => format!("{:?} => {:?}", $old, $new),
                omit_expression => true,
            }, {
                insta::assert_snapshot!(rendered);
            });
            dockyard_reliability::record(
                dockyard_reliability::Category::BadConfig,
                stringify!($name),
                &format!("{:?} => {:?}", $old, $new),
                rendered.lines().next().unwrap_or_default(),
                concat!("dockyard-config::broken_dependencies::", stringify!($name)),
            );
        }
    };
}

// The format.
broken_dependencies!(dependencies_unknown_format, "format = \"uv\"" => "format = \"pip\"");
broken_dependencies!(dependencies_format_close_to_a_known_one, "format = \"uv\"" => "format = \"poetyr\"");
broken_dependencies!(dependencies_pyproject_without_lock_format, "format = \"uv\"" => "format = \"pyproject\"");
broken_dependencies!(dependencies_format_not_a_string, "format = \"uv\"" => "format = 3");
broken_dependencies!(dependencies_unknown_key, "groups = [\"lint\"]" => "group = [\"lint\"]");
broken_dependencies!(dependencies_missing_format, "format = \"uv\"\n" => "");

// The files.
broken_dependencies!(dependencies_files_empty, "files = [\"pyproject.toml\", \"uv.lock\"]" => "files = []");
broken_dependencies!(dependencies_uv_lock_missing, "files = [\"pyproject.toml\", \"uv.lock\"]" => "files = [\"pyproject.toml\"]");
broken_dependencies!(dependencies_uv_without_pyproject, "files = [\"pyproject.toml\", \"uv.lock\"]" => "files = [\"uv.lock\"]");
broken_dependencies!(dependencies_uv_with_poetry_lock, "files = [\"pyproject.toml\", \"uv.lock\"]" => "files = [\"pyproject.toml\", \"poetry.lock\"]");
broken_dependencies!(dependencies_poetry_with_uv_lock, "format = \"uv\"" => "format = \"poetry\"");
broken_dependencies!(dependencies_file_does_not_exist, "files = [\"pyproject.toml\", \"uv.lock\"]" => "files = [\"pyproject.toml\", \"uv.lok\"]");
broken_dependencies!(dependencies_file_escapes_the_project, "files = [\"pyproject.toml\", \"uv.lock\"]" => "files = [\"pyproject.toml\", \"../uv.lock\"]");
broken_dependencies!(dependencies_lock_not_beside_pyproject, "files = [\"pyproject.toml\", \"uv.lock\"]" => "files = [\"pyproject.toml\", \"sub/uv.lock\"]");
broken_dependencies!(dependencies_file_listed_twice, "files = [\"pyproject.toml\", \"uv.lock\"]" => "files = [\"pyproject.toml\", \"uv.lock\", \"./uv.lock\"]");
broken_dependencies!(dependencies_pipenv_without_lock, "format = \"uv\"\nfiles = [\"pyproject.toml\", \"uv.lock\"]\ngroups = [\"lint\"]\ntest_groups = [\"test\"]" => "format = \"pipenv\"\nfiles = [\"Pipfile\"]");
broken_dependencies!(dependencies_requirements_format_with_a_lock, "format = \"uv\"\nfiles = [\"pyproject.toml\", \"uv.lock\"]\ngroups = [\"lint\"]\ntest_groups = [\"test\"]" => "format = \"requirements\"\nfiles = [\"requirements/base.txt\", \"uv.lock\"]");
broken_dependencies!(dependencies_requirements_format_with_setup_py, "format = \"uv\"\nfiles = [\"pyproject.toml\", \"uv.lock\"]\ngroups = [\"lint\"]\ntest_groups = [\"test\"]" => "format = \"requirements\"\nfiles = [\"setup.py\"]");
broken_dependencies!(dependencies_requirements_format_with_groups, "format = \"uv\"\nfiles = [\"pyproject.toml\", \"uv.lock\"]" => "format = \"requirements\"\nfiles = [\"requirements/base.txt\"]");
broken_dependencies!(dependencies_test_files_with_a_lock, "test_groups = [\"test\"]" => "test_files = [\"requirements/base.txt\"]");

// The groups.
broken_dependencies!(dependencies_unknown_group, "test_groups = [\"test\"]" => "test_groups = [\"tset\"]");
broken_dependencies!(dependencies_group_in_both_lists, "test_groups = [\"test\"]" => "test_groups = [\"test\", \"lint\"]");
broken_dependencies!(dependencies_poetry_main_group, "format = \"uv\"\nfiles = [\"pyproject.toml\", \"uv.lock\"]\ngroups = [\"lint\"]" => "format = \"poetry\"\nfiles = [\"pyproject.toml\", \"poetry.lock\"]\ngroups = [\"main\"]");
broken_dependencies!(dependencies_poetry_without_that_group, "format = \"uv\"\nfiles = [\"pyproject.toml\", \"uv.lock\"]" => "format = \"poetry\"\nfiles = [\"pyproject.toml\", \"poetry.lock\"]");

broken_dependencies!(dependencies_pipenv_unknown_category, "format = \"uv\"\nfiles = [\"pyproject.toml\", \"uv.lock\"]\ngroups = [\"lint\"]\ntest_groups = [\"test\"]" => "format = \"pipenv\"\nfiles = [\"Pipfile.lock\"]\ntest_groups = [\"devel\"]");
broken_dependencies!(dependencies_pipenv_default_category, "format = \"uv\"\nfiles = [\"pyproject.toml\", \"uv.lock\"]\ngroups = [\"lint\"]\ntest_groups = [\"test\"]" => "format = \"pipenv\"\nfiles = [\"Pipfile.lock\"]\ngroups = [\"default\"]");

// `[app] requirements` beside, or instead of, the table.
broken_dependencies!(dependencies_and_app_requirements, "requirements = []" => "requirements = [\"requirements.txt\"]");
broken_dependencies!(dependencies_nowhere, "requirements = []\n\n[dependencies]\nformat = \"uv\"\nfiles = [\"pyproject.toml\", \"uv.lock\"]\ngroups = [\"lint\"]\ntest_groups = [\"test\"]\n" => "");
broken_dependencies!(app_requirements_names_pyproject, "requirements = []\n\n[dependencies]\nformat = \"uv\"\nfiles = [\"pyproject.toml\", \"uv.lock\"]\ngroups = [\"lint\"]\ntest_groups = [\"test\"]\n" => "requirements = [\"pyproject.toml\"]\n");
broken_dependencies!(app_requirements_names_a_lock, "requirements = []\n\n[dependencies]\nformat = \"uv\"\nfiles = [\"pyproject.toml\", \"uv.lock\"]\ngroups = [\"lint\"]\ntest_groups = [\"test\"]\n" => "requirements = [\"requirements.txt\", \"poetry.lock\"]\n");

/// A valid `[dependencies]` table, resolved.
fn resolved(table: &str) -> String {
    let text = lock_project();
    let start = text
        .find("[dependencies]")
        .expect("the fixture has [dependencies]");
    let end = start + text[start..].find("\n\n").expect("a blank line follows");
    parse(&format!("{}{table}{}", &text[..start], &text[end..]))
        .unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn dependency_formats_resolve() {
    insta::assert_snapshot!(
        [
            "[dependencies]\nformat = \"uv\"\nfiles = [\"uv.lock\", \"pyproject.toml\"]\ngroups = [\"lint\"]\ntest_groups = [\"test\"]",
            "[dependencies]\nformat = \"poetry\"\nfiles = [\"pyproject.toml\", \"poetry.lock\"]\ngroups = [\"production\"]",
            "[dependencies]\nformat = \"pipenv\"\nfiles = [\"Pipfile\", \"Pipfile.lock\"]\ntest_groups = [\"develop\"]",
            "[dependencies]\nformat = \"requirements\"\nfiles = [\"app/requirements.txt\"]\ntest_files = [\"requirements/base.txt\"]",
        ]
        .map(resolved)
        .join("\n")
    );
}
