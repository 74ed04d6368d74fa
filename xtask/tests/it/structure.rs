//! container-structure-test as an independent check of both images: Google's tool, driven by
//! `docker/structure/app.yaml` and `docker/structure/nginx.yaml`, must agree with Dockyard about the user,
//! the exposed ports, the command, the labels and the files of a freshly built copy of the sample.
#![allow(
    clippy::disallowed_methods,
    reason = "the test runs container-structure-test and python3 as a user would"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use dockyard_engine::Engine;

use crate::support::{
    context_sha256, engine_or_skip, runtime, stderr, tail, workspace_root, Project,
};

/// Removes the project's images when the test ends, pass or fail.
struct ProjectImages<'a> {
    engine: &'a Engine,
    name: String,
}

impl Drop for ProjectImages<'_> {
    fn drop(&mut self) {
        runtime().block_on(async {
            for suffix in ["", "-builder", "-nginx"] {
                let _ = self
                    .engine
                    .remove_image(&format!("{}{suffix}:latest", self.name))
                    .await;
            }
        });
    }
}

/// Runs the binary on `image` with `configs`, asserts it passes, and returns its pass count.
fn run(binary: &Path, image: &str, configs: &[PathBuf]) -> u64 {
    let mut command = Command::new(binary);
    command.args(["test", "--image", image, "--output", "json", "--no-color"]);
    for config in configs {
        command.arg("--config").arg(config);
    }
    let output = command.output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|error| {
        panic!(
            "container-structure-test on {image} printed no JSON report ({error}), exit {:?}:\n{text}\n{}",
            output.status.code(),
            tail(&stderr(&output), 30)
        )
    });
    let failures: Vec<String> = report["Results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|result| result["Pass"] != true)
        .map(|result| format!("{}: {}", result["Name"], result["Errors"]))
        .collect();
    let (passed, failed, total) = (
        report["Pass"].as_u64().unwrap_or(0),
        report["Fail"].as_u64(),
        report["Total"].as_u64(),
    );
    assert!(
        output.status.success() && failed == Some(0) && failures.is_empty(),
        "container-structure-test disagrees about {image} (exit {:?}, {passed} passed, {failed:?} failed):\n  {}",
        output.status.code(),
        failures.join("\n  ")
    );
    assert!(
        passed > 0,
        "container-structure-test ran no tests on {image}: {text}"
    );
    assert_eq!(Some(passed), total, "{text}");
    passed
}

#[test]
fn container_structure_test_agrees_with_dockyard_about_both_images() {
    let test = "container_structure_test_agrees_with_dockyard_about_both_images";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let Some((binary, version)) = crate::support::tool_or_skip(
        dockyard_tools::Tool::ContainerStructureTest,
        "version",
        test,
    ) else {
        return;
    };
    eprintln!("container-structure-test {version} at {}", binary.display());

    let project = Project::copy("dockyard-it-structure");
    let _images = ProjectImages {
        engine: &engine,
        name: project.name.clone(),
    };
    let build = project.xtask(&["build"]);
    assert_eq!(
        build.status.code(),
        Some(0),
        "build failed:\n{}",
        stderr(&build)
    );

    // The checked-in configs, plus the one value only this build knows: the app image carries the exact sha256 of
    // the context it was made from, the nginx image that of the static files it serves (so a source edit keeps it),
    // and container-structure-test must read the same ones.
    let label_config = |file: &str, key: &str, value: &str| {
        let path = project.path(file);
        std::fs::write(
            &path,
            format!("schemaVersion: 2.0.0\nmetadataTest:\n  labels:\n    - key: {key}\n      value: \"sha256:{value}\"\n"),
        )
        .unwrap();
        path
    };
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.path("target/dockyard/state.json")).unwrap(),
    )
    .unwrap();
    let static_sha256 = state["export"]["static_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(static_sha256.len(), 64, "{state}");
    let context_label = label_config(
        "context-label.yaml",
        "dev.dockyard.context.sha256",
        &context_sha256(&project),
    );
    let static_label = label_config(
        "static-label.yaml",
        "dev.dockyard.static.sha256",
        &static_sha256,
    );
    let structure = workspace_root().join("docker/structure");
    let app = run(
        &binary,
        &format!("{}:latest", project.name),
        &[structure.join("app.yaml"), context_label],
    );
    let nginx = run(
        &binary,
        &format!("{}-nginx:latest", project.name),
        &[structure.join("nginx.yaml"), static_label],
    );
    eprintln!("container-structure-test: app image {app} passed, nginx image {nginx} passed");
}
