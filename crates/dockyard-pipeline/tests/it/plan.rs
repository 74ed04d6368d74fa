//! The plan of a copy of the real project: which steps run and why, as the user sees it in `cargo xtask plan`.

use std::time::{Duration, SystemTime};

use dockyard_pipeline::plan::{self, Action, Plan, PlannedStep};
use dockyard_pipeline::state::{self, State};
use dockyard_pipeline::{exit_code, PipelineError};

use crate::fixture::{check, matching_state, Project};

/// The step called `name`; it must exist.
fn step<'a>(plan: &'a Plan, name: &str) -> &'a PlannedStep {
    plan.steps
        .iter()
        .find(|step| step.step.name() == name)
        .unwrap_or_else(|| panic!("no step {name:?} in {:#?}", plan.steps))
}

/// Names of the steps with `action`.
fn steps_with(plan: &Plan, action: Action) -> Vec<String> {
    plan.steps
        .iter()
        .filter(|step| step.action == action)
        .map(|step| step.step.name())
        .collect()
}

/// Asserts that every step before `first` is cached and that `first` and every later step runs:
/// later steps consume what `first` makes.
fn assert_runs_from(plan: &Plan, first: &str) {
    let index = plan
        .steps
        .iter()
        .position(|step| step.step.name() == first)
        .unwrap_or_else(|| panic!("no step {first:?} in {:#?}", plan.steps));
    let actions: Vec<(String, Action)> = plan
        .steps
        .iter()
        .map(|step| (step.step.name(), step.action))
        .collect();
    let expected: Vec<(String, Action)> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(position, step)| {
            let action = if position < index {
                Action::Cached
            } else {
                Action::Run
            };
            (step.step.name(), action)
        })
        .collect();
    assert_eq!(actions, expected, "{}", plan.render_text());
}

