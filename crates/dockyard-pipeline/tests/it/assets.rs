//! The plan of `[assets]`: the assets step with its inputs, cached while the lock file, the asset sources and the
//! build are unchanged, and the export following its output.

use dockyard_pipeline::digest::sha256_hex;
use dockyard_pipeline::plan::{self, Action};
use dockyard_pipeline::state::AssetsRecord;

use crate::fixture::{check, matching_state, Project};

/// The [assets] table appended to the copy's deploy.toml, and the files of its asset folder.
const ASSETS_TABLE: &str = r#"
[assets]
path = "app/frontend"
package_manager = "npm"
build_script = "build"
outputs = ["app/frontend/dist"]

[assets.env]
NODE_ENV = "production"
"#;

fn project_with_assets() -> Project {
    let project = Project::copy_of_repository();
    let deploy = project.path("deploy.toml");
    let mut text = std::fs::read_to_string(&deploy).expect("read deploy.toml");
    text.push_str(ASSETS_TABLE);
    std::fs::write(&deploy, text).expect("write deploy.toml");
    let frontend = project.path("app/frontend");
    std::fs::create_dir_all(frontend.join("src")).expect("create app/frontend/src");
    for (file, text) in [
        (
            "package.json",
            r#"{"name":"f","version":"1.0.0","scripts":{"build":"node build.js"}}"#,
        ),
        (
            "package-lock.json",
            r#"{"name":"f","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"f","version":"1.0.0"}}}"#,
        ),
        (
            "build.js",
            "require('fs').cpSync('src', 'dist', {recursive: true});\n",
        ),
        ("src/app.css", "body { color: navy; }\n"),
    ] {
        std::fs::write(frontend.join(file), text).expect("write an asset file");
    }
    // A local build's output and node_modules are not asset sources.
    std::fs::create_dir_all(frontend.join("node_modules/left-pad")).expect("create node_modules");
    std::fs::create_dir_all(frontend.join("dist")).expect("create dist");
    std::fs::write(frontend.join("dist/app.css"), "stale").expect("write a stale output");
    project
}

/// The state of a finished run, the assets step included.
fn state_after_a_run(project: &Project) -> dockyard_pipeline::state::State {
    let prepared = project.prepare();
    let mut state = matching_state(&prepared);
    let node = &state.bases["node"].id;
    let inputs = prepared.assets_inputs(Some(node)).expect("assets inputs");
    let path = prepared.paths.assets_tarball.clone();
    std::fs::write(&path, b"outputs").expect("write the assets tarball");
    state.assets = Some(AssetsRecord {
        path,
        sha256: sha256_hex(b"outputs"),
        inputs,
    });
    state
}

fn assets_action(project: &Project, state: &dockyard_pipeline::state::State) -> (Action, String) {
    let plan = plan::plan(&project.prepare(), state);
    let step = plan
        .steps
        .iter()
        .find(|step| step.step.name() == "assets")
        .unwrap_or_else(|| panic!("no assets step in {}", plan.render_text()));
    (step.action, step.reason.clone())
}

#[test]
fn the_plan_shows_the_assets_step_before_the_export() {
    let project = project_with_assets();
    let plan = plan::plan(&project.prepare(), &Default::default());
    check!(project, plan);
}

#[test]
fn the_assets_step_is_cached_until_its_inputs_change() {
    let project = project_with_assets();
    let state = state_after_a_run(&project);
    let check = |expected: (Action, &str)| {
        let (action, reason) = assets_action(&project, &state);
        assert_eq!((action, reason.as_str()), expected);
    };
    check((Action::Cached, "inputs unchanged since the last run"));

    // node_modules and the build's output folder are no inputs.
    std::fs::write(
        project.path("app/frontend/node_modules/left-pad/index.js"),
        "x",
    )
    .expect("write");
    std::fs::write(project.path("app/frontend/dist/app.css"), "other").expect("write");
    check((Action::Cached, "inputs unchanged since the last run"));

    std::fs::write(
        project.path("app/frontend/src/app.css"),
        "body { color: red; }\n",
    )
    .expect("write");
    check((Action::Run, "changed: asset sources"));

    let state = state_after_a_run(&project);
    std::fs::remove_file(project.path("app/frontend/package-lock.json")).expect("remove the lock");
    let (action, reason) = assets_action(&project, &state);
    assert_eq!(action, Action::Run);
    assert!(reason.contains("lock file"), "{reason}");
}

#[test]
fn the_export_follows_the_assets_output() {
    let project = project_with_assets();
    let prepared = project.prepare();
    let one = prepared.export_inputs("builder", Some("a"));
    let other = prepared.export_inputs("builder", Some("b"));
    assert_eq!(other.changed_since(&one), ["assets"]);
    // Production never carries the asset sources: the source the builder receives leaves node_modules out.
    assert!(plan::source_rules(&prepared.config)
        .extra_deny
        .contains(&"node_modules/".to_owned()));
}
