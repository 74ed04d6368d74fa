//! `[assets]` on a real engine: an npm build in a Node container whose CSS collectstatic picks up, skipped while its
//! inputs are unchanged and rerun (with a new nginx image) when the CSS changes; Node, npm, node_modules and the
//! asset sources never reach the production context; a tampered or missing lock, a failing and a hanging build each
//! exit 6 with a clear message and leave nothing behind; a build reading other folders (`sources`) reruns when they
//! change.

use std::io::Read;

use dockyard_engine::Engine;
use dockyard_reliability::{record, Category};

use crate::faults::assert_nothing_left_and_clean_finds_nothing;
use crate::smoke::{cleanup_images, without_app_tests};
use crate::support::{engine_or_skip, runtime, stderr, Project};

/// The output folder: a static folder of the sample's `notes` app, so collectstatic finds it without a setting.
const OUTPUT: &str = "app/notes/static/notes/dist";

/// A plain node script as the build: no npm dependency, so the install needs no registry.
const BUILD_JS: &str = r#"const fs = require('fs');
const out = '../notes/static/notes/dist';
fs.mkdirSync(out, { recursive: true });
if (process.env.NODE_ENV !== 'production') { throw new Error('NODE_ENV is not production'); }
fs.copyFileSync('src/app.css', out + '/app.css');
"#;

const PACKAGE_JSON: &str =
    r#"{"name":"frontend","version":"1.0.0","private":true,"scripts":{"build":"node build.js"}}"#;

const PACKAGE_LOCK: &str = r#"{"name":"frontend","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"frontend","version":"1.0.0"}}}"#;

/// A copy of the sample app with an `[assets]` table and its asset folder `app/frontend`.
fn project_with_assets(name: &str, timeout_seconds: u64) -> Project {
    let project = Project::copy(name);
    without_app_tests(&project);
    let deploy = project.path("deploy.toml");
    let mut text = std::fs::read_to_string(&deploy).unwrap();
    text.push_str(&format!(
        "\n[assets]\npath = \"app/frontend\"\npackage_manager = \"npm\"\nbuild_script = \"build\"\n\
         outputs = [\"{OUTPUT}\"]\ntimeout_seconds = {timeout_seconds}\n\n[assets.env]\nNODE_ENV = \"production\"\n"
    ));
    std::fs::write(&deploy, text).unwrap();
    let frontend = project.path("app/frontend");
    std::fs::create_dir_all(frontend.join("src")).unwrap();
    for (file, text) in [
        ("package.json", PACKAGE_JSON),
        ("package-lock.json", PACKAGE_LOCK),
        ("build.js", BUILD_JS),
        ("src/app.css", "body { color: navy; }\n"),
    ] {
        std::fs::write(frontend.join(file), text).unwrap();
    }
    project
}

/// Every entry of the exported context (the production image's only input), with the text of small files.
fn context_entries(project: &Project) -> Vec<(String, String)> {
    let path = project.path(&format!("target/dockyard/{}-context.tar.gz", project.name));
    let file = std::fs::File::open(&path).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut text = String::new();
            if entry.size() < 4096 {
                let _ = entry.read_to_string(&mut text);
            }
            (name, text)
        })
        .collect()
}

fn image_id(engine: &Engine, tag: &str) -> String {
    runtime()
        .block_on(engine.image(tag))
        .unwrap()
        .unwrap_or_else(|| panic!("no image {tag}"))
        .id
}