/// A goal's stages as `cargo xtask plan` would name them: the steps of a stage joined by `+`.
fn stage_names(goal: &dockyard_pipeline::execute::Goal, prepared: &plan::Prepared) -> Vec<String> {
    goal.stages(prepared)
        .iter()
        .map(|stage| {
            stage
                .iter()
                .map(|step| step.name())
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect()
}

/// Adds `package` to the `packages` list of `[base.<base>.bootstrap]` in the copy's deploy.toml.
fn add_package(project: &Project, base: &str, package: &str) {
    let path = project.path("deploy.toml");
    let text = std::fs::read_to_string(&path).expect("read deploy.toml");
    let header = format!("[base.{base}.bootstrap]");
    let table = text
        .find(&header)
        .unwrap_or_else(|| panic!("deploy.toml has no {header}"));
    let list = table
        + text[table..]
            .find("packages = [")
            .unwrap_or_else(|| panic!("{header} has no packages list"))
        + "packages = [".len();
    let edited = format!("{}\"{package}\", {}", &text[..list], &text[list..]);
    std::fs::write(&path, edited).expect("write deploy.toml");
}

#[test]
fn empty_state_runs_every_step() {
    let project = Project::copy_of_repository();
    let prepared = project.prepare();
    // No state file yet: loading it gives the empty state.
    assert_eq!(state::load(&prepared.paths.state), State::default());
    let plan = plan::plan(&prepared, &State::default());
    assert_eq!(steps_with(&plan, Action::Cached), Vec::<String>::new());
    check!(project, plan);
}

#[test]
fn matching_state_caches_every_step() {
    let project = Project::copy_of_repository();
    let prepared = project.prepare();
    // Through the state file, as `cargo xtask plan` reads it.
    state::save(&prepared.paths.state, &matching_state(&prepared)).expect("save the state file");
    let state = state::load(&prepared.paths.state);
    assert_eq!(
        state,
        matching_state(&prepared),
        "the state file round-trips"
    );
    let plan = plan::plan(&prepared, &state);
    assert_eq!(steps_with(&plan, Action::Run), Vec::<String>::new());
    assert!(
        plan.steps.iter().all(|step| step.inputs.is_some()),
        "every cached step knows its inputs: {:#?}",
        plan.steps
    );
    check!(project, plan);
}

#[test]
fn a_missing_export_tarball_is_not_cached() {
    let project = Project::copy_of_repository();
    let prepared = project.prepare();
    let state = matching_state(&prepared);
    std::fs::remove_file(&prepared.paths.context_tarball).expect("remove the context tarball");
    let plan = plan::plan(&prepared, &state);
    assert_runs_from(&plan, "export");
    assert_eq!(step(&plan, "export").reason, "no earlier run");
}

#[test]
fn touching_a_source_file_keeps_the_export_cached() {
    let project = Project::copy_of_repository();
    let prepared = project.prepare();
    let state = matching_state(&prepared);
    let css = project.path("app/notes/static/notes/app.css");
    // A whole second, so that file systems with coarse timestamps store it exactly.
    let touched = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    let file = std::fs::File::options()
        .write(true)
        .open(&css)
        .expect("open app.css");
    file.set_modified(touched)
        .expect("set the mtime of app.css");
    drop(file);
    assert_eq!(
        std::fs::metadata(&css)
            .and_then(|metadata| metadata.modified())
            .expect("read the mtime"),
        touched
    );

    let after = project.prepare();
    assert_eq!(
        after.source.sha256, prepared.source.sha256,
        "the source digest ignores mtimes"
    );
    let plan = plan::plan(&after, &state);
    assert_eq!(step(&plan, "export").action, Action::Cached);
    assert_eq!(steps_with(&plan, Action::Run), Vec::<String>::new());
}

#[test]
fn changing_one_byte_of_a_source_file_reruns_the_export() {
    let project = Project::copy_of_repository();
    let prepared = project.prepare();
    let state = matching_state(&prepared);
    let css = project.path("app/notes/static/notes/app.css");
    let mut bytes = std::fs::read(&css).expect("read app.css");
    let letter = bytes
        .iter()
        .position(u8::is_ascii_lowercase)
        .expect("app.css has a lowercase letter");
    bytes[letter] = bytes[letter].to_ascii_uppercase();
    std::fs::write(&css, bytes).expect("write app.css");

    let after = project.prepare();
    assert_ne!(after.source.sha256, prepared.source.sha256);
    let plan = plan::plan(&after, &state);
    let base_id = &state.bases[&after.config.builder.base].id;
    let expected_inputs = after
        .export_inputs(&after.builder_inputs(Some(base_id)).digest(), None)
        .digest();
    assert_eq!(
        step(&plan, "export"),
        &PlannedStep {
            step: dockyard_pipeline::Step::Export,
            action: Action::Run,
            reason: "changed: source".to_owned(),
            inputs: Some(expected_inputs)
        }
    );
    assert_runs_from(&plan, "export");
    check!(project, plan);
}

#[test]
fn editing_the_production_dockerfile_reruns_the_export() {
    let project = Project::copy_of_repository().with_own_templates();
    let prepared = project.prepare();
    let state = matching_state(&prepared);
    let dockerfile = project.path("docker/production.Dockerfile");
    let mut text = std::fs::read_to_string(&dockerfile).expect("read the production Dockerfile");
    text.push_str("# edited\n");
    std::fs::write(&dockerfile, text).expect("write the production Dockerfile");

    let after = project.prepare();
    assert_eq!(after.source.sha256, prepared.source.sha256);
    assert_ne!(after.kit_sha256, prepared.kit_sha256);
    let plan = plan::plan(&after, &state);
    assert_eq!(step(&plan, "export").action, Action::Run);
    assert_eq!(
        step(&plan, "export").reason,
        "changed: production Dockerfile"
    );
    assert_runs_from(&plan, "export");
    check!(project, plan);
}

#[test]
fn a_builder_base_recipe_change_reruns_the_base_and_everything_after_it() {
    let project = Project::copy_of_repository();
    let prepared = project.prepare();
    let state = matching_state(&prepared);
    let base = prepared.config.builder.base.clone();
    add_package(&project, &base, "tzdata");

    let after = project.prepare();
    let plan = plan::plan(&after, &state);
    let image = after.config.base(&base).image.to_string();
    assert_eq!(step(&plan, &format!("base {base}")).action, Action::Run);
    assert_eq!(
        step(&plan, &format!("base {base}")).reason,
        format!("{image}: bootstrap recipe changed")
    );
    assert_eq!(step(&plan, "builder image").action, Action::Run);
    assert_eq!(step(&plan, "export").action, Action::Run);
    assert_eq!(step(&plan, "production image").action, Action::Run);
    check!(project, plan);
}

#[test]
fn a_production_base_recipe_change_reruns_that_base() {
    let project = Project::copy_of_repository();
    let prepared = project.prepare();
    let state = matching_state(&prepared);
    let base = prepared.config.production.base.clone();
    assert_ne!(
        base, prepared.config.builder.base,
        "the sample uses two bases"
    );
    add_package(&project, &base, "tzdata");

    let after = project.prepare();
    let plan = plan::plan(&after, &state);
    let image = after.config.base(&base).image.to_string();
    let base_step = step(&plan, &format!("base {base}"));
    assert_eq!(base_step.action, Action::Run);
    assert_eq!(
        base_step.reason,
        format!("{image}: bootstrap recipe changed")
    );
    assert_eq!(
        step(&plan, &format!("base {}", after.config.builder.base)).action,
        Action::Cached
    );
    assert_eq!(step(&plan, "builder image").action, Action::Cached);
    // The production image is built on that base: it must not stay cached.
    assert_eq!(step(&plan, "production image").action, Action::Run);
}

/// The keys of a JSON object, sorted (whatever serde_json's `preserve_order` feature says).
fn sorted_keys(value: &serde_json::Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[test]
fn plan_json_has_a_stable_shape() {
    let project = Project::copy_of_repository();
    let prepared = project.prepare();
    for state in [State::default(), matching_state(&prepared)] {
        let plan = plan::plan(&prepared, &state);
        let value = serde_json::to_value(&plan).expect("plans serialize");
        let object = value.as_object().expect("the plan is a JSON object");
        assert_eq!(
            sorted_keys(&value),
            [
                "config",
                "dependencies",
                "paths",
                "provenance",
                "source",
                "steps"
            ]
        );
        assert_eq!(
            value["dependencies"]["sha256"],
            prepared.locked.sha256.as_str()
        );
        assert!(
            object["config"].is_object() && object["paths"].is_object(),
            "{value}"
        );
        assert_eq!(
            value["provenance"]["revision"],
            "0123456789abcdef0123456789abcdef01234567"
        );
        assert_eq!(value["source"]["sha256"], prepared.source.sha256.as_str());
        let steps = value["steps"].as_array().expect("steps is an array");
        assert_eq!(steps.len(), plan.steps.len());
        for step in steps {
            assert_eq!(sorted_keys(step), ["action", "inputs", "name", "reason"]);
            assert!(
                step["name"].is_string() && step["reason"].is_string(),
                "{step}"
            );
            assert!(
                step["action"] == "run" || step["action"] == "cached",
                "{step}"
            );
            assert!(
                step["inputs"].is_null()
                    || step["inputs"]
                        .as_str()
                        .is_some_and(|inputs| inputs.starts_with("sha256:")),
                "{step}"
            );
        }
    }
}

#[test]
fn paths_resolve_against_the_deploy_toml_folder() {
    let project = Project::copy_of_repository();
    let cwd = std::env::current_dir().expect("the current directory");
    assert!(
        !cwd.starts_with(&project.root),
        "the tests run elsewhere than the copy"
    );
    let prepared = project.prepare();
    let config = &prepared.config;
    let paths = &prepared.paths;
    let all = [
        &paths.target,
        &paths.state,
        &paths.source_tarball,
        &paths.context_tarball,
        &config.root,
        &config.file,
        &config.app.path,
        &config.builder.dockerfile.origin(),
        &config.builder.context.origin(),
    ];
    for path in all {
        assert!(
            path.starts_with(&project.root),
            "{} is not inside {}",
            path.display(),
            project.root.display()
        );
    }
    assert_eq!(paths.target, project.path("target/dockyard"));
    // Dependency files travel by their path relative to deploy.toml's folder (their path in the builder's folder).
    assert!(prepared
        .locked
        .files
        .iter()
        .all(|file| !file.path.starts_with('/') && project.root.join(&file.path).is_file()));

    // A second copy elsewhere gives the same plan, digests included: nothing depends on where the project is.
    let other = Project::copy_of_repository();
    let other_plan = plan::plan(&other.prepare(), &State::default());
    let plan = plan::plan(&prepared, &State::default());
    assert_eq!(
        other.redact_root(&other_plan.render_text()),
        project.redact_root(&plan.render_text())
    );
}

#[test]
fn an_unknown_placeholder_names_the_file_and_line() {
    let project = Project::copy_of_repository().with_own_templates();
    let dockerfile = project.path("docker/production.Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).expect("read the production Dockerfile");
    std::fs::write(&dockerfile, format!("# {{{{ prot }}}}: a typo\n{text}"))
        .expect("write the production Dockerfile");

    let error = project
        .try_prepare()
        .expect_err("an unknown placeholder is an error");
    assert!(
        matches!(error, PipelineError::Template { line: 1, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("production.Dockerfile:1:"), "{message}");
    assert_eq!(error.exit_code(), exit_code::INVALID_CONFIG);
    let hint = error.hint().unwrap_or_default();
    insta::assert_snapshot!(project.redact_root(&format!("{message}\nhint: {hint}")));
}

#[test]
fn a_source_file_edited_between_the_plan_and_the_upload_is_refused() {
    let project = Project::copy_of_repository();
    let prepared = project.prepare();
    // As planned: the tarball the builder receives is the source the plan hashed.
    let source = dockyard_pipeline::run::write_planned_source(&prepared)
        .unwrap_or_else(|error| panic!("the unchanged source was refused: {error}"));
    assert_eq!(source.sha256, prepared.source.sha256);
    // An editor saves a view after the plan: the run refuses instead of labelling the wrong inputs.
    let view = project.path("app/notes/views.py");
    let mut text = std::fs::read_to_string(&view).expect("read the view");
    text.push_str("\n# edited while Dockyard ran\n");
    std::fs::write(&view, text).expect("edit the view");
    let error = dockyard_pipeline::run::write_planned_source(&prepared)
        .expect_err("an edited source must be refused");
    assert!(
        matches!(error, PipelineError::SourceChanged { .. }),
        "{error}"
    );
    assert_eq!(error.exit_code(), exit_code::BUILD_FAILED);
    assert!(
        !prepared.paths.source_tarball.exists(),
        "the refused tarball is left behind"
    );
    let message = project.redact_root(&error.to_string());
    assert!(
        message.starts_with("the app source changed while the run used it: planned sha256 "),
        "{message}"
    );
    assert!(message.ends_with("in [ROOT]/app"), "{message}");
}

#[test]
fn every_goal_walks_the_stages_of_its_plan() {
    use dockyard_pipeline::execute::Goal;
    let project = Project::copy_of_repository();
    let prepared = project.prepare();
    let goals = [
        ("base", Goal::Bases),
        ("export", Goal::Export),
        ("build", Goal::Images),
        (
            "scan",
            Goal::Scan {
                allow_missing_database: false,
            },
        ),
        ("smoke", Goal::Smoke { load: None }),
        ("check", Goal::Check),
        ("run", Goal::Command(vec!["true".to_owned()])),
    ];
    let mut text = String::new();
    for (command, goal) in goals {
        let stages = stage_names(&goal, &prepared);
        text.push_str(&format!("{command:<7} {}\n", stages.join(" -> ")));
    }
    insta::assert_snapshot!(text);
}

#[test]
fn a_python_the_base_images_do_not_bring_is_refused_at_plan_time() {
    #[track_caller]
    fn check_request(file: &str, text: &str, python: Option<&str>, expected: Option<(&str, &str)>) {
        let project = Project::copy_of_repository();
        std::fs::write(project.path(file), text).expect("write the request");
        if let Some(version) = python {
            let path = project.path("deploy.toml");
            let toml = std::fs::read_to_string(&path).expect("read deploy.toml");
            let toml = toml.replace(
                "[python]\nversion = \"3.11\"",
                &format!("[python]\nversion = \"{version}\""),
            );
            std::fs::write(&path, toml).expect("write deploy.toml");
        }
        match (project.try_prepare(), expected) {
            (Ok(_), None) => {}
            (Err(error), Some((message, hint))) => {
                assert_eq!(error.exit_code(), exit_code::INVALID_CONFIG);
                assert_eq!(project.redact_root(&error.to_string()), message);
                assert_eq!(error.hint().as_deref(), Some(hint));
            }
            (Ok(_), Some(_)) => panic!("{file} = {text:?} was not refused"),
            (Err(error), None) => panic!("{file} = {text:?} was refused: {error}"),
        }
    }
    check_request("app/.python-version", "3.11\n", None, None);
    check_request("app/runtime.txt", "python-3.11.2\n", None, None);
    check_request(
        "app/.python-version",
        "3.13\n",
        None,
        Some((
            "[ROOT]/app/.python-version: the project asks for Python `3.13` (==3.13.*), but the base images bring Python 3.11.2 (`[python] version = \"3.11\"` in deploy.toml)",
            "set `[python] version = \"3.13\"` in deploy.toml",
        )),
    );
    check_request("app/.python-version", "3.13\n", Some("3.13"), None);
    check_request(
        "pyproject.toml",
        "[project]\nname = \"sample\"\nrequires-python = \">=3.12,<3.13\"\n",
        None,
        Some((
            "[ROOT]/pyproject.toml: the project asks for Python `>=3.12,<3.13` (>=3.12, <3.13), but the base images bring Python 3.11.2 (`[python] version = \"3.11\"` in deploy.toml)",
            "Dockyard offers Python 3.11 (Debian bookworm) and 3.13 (Debian trixie); change the project's request, build on a base image of your own that brings a fitting Python ([base.runtime] and [base.builder] in deploy.toml), or, when the file does not speak for the containers (a Heroku runtime.txt), run on an offered Python on purpose with a `[[python.ignore]]` entry (file, reason)",
        )),
    );
    dockyard_reliability::record(
        dockyard_reliability::Category::BadConfig,
        "python_request_not_offered",
        "app/.python-version 3.13 with the default [python] version, and requires-python >=3.12,<3.13 in pyproject.toml",
        "refused at plan time (exit 3) naming the file, the request and the Python the bases bring; the hint names the fitting [python] version or the versions on offer",
        "dockyard-pipeline::plan::a_python_the_base_images_do_not_bring_is_refused_at_plan_time",
    );
}

#[test]
fn a_python_ignore_entry_overrides_its_file_on_purpose_and_must_override_something() {
    let project = Project::copy_of_repository();
    std::fs::write(project.path("app/runtime.txt"), "python-3.12.4\n").expect("write the request");
    let path = project.path("deploy.toml");
    let toml = std::fs::read_to_string(&path).expect("read deploy.toml");
    std::fs::write(
        &path,
        format!("{toml}\n[[python.ignore]]\nfile = \"app/runtime.txt\"\nreason = \"Heroku's pin; the containers run Debian's Python\"\n"),
    )
    .expect("write deploy.toml");
    let prepared = project
        .try_prepare()
        .expect("the ignored request is overridden");
    let rendered = plan::plan(&prepared, &State::default()).render_text();
    assert!(
        rendered.contains("  python     3.11, overriding app/runtime.txt: Heroku's pin; the containers run Debian's Python\n"),
        "the plan prints every override:\n{rendered}"
    );

    // The request changes and fits: the entry has nothing left to override, and must go.
    std::fs::write(project.path("app/runtime.txt"), "python-3.11.2\n").expect("write the request");
    let error = project
        .try_prepare()
        .expect_err("an entry with nothing to override is refused");
    assert_eq!(error.exit_code(), exit_code::INVALID_CONFIG);
    assert_eq!(
        project.redact_root(&error.to_string()),
        "[ROOT]/deploy.toml: `python.ignore[0]` overrides [ROOT]/app/runtime.txt, but `[python] version = \"3.11\"` satisfies what it asks for"
    );
    assert_eq!(
        error.hint().as_deref(),
        Some("remove the `[[python.ignore]]` entry (python.ignore[0]): nothing is overridden any more")
    );
    dockyard_reliability::record(
        dockyard_reliability::Category::BadConfig,
        "python_ignore_unused",
        "a [[python.ignore]] entry for app/runtime.txt whose request 3.11 satisfies",
        "refused at plan time (exit 3) naming deploy.toml, the entry and the file; the hint says to remove the entry",
        "dockyard-pipeline::plan::a_python_ignore_entry_overrides_its_file_on_purpose_and_must_override_something",
    );
}

#[test]
fn the_target_folder_and_deploy_toml_of_an_app_at_the_deploy_toml_folder_stay_out_of_the_source() {
    // deploy.toml beside manage.py (`path = "."`, as init writes for most repositories): Dockyard's outputs land in
    // the app folder, and neither they nor the folder appearing may change the source the plan hashed.
    let project = Project::copy_of_repository();
    let deploy = project.path("app/deploy.toml");
    std::fs::write(
        &deploy,
        "[project]\nname = \"at-root\"\n[app]\npath = \".\"\nsettings_module = \"sample.settings\"\n\
         wsgi = \"sample.wsgi:application\"\nport = 8000\nrequirements = [\"requirements.txt\"]\n",
    )
    .expect("write deploy.toml");
    let prepare = || {
        let config = dockyard_config::load(&deploy).unwrap_or_else(|error| panic!("{error}"));
        plan::prepare(config, crate::fixture::provenance())
            .unwrap_or_else(|error| panic!("{error}"))
    };
    let before = prepare();
    std::fs::create_dir_all(project.path("app/target/dockyard/logs")).expect("create target/");
    std::fs::write(project.path("app/target/dockyard/state.json"), "{}").expect("write state.json");
    // deploy.toml is Dockyard's, not the app's: an edit to it (a smoke check) leaves the source as it was.
    let text = std::fs::read_to_string(&deploy).expect("read deploy.toml");
    std::fs::write(&deploy, format!("{text}[smoke]\npage = \"/\"\n")).expect("edit deploy.toml");
    let after = prepare();
    assert_eq!(before.source.sha256, after.source.sha256);
    let excluded: Vec<String> = after
        .source
        .excluded
        .iter()
        .map(|excluded| format!("{} ({})", excluded.path.display(), excluded.pattern))
        .collect();
    assert_eq!(
        excluded,
        ["deploy.toml (/deploy.toml)", "target (/target/)"]
    );
}

#[test]
fn the_tests_on_another_python_of_the_matrix_run_after_the_export_and_cache_alike() {
    use dockyard_pipeline::execute::Goal;
    let project = Project::copy_with("deploy.matrix.toml");
    let prepared = project.prepare();
    let empty = plan::plan(&prepared, &State::default());
    assert_eq!(steps_with(&empty, Action::Cached), Vec::<String>::new());
    let tests = step(&empty, "tests python 3.13");
    assert_eq!(tests.reason, "its builder's base image is resolved first");
    assert!(empty.render_text().contains(
        "  python     3.11 in the images; the tests also on 3.13 (base builder-py313) ([matrix])\n"
    ));

    state::save(&prepared.paths.state, &matching_state(&prepared)).expect("save the state file");
    let state = state::load(&prepared.paths.state);
    let cached = plan::plan(&prepared, &state);
    assert_eq!(steps_with(&cached, Action::Run), Vec::<String>::new());

    // One byte of the source: both Pythons' tests run again, and everything built from the export.
    let view = project.path("app/notes/views.py");
    let text = std::fs::read_to_string(&view).expect("read a view");
    std::fs::write(&view, format!("{text}#\n")).expect("write the view");
    let edited = plan::plan(&project.prepare(), &state);
    assert_runs_from(&edited, "export");
    assert_eq!(step(&edited, "tests python 3.13").reason, "changed: source");

    let stages = stage_names(&Goal::Check, &prepared);
    assert_eq!(
        stages.join(" -> "),
        "base builder -> base builder-py313 -> base nginx -> base runtime -> builder image -> export -> tests python 3.13 -> production image + nginx image -> scan -> smoke -> release"
    );
}

#[test]
fn a_matrix_python_the_project_does_not_allow_is_refused_at_plan_time() {
    let project = Project::copy_with("deploy.matrix.toml");
    std::fs::write(project.path("app/.python-version"), "3.11\n").expect("write the request");
    let error = project
        .try_prepare()
        .expect_err("3.13 does not satisfy the request");
    assert_eq!(error.exit_code(), exit_code::INVALID_CONFIG);
    assert_eq!(
        project.redact_root(&error.to_string()),
        "[ROOT]/app/.python-version: the project asks for Python `3.11` (==3.11.*), but `[matrix] python` runs the tests on Python 3.13.5 too"
    );
    assert_eq!(
        error.hint().as_deref(),
        Some("take \"3.13\" out of `[matrix] python`, or, when the file does not speak for the containers, run the tests there on purpose with a `[[python.ignore]]` entry (file, reason)")
    );
    // An entry overriding the file on purpose is used by the matrix Python alone, so it is not refused as unused.
    let path = project.path("deploy.toml");
    let toml = std::fs::read_to_string(&path).expect("read deploy.toml");
    std::fs::write(
        &path,
        format!("{toml}\n[[python.ignore]]\nfile = \"app/.python-version\"\nreason = \"the pin is for local work; CI tests 3.13 too\"\n"),
    )
    .expect("write deploy.toml");
    project.try_prepare().expect("the override is used by 3.13");
    dockyard_reliability::record(
        dockyard_reliability::Category::BadConfig,
        "matrix_python_not_allowed",
        "deploy.matrix.toml ([matrix] python = [\"3.11\", \"3.13\"]) with app/.python-version asking for 3.11",
        "refused at plan time (exit 3) naming the file, the request and the matrix Python; the hint says to take it out of the matrix or to ignore the file with a reason",
        "dockyard-pipeline::plan::a_matrix_python_the_project_does_not_allow_is_refused_at_plan_time",
    );
}

#[test]
fn doctor_says_whether_a_foreign_architecture_runs_here() {
    use dockyard_pipeline::doctor::emulation_checks;
    let project = Project::copy_of_repository();
    assert!(
        emulation_checks(&project.config(), std::path::Path::new("/nonexistent")).is_empty(),
        "no recipe names an architecture"
    );
    let foreign = if dockyard_base::native_architecture() == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let path = project.path("deploy.toml");
    let toml = std::fs::read_to_string(&path).expect("read deploy.toml");
    let toml = toml.replace(
        "[base.nginx.bootstrap]\nsuite = \"bookworm\"\n",
        &format!("[base.nginx.bootstrap]\nsuite = \"bookworm\"\narchitecture = \"{foreign}\"\n"),
    );
    std::fs::write(&path, toml).expect("write deploy.toml");
    let config = project.config();
    let binfmt = tempfile::tempdir().expect("a folder standing in for binfmt_misc");
    let entry = dockyard_base::qemu_binfmt_entry(foreign).expect("an emulator entry");
    let missing = emulation_checks(&config, binfmt.path());
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].name, format!("emulation {foreign}"));
    assert!(!missing[0].ok);
    assert_eq!(
        missing[0].detail,
        format!("not enabled, and bases nginx are for {foreign}")
    );
    assert!(
        missing[0]
            .fix
            .as_deref()
            .is_some_and(|fix| fix.contains(&format!("update-binfmts --enable {entry}"))),
        "{missing:?}"
    );
    // The base step refuses the same way before mmdebstrap runs (exit 5, the hint's commands).
    let error = dockyard_pipeline::PipelineError::from(
        dockyard_base::check_emulation("dockyard/nginx:bookworm", foreign, binfmt.path())
            .expect_err("no emulator is enabled"),
    );
    assert_eq!(error.exit_code(), exit_code::MISSING_PREREQUISITE);
    assert_eq!(
        error.to_string(),
        format!("base image dockyard/nginx:bookworm is for {foreign}, which this machine runs only under emulation, and {entry} is not enabled in binfmt_misc")
    );
    dockyard_reliability::record(
        dockyard_reliability::Category::Fault,
        "emulation_missing",
        "a bootstrap recipe for a foreign architecture (arm64 on amd64) with no enabled qemu entry in binfmt_misc",
        "doctor fails the `emulation arm64` check with the commands that enable it; the base step refuses before mmdebstrap runs (exit 5) naming the image, the architecture and the binfmt_misc entry",
        "dockyard-pipeline::plan::doctor_says_whether_a_foreign_architecture_runs_here",
    );
    std::fs::write(binfmt.path().join(entry), "enabled\n").expect("write the entry");
    let enabled = emulation_checks(&config, binfmt.path());
    assert!(enabled[0].ok, "{enabled:?}");
    assert_eq!(
        enabled[0].detail,
        format!("{entry} enabled in binfmt_misc (bases nginx)")
    );
}

#[test]
fn another_platform_adds_its_images_after_this_machines() {
    use dockyard_pipeline::execute::Goal;
    if dockyard_config::native_architecture() != "amd64" {
        return;
    }
    let project = Project::copy_of_repository();
    let path = project.path("deploy.toml");
    let toml = std::fs::read_to_string(&path).expect("read deploy.toml");
    std::fs::write(
        &path,
        format!("{toml}\n[platforms]\ntargets = [\"linux/amd64\", \"linux/arm64\"]\n\n[base.runtime-arm64]\nimage = \"dockyard/python-runtime:bookworm-arm64\"\n\n[base.runtime-arm64.bootstrap]\nsuite = \"bookworm\"\npackages = [\"python3\", \"python3-venv\", \"ca-certificates\"]\narchitecture = \"arm64\"\n\n[base.nginx-arm64]\nimage = \"dockyard/nginx:bookworm-arm64\"\n\n[base.nginx-arm64.bootstrap]\nsuite = \"bookworm\"\npackages = [\"nginx-light\"]\narchitecture = \"arm64\"\n"),
    )
    .expect("write deploy.toml");
    let prepared = project.prepare();
    let plan = plan::plan(&prepared, &State::default());
    assert_eq!(
        step(&plan, "images arm64").reason,
        "built from the context the export makes"
    );
    assert!(plan.render_text().contains(
        "  platforms  this machine's (amd64), linux/arm64 (bases runtime-arm64, nginx-arm64)\n"
    ));
    let stages = stage_names(&Goal::Images, &prepared);
    assert_eq!(
        stages[stages.len() - 3..].join(" -> "),
        "export -> production image + nginx image -> images arm64"
    );
    assert!(!Goal::Command(vec!["true".to_owned()])
        .stages(&prepared)
        .contains(&vec![dockyard_pipeline::plan::Step::PlatformImages(
            "arm64".to_owned()
        )]));
    // Only the goals that make the arm64 images make its bases.
    let arm64_base = vec![dockyard_pipeline::plan::Step::Base(
        "runtime-arm64".to_owned(),
    )];
    for goal in [Goal::Images, Goal::Bases, Goal::Check] {
        assert!(goal.stages(&prepared).contains(&arm64_base), "{goal:?}");
    }
    for goal in [
        Goal::Export,
        Goal::Dev(Vec::new()),
        Goal::Command(vec!["true".to_owned()]),
    ] {
        assert!(!goal.stages(&prepared).contains(&arm64_base), "{goal:?}");
    }
}

#[test]
fn deploy_platforms_toml_takes_the_built_in_arm64_bases_and_the_platform_wheels_are_an_input_of_the_export(
) {
    if dockyard_config::native_architecture() != "amd64" {
        return;
    }
    let project = Project::copy_with("deploy.platforms.toml");
    let prepared = project.prepare();
    assert_eq!(prepared.platform_wheel_machines(), ["aarch64"]);
    let plan = plan::plan(&prepared, &State::default());
    assert!(plan.render_text().contains(
        "  base       runtime-arm64 = dockyard/python-runtime:bookworm-arm64 (bootstrap: bookworm minbase, python3 python3-venv ca-certificates)\n"
    ));
    let with = prepared.export_inputs("builder", None);

    // The same file without [platforms]: the export no longer fetches other machines' wheels.
    let path = project.path("deploy.toml");
    let toml = std::fs::read_to_string(&path).expect("read deploy.toml");
    let native = toml.replace(
        "[platforms]\ntargets = [\"linux/amd64\", \"linux/arm64\"]\n",
        "",
    );
    assert_ne!(native, toml);
    std::fs::write(&path, native).expect("write deploy.toml");
    let prepared = project.prepare();
    assert!(prepared.platform_wheel_machines().is_empty());
    let without = prepared.export_inputs("builder", None);
    assert_eq!(with.changed_since(&without), ["platform wheels"]);
}

#[test]
fn a_platform_on_its_own_engine_is_planned_alike_and_the_plan_names_the_engine() {
    if dockyard_config::native_architecture() != "amd64" {
        return;
    }
    let project = Project::copy_with("deploy.platforms.toml");
    let emulated = project.prepare();
    let path = project.path("deploy.toml");
    let toml = std::fs::read_to_string(&path).expect("read deploy.toml");
    let targets = "[platforms]\ntargets = [\"linux/amd64\", \"linux/arm64\"]\n";
    assert!(toml.contains(targets));
    std::fs::write(
        &path,
        toml.replace(
            targets,
            &format!("{targets}engines = {{ \"linux/arm64\" = \"tcp://arm-builder:2375\" }}\n"),
        ),
    )
    .expect("write deploy.toml");
    let native = project.prepare();
    let text = plan::plan(&native, &State::default()).render_text();
    assert!(
        text.contains("  platforms  this machine's (amd64), linux/arm64 (bases runtime-arm64, nginx-arm64; on tcp://arm-builder:2375)\n"),
        "{text}"
    );
    // Where the images are made is not what they are made from: the same inputs, so the same images.
    let export = dockyard_pipeline::state::ExportRecord {
        path: project.path("context.tar.gz"),
        sha256: "0".repeat(64),
        static_manifest_sha256: None,
        static_sha256: String::new(),
        inputs: Default::default(),
    };
    let labels = |prepared: &dockyard_pipeline::plan::Prepared| prepared.production_labels(&export);
    assert_eq!(
        native.production_inputs(Some("sha256:1"), &export, &labels(&native)),
        emulated.production_inputs(Some("sha256:1"), &export, &labels(&emulated))
    );
    assert_eq!(
        native.platform_wheel_machines(),
        emulated.platform_wheel_machines()
    );
}
