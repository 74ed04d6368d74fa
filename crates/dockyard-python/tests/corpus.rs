//! The four real-world projects in `examples/`: their dependency formats and Python requests, as upstream has them.

use std::path::{Path, PathBuf};

use dockyard_python::{detect_dependencies, python_requests, PythonVersion};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

/// What the crate reads in `examples/<name>`: the format, then each Python request with whether 3.11 and 3.13 fit.
fn check(name: &str, expected: &str) {
    let root = example(name);
    let format = detect_dependencies(&root)
        .unwrap_or_else(|error| panic!("{name}: {error}"))
        .map_or_else(|| "none".to_owned(), |format| format.to_string());
    let mut lines = vec![format];
    for request in python_requests(&root).unwrap_or_else(|error| panic!("{name}: {error}")) {
        let fits: Vec<String> = [PythonVersion::new(3, 11, 2), PythonVersion::new(3, 13, 5)]
            .into_iter()
            .map(|version| {
                format!(
                    "{}.{} {}",
                    version.major,
                    version.minor,
                    request.allows(version)
                )
            })
            .collect();
        lines.push(format!("{request}: {}", fits.join(", ")));
    }
    assert_eq!(lines.join("\n"), expected, "examples/{name}");
}

#[test]
fn the_corpus_projects() {
    check(
        "wagtail-guide",
        "poetry: poetry.lock + pyproject.toml; groups dev, production\n\
         pyproject.toml [tool.poetry.dependencies] python `>=3.11` (>=3.11): 3.11 true, 3.13 true",
    );
    check(
        "docker-django-example",
        "uv: pyproject.toml + uv.lock\n\
         pyproject.toml requires-python `>=3.13` (>=3.13): 3.11 false, 3.13 true",
    );
    check(
        "djangonaut-space",
        "uv: pyproject.toml + uv.lock; extras dev, test\n\
         pyproject.toml requires-python `>=3.11` (>=3.11): 3.11 true, 3.13 true\n\
         .python-version `3.11` (==3.11.*): 3.11 true, 3.13 false",
    );
    check(
        "styleguide-example",
        "requirements: requirements/base.txt + requirements/local.txt + requirements.txt\n\
         runtime.txt `python-3.12.4` (==3.12.4): 3.11 false, 3.13 false",
    );
}