/// Removes the project's images and its node_modules cache volumes.
fn cleanup(engine: &Engine, project: &Project) {
    cleanup_images(engine, project);
    let clean = project.xtask(&["clean", "--caches"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
}

#[test]
fn an_npm_build_reaches_collectstatic_and_reruns_only_when_its_css_changes() {
    let test = "an_npm_build_reaches_collectstatic_and_reruns_only_when_its_css_changes";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = project_with_assets("dockyard-assets-npm", 300);
    let first = project.xtask(&["build"]);
    let log = stderr(&first);
    assert_eq!(first.status.code(), Some(0), "{log}");

    let entries = context_entries(&project);
    let css = entries
        .iter()
        .find(|(name, _)| name.starts_with("staticfiles/notes/dist/app.") && name.ends_with(".css"))
        .unwrap_or_else(|| panic!("no hashed app.css in staticfiles: {entries:?}"));
    assert!(css.1.contains("navy"), "{css:?}");
    let manifest = entries
        .iter()
        .find(|(name, _)| name == "staticfiles/staticfiles.json")
        .expect("a static manifest");
    assert!(manifest.1.contains("notes/dist/app.css"), "{}", manifest.1);
    // Production stays clean: no Node tree, no package files, no asset sources in what the image is built from.
    for (name, _) in &entries {
        assert!(
            !name.contains("node_modules")
                && !name.ends_with("package.json")
                && !name.ends_with("package-lock.json")
                && !name.starts_with("app/frontend"),
            "{name} reached the production context"
        );
    }
    let nginx_before = image_id(&engine, &format!("{}-nginx:latest", project.name));

    let second = project.xtask(&["build"]);
    let log = stderr(&second);
    assert_eq!(second.status.code(), Some(0), "{log}");
    assert!(
        log.lines()
            .any(|line| line.starts_with("==> assets: skipped")),
        "the second build ran the assets step again:\n{log}"
    );

    std::fs::write(
        project.path("app/frontend/src/app.css"),
        "body { color: teal; }\n",
    )
    .unwrap();
    let plan = project.xtask(&["plan"]);
    let plan_text = crate::support::stdout(&plan);
    assert!(
        plan_text.contains("changed: asset sources"),
        "the plan does not say why the assets step runs:\n{plan_text}"
    );
    let third = project.xtask(&["build"]);
    let log = stderr(&third);
    assert_eq!(third.status.code(), Some(0), "{log}");
    assert!(
        !log.lines()
            .any(|line| line.starts_with("==> assets: skipped")),
        "a CSS change did not rerun the assets step:\n{log}"
    );
    let nginx_after = image_id(&engine, &format!("{}-nginx:latest", project.name));
    assert_ne!(
        nginx_before, nginx_after,
        "a CSS change kept the nginx image"
    );
    assert!(context_entries(&project).iter().any(|(name, text)| name
        .starts_with("staticfiles/notes/dist/app.")
        && text.contains("teal")));
    crate::support::assert_no_leftovers(&engine, &project);
    cleanup(&engine, &project);
}

/// A build like Tailwind's: it reads the app's templates (`[assets] sources`, uploaded beside the asset folder) and
/// writes a rule for each class they use; a template edit reruns it and the new class reaches the static files.
#[test]
fn a_build_reading_the_templates_as_sources_reruns_when_a_template_changes() {
    let test = "a_build_reading_the_templates_as_sources_reruns_when_a_template_changes";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = project_with_assets("dockyard-assets-sources", 300);
    crate::smoke::edit(
        &project,
        "deploy.toml",
        &format!("outputs = [\"{OUTPUT}\"]\n"),
        &format!("outputs = [\"{OUTPUT}\"]\nsources = [\"app/notes/templates\"]\n"),
    );
    std::fs::write(
        project.path("app/frontend/build.js"),
        r#"const fs = require('fs');
const out = '../notes/static/notes/dist';
fs.mkdirSync(out, { recursive: true });
const template = fs.readFileSync('../notes/templates/notes/index.html', 'utf8');
const classes = [...template.matchAll(/class="([^"]+)"/g)].flatMap((m) => m[1].split(/\s+/));
fs.writeFileSync(out + '/app.css', classes.map((name) => '.' + name + ' { color: navy; }').join('\n') + '\n');
"#,
    )
    .unwrap();
    let first = project.xtask(&["build"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));

    let template = project.path("app/notes/templates/notes/index.html");
    let text = std::fs::read_to_string(&template).unwrap();
    std::fs::write(
        &template,
        format!("{text}\n<p class=\"from-the-template\"></p>\n"),
    )
    .unwrap();
    let plan = project.xtask(&["plan"]);
    let plan_text = crate::support::stdout(&plan);
    assert!(
        plan_text.contains("also reads app/notes/templates")
            && plan_text.contains("changed: other sources"),
        "the plan does not say why the assets step runs:\n{plan_text}"
    );
    let second = project.xtask(&["build"]);
    let log = stderr(&second);
    assert_eq!(second.status.code(), Some(0), "{log}");
    assert!(
        context_entries(&project).iter().any(|(name, text)| name
            .starts_with("staticfiles/notes/dist/app.")
            && text.contains(".from-the-template")),
        "the template's new class did not reach the static files:\n{log}"
    );
    crate::support::assert_no_leftovers(&engine, &project);
    cleanup(&engine, &project);
}

/// One broken variant: `build` exits 6 naming `expected`, with a hint, and leaves nothing behind.
fn assert_assets_fail(engine: &Engine, project: &Project, expected: &str) -> String {
    let output = project.xtask(&["build"]);
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(6), "{log}");
    assert!(log.contains(expected), "expected `{expected}` in:\n{log}");
    let hint = log
        .lines()
        .find(|line| line.starts_with("hint: "))
        .unwrap_or_else(|| panic!("no hint in:\n{log}"))
        .to_owned();
    assert_nothing_left_and_clean_finds_nothing(engine, project);
    let production = runtime()
        .block_on(engine.image(&format!("{}:latest", project.name)))
        .unwrap();
    assert!(
        production.is_none(),
        "a production image was built after the assets step failed"
    );
    format!("exit 6, `{expected}`, `{hint}`; no production image, nothing left, clean: nothing to clean")
}

#[test]
fn a_tampered_or_missing_lock_a_failing_and_a_hanging_build_each_exit_6() {
    let test = "a_tampered_or_missing_lock_a_failing_and_a_hanging_build_each_exit_6";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = project_with_assets("dockyard-assets-faults", 10);
    let frontend = project.path("app/frontend");
    let case = |name: &str, tried: &str, outcome: &str| {
        record(
            Category::Fault,
            name,
            tried,
            outcome,
            &format!("xtask::assets::{test}"),
        );
    };

    // package.json asks for a package the lock does not pin: `npm ci` refuses before fetching anything.
    std::fs::write(
        frontend.join("package.json"),
        PACKAGE_JSON.replace(
            "\"private\":true",
            "\"private\":true,\"dependencies\":{\"left-pad\":\"1.3.0\"}",
        ),
    )
    .unwrap();
    let outcome = assert_assets_fail(&engine, &project, "assets install failed");
    case(
        "assets_lock_out_of_date",
        "package.json gains a dependency package-lock.json does not pin",
        &outcome,
    );

    std::fs::write(frontend.join("package.json"), PACKAGE_JSON).unwrap();
    std::fs::remove_file(frontend.join("package-lock.json")).unwrap();
    let outcome = assert_assets_fail(&engine, &project, "assets: no lock file");
    case(
        "assets_lock_missing",
        "app/frontend/package-lock.json removed",
        &outcome,
    );

    std::fs::write(frontend.join("package-lock.json"), PACKAGE_LOCK).unwrap();
    std::fs::write(
        frontend.join("build.js"),
        "throw new Error('dockyard-planted-build-error');\n",
    )
    .unwrap();
    let outcome = assert_assets_fail(&engine, &project, "dockyard-planted-build-error");
    case("assets_build_fails", "build.js throws", &outcome);

    std::fs::write(
        frontend.join("build.js"),
        "console.log('watching'); setInterval(() => {}, 1000);\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let outcome = assert_assets_fail(&engine, &project, "did not finish within 10 s");
    assert!(
        started.elapsed().as_secs() < 120,
        "the hanging build was not stopped in time"
    );
    case(
        "assets_build_hangs",
        "build.js never exits (a watch mode); [assets] timeout_seconds = 10",
        &outcome,
    );
    cleanup(&engine, &project);
}

#[test]
fn a_build_that_runs_in_the_builder_reaches_collectstatic_and_leaves_no_asset_source_behind() {
    let test =
        "a_build_that_runs_in_the_builder_reaches_collectstatic_and_leaves_no_asset_source_behind";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = project_with_assets("dockyard-assets-builder", 300);
    // Tailwind through manage.py needs the Python environment: the same commands, in the builder.
    crate::smoke::edit(
        &project,
        "deploy.toml",
        "\nbuild_script = \"build\"\n",
        "\nbuild_command = [\"node\", \"build.js\"]\nruns_in = \"builder\"\n",
    );
    crate::smoke::edit(
        &project,
        "deploy.toml",
        &format!("outputs = [\"{OUTPUT}\"]\n"),
        "",
    );
    // The sample writes its builder base; left out, the built-in one brings Node with runs_in = "builder".
    crate::smoke::edit(
        &project,
        "deploy.toml",
        "[base.builder]\nimage = \"dockyard/python-builder:bookworm\"\n",
        "",
    );
    crate::smoke::edit(
        &project,
        "deploy.toml",
        "[base.builder.bootstrap]\nsuite = \"bookworm\"\npackages = [\"python3\", \"python3-venv\", \"python3-dev\", \"gcc\", \"libc6-dev\", \"ca-certificates\"]\nenv = { PYTHON_VERSION = \"3.11.2\" }\n",
        "",
    );
    let plan = project.xtask(&["plan"]);
    let plan_text = crate::support::stdout(&plan);
    assert!(
        plan_text.contains("dockyard/python-node-builder"),
        "{plan_text}"
    );
    assert!(!plan_text.contains("base node"), "{plan_text}");
    let build = project.xtask(&["build"]);
    let log = stderr(&build);
    assert_eq!(build.status.code(), Some(0), "{log}");
    assert!(log.contains("builder step: assets build"), "{log}");
    let entries = context_entries(&project);
    assert!(
        entries.iter().any(
            |(name, text)| name.starts_with("staticfiles/notes/dist/app.") && text.contains("navy")
        ),
        "no built CSS in staticfiles: {entries:?}"
    );
    for (name, _) in &entries {
        assert!(
            !name.contains("node_modules") && !name.starts_with("app/frontend"),
            "{name} reached the production context"
        );
    }
    crate::support::assert_no_leftovers(&engine, &project);
    cleanup(&engine, &project);
}

#[test]
fn dev_reruns_the_npm_build_when_an_asset_source_changes() {
    let test = "xtask::it::assets::dev_reruns_the_npm_build_when_an_asset_source_changes";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = crate::dev::with_dev_table(project_with_assets("dockyard-it-assets-dev", 300));
    let mut session = crate::dev::Session::start(&project, &[]);
    let css = "/static/notes/dist/app.css";
    session.until("the built CSS", css, |status, body| {
        status == 200 && body.contains("navy")
    });
    std::fs::write(
        project.path("app/frontend/src/app.css"),
        "body { color: teal; }\n",
    )
    .unwrap();
    let seconds = session.until("the CSS built again", css, |status, body| {
        status == 200 && body.contains("teal")
    });
    let (code, _) = session.interrupt();
    assert_eq!(code, Some(130));
    crate::support::assert_no_leftovers(&engine, &project);
    record(
        Category::Fault,
        "an asset source changes during a dev session",
        "`cargo xtask dev` on the sample with an npm [assets] build; src/app.css edited while it serves",
        &format!(
            "the Node build ran again and its output reached the running app: the new CSS served {seconds:.1} s after \
             the save; Ctrl-C left nothing of the run"
        ),
        test,
    );
    let clean = project.xtask(&["clean", "--dev"]);
    assert_eq!(clean.status.code(), Some(0));
    cleanup(&engine, &project);
}
