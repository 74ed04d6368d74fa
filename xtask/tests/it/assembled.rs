//! Assembled images on a real engine: the production and nginx images Dockyard writes hold the same configuration
//! and files as the engine's build of the built-in Dockerfiles from the same exported contexts; the same inputs give
//! the same image ids (rebuilt with `--force`, and with the dependencies layer made again from nothing); a source
//! edit changes the production image and keeps the nginx image, a static file edit changes the nginx image; bases laid
//! out like the official python images (Python in /usr/local) carry the whole pipeline.

use std::collections::BTreeMap;

use dockyard_engine::{BuildSpec, ContainerSpec, Engine, ImageInfo};

use crate::smoke::{cleanup_images, edit};
use crate::support::{engine_or_skip, runtime, stderr, Project};

/// The ids of the production and nginx images after `cargo xtask build` with `args`.
fn build(engine: &Engine, project: &Project, args: &[&str]) -> (String, String) {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    let output = project.xtask(&all);
    assert!(
        output.status.success(),
        "build {args:?} failed:\n{}",
        stderr(&output)
    );
    runtime().block_on(async {
        let production = engine
            .image(&format!("{}:latest", project.name))
            .await
            .unwrap()
            .unwrap();
        let nginx = engine
            .image(&format!("{}-nginx:latest", project.name))
            .await
            .unwrap()
            .unwrap();
        (production.id, nginx.id)
    })
}

/// The line count and sha256 of a listing of the files an image holds under `paths` (path, type, mode, owner, size,
/// link target), from a container of it.
fn files(engine: &Engine, image: &str, paths: &str) -> String {
    let script = format!(
        "find {paths} -printf '%p %y %m %U %s %l\\n' | LC_ALL=C sort > /tmp/list; wc -l < /tmp/list; sha256sum < /tmp/list"
    );
    runtime().block_on(async {
        let spec = ContainerSpec {
            image: image.to_owned(),
            cmd: vec!["/bin/sh".to_owned(), "-c".to_owned(), script],
            user: Some("0:0".to_owned()),
            labels: BTreeMap::from([("dev.dockyard.test".to_owned(), "assembled".to_owned())]),
            ..ContainerSpec::default()
        };
        let id = engine.create_container(&spec).await.unwrap();
        engine.start_container(&id).await.unwrap();
        let code = engine.wait_container(&id).await.unwrap();
        let output = engine.logs_tail(&id, 10).await.unwrap().join("\n");
        engine.remove_container(&id).await.unwrap();
        assert_eq!(code, 0, "listing {paths} in {image}: {output}");
        output
    })
}

/// What a container of the image runs and how, for comparing two images.
fn runtime_config(image: &ImageInfo) -> String {
    format!(
        "user {:?}\nenv {:?}\ncmd {:?}\nentrypoint {:?}\nports {:?}\nhealthcheck {:?}\nworkdir {:?}\nlabels {:?}\narch {:?}",
        image.user,
        image.env,
        image.cmd,
        image.entrypoint,
        image.exposed_ports,
        image.healthcheck,
        image.working_dir,
        image.labels,
        image.architecture
    )
}

/// Builds `context` with the engine under `tag` with `labels`, returning the image.
fn engine_build(
    engine: &Engine,
    context: &std::path::Path,
    tag: &str,
    labels: BTreeMap<String, String>,
) -> ImageInfo {
    runtime().block_on(async {
        let spec = BuildSpec {
            tag: tag.to_owned(),
            dockerfile: "Dockerfile".to_owned(),
            labels,
        };
        engine
            .build_image(&spec, context, &mut |_| {})
            .await
            .unwrap();
        engine.image(tag).await.unwrap().unwrap()
    })
}

#[test]
fn assembled_images_match_the_engines_build_of_the_same_context_and_the_same_inputs_give_the_same_ids(
) {
    let Some((engine, _lock)) = engine_or_skip(
        "assembled_images_match_the_engines_build_of_the_same_context_and_the_same_inputs_give_the_same_ids",
    ) else {
        return;
    };
    let project = Project::copy("dockyard-it-assembled");
    cleanup_images(&engine, &project);
    let first = build(&engine, &project, &[]);

    // The engine's build of the built-in Dockerfiles from the contexts Dockyard exported: the same configuration and
    // the same files (names, types, modes, owners, sizes, link targets).
    let target = project.path("target/dockyard");
    let comparisons = [
        (
            format!("{}:latest", project.name),
            target.join(format!("{}-context.tar.gz", project.name)),
            "/app /opt/venv /data /etc/passwd /etc/group",
        ),
        (
            format!("{}-nginx:latest", project.name),
            target.join(format!("{}-nginx-context.tar.gz", project.name)),
            "/srv/static /etc/nginx /etc/passwd /etc/group",
        ),
    ];
    for (tag, context, paths) in comparisons {
        let assembled = runtime().block_on(engine.image(&tag)).unwrap().unwrap();
        let built_tag = format!("{}-engine-built:latest", tag.trim_end_matches(":latest"));
        let built = engine_build(&engine, &context, &built_tag, assembled.labels.clone());
        assert_eq!(
            runtime_config(&assembled),
            runtime_config(&built),
            "{tag}: configuration"
        );
        let (assembled_files, built_files) = (
            files(&engine, &tag, paths),
            files(&engine, &built_tag, paths),
        );
        // The line count and the digest of the listing without pyc lines.
        fn without_pyc(listing: &str) -> (Option<&str>, Option<&str>) {
            let lines: Vec<&str> = listing.lines().collect();
            (lines.first().copied(), lines.last().copied())
        }
        assert_eq!(
            without_pyc(&assembled_files),
            without_pyc(&built_files),
            "{tag}: files under {paths}"
        );
        runtime().block_on(engine.remove_image(&built_tag)).unwrap();
    }

    // Same inputs, same ids: forced, and with the dependencies layer made again.
    assert_eq!(
        build(&engine, &project, &["--force"]),
        first,
        "--force changed an image id"
    );
    std::fs::remove_dir_all(project.path("target/dockyard/layers")).unwrap();
    cleanup_images(&engine, &project);
    assert_eq!(
        build(&engine, &project, &[]),
        first,
        "a build from nothing changed an image id"
    );

    // A view edit: a new production image, the same nginx image.
    edit(&project, "app/notes/views.py", "\n", "\n# an edit\n");
    let after_view = build(&engine, &project, &[]);
    assert_ne!(
        after_view.0, first.0,
        "a source edit kept the production image"
    );
    assert_eq!(
        after_view.1, first.1,
        "a source edit changed the nginx image"
    );

    // A static file edit: a new nginx image.
    let css = std::fs::read_dir(project.path("app/notes/static/notes"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|extension| extension == "css"))
        .expect("the sample has a stylesheet");
    let mut text = std::fs::read_to_string(&css).unwrap();
    text.push_str("\n/* an edit */\n");
    std::fs::write(&css, text).unwrap();
    let after_css = build(&engine, &project, &[]);
    assert_ne!(
        after_css.1, after_view.1,
        "a static file edit kept the nginx image"
    );
    cleanup_images(&engine, &project);
}

/// A production base without Python (the nginx base named by mistake) cannot take the wheels: exit 6 naming the
/// image and the base, the script's output, the hint; nothing left on the engine.
#[test]
fn a_production_base_without_python_fails_the_dependencies_layer_with_exit_6() {
    let test = "a_production_base_without_python_fails_the_dependencies_layer_with_exit_6";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = Project::copy("dockyard-it-assembled-no-python");
    crate::smoke::without_app_tests(&project);
    edit(
        &project,
        "deploy.toml",
        "[production]\nbase = \"runtime\"",
        "[production]\nbase = \"nginx\"",
    );
    // --force: the dependencies volume is made again, so the layer is first tried beside the builder's tests.
    let output = project.xtask(&["build", "--force"]);
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(6), "{log}");
    let message = format!(
        "installing the wheels into the production image {}:latest failed: dockyard/nginx:bookworm (base.nginx) exited with 127",
        project.name
    );
    let beside = format!("warning: the dependencies layer beside the tests: {message}");
    assert!(log.contains(&beside), "{log}");
    assert!(
        log.contains("==> production image: installing the wheels into /opt/venv on the base"),
        "the production step did not make the layer again:\n{log}"
    );
    assert!(
        log.matches(&message).count() >= 2,
        "the error does not repeat the message:\n{log}"
    );
    assert!(log.contains("python3: not found"), "{log}");
    let hint = "hint: the production base must run the builder's Python with its venv module";
    assert!(log.contains(hint), "{log}");
    crate::faults::assert_nothing_left_and_clean_finds_nothing(&engine, &project);
    cleanup_images(&engine, &project);
    dockyard_reliability::record(
        dockyard_reliability::Category::Fault,
        "production_base_without_python",
        "[production] base = \"nginx\" (no Python): the assembled image's dependencies layer cannot be made, beside the builder's tests nor in the production image step",
        &format!("a warning for the layer beside the tests, the production step tries again, exit 6, `{message}` with the script's `python3: not found`, `{hint}`; nothing left, clean: nothing to clean"),
        &format!("xtask::assembled::{test}"),
    );
}

/// Ctrl-C while a container of the production base installs the wheels (the dependencies layer of an assembled
/// image): exit 130, the container removed, no work folder, and no half-written layer kept.
#[test]
fn ctrl_c_while_the_dependencies_layer_is_made_leaves_nothing_behind() {
    let test = "ctrl_c_while_the_dependencies_layer_is_made_leaves_nothing_behind";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = Project::copy("dockyard-it-assembled-ctrl-c");
    cleanup_images(&engine, &project);
    crate::smoke::without_app_tests(&project);
    let stage = crate::faults::Stage {
        case: "ctrl_c_dependencies_layer",
        args: &["build"],
        // The layer is made beside the builder's tests, in a container of the production base.
        marker: "beside the tests: installing the wheels",
        settle: std::time::Duration::from_secs(2),
        finished: "==> production image: built",
    };
    let outcome = crate::faults::interrupt(&project, &stage, &[]);
    let outcome = crate::faults::assert_interrupted(&engine, &project, &stage, outcome);
    let layers: Vec<String> = std::fs::read_dir(project.path("target/dockyard/layers"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        layers.is_empty(),
        "a layer was kept after Ctrl-C: {layers:?}"
    );
    cleanup_images(&engine, &project);
    dockyard_reliability::record(
        dockyard_reliability::Category::Fault,
        stage.case,
        &format!(
            "SIGINT to the process group of `cargo xtask build` {} ms after `{}`",
            stage.settle.as_millis(),
            stage.marker
        ),
        &format!("{outcome}; no dependencies layer kept"),
        &format!("xtask::assembled::{test}"),
    );
}

/// The official python images keep Python in `/usr/local` (`/usr/local/bin/python3`, its standard library in
/// `/usr/local/lib/python3.X`), with no `/usr/bin/python3`; Debian's keep it in `/usr`. Bases laid out like the
/// official ones (made here from the Debian bases by moving Python there, since no registry is reachable) carry the
/// builder's tests, the assembled production image and smoke, and the app runs on `/usr/local`'s Python.
#[test]
fn bases_laid_out_like_the_official_python_images_build_and_pass_smoke() {
    let test = "bases_laid_out_like_the_official_python_images_build_and_pass_smoke";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = Project::copy("dockyard-it-usr-local");
    let bases = project.xtask(&["base"]);
    assert!(bases.status.success(), "{}", stderr(&bases));
    // Python, its standard library (with Debian's venv and ensurepip) and its headers moved to /usr/local, as the
    // official images have them; the build fails unless nothing is left in /usr and /usr/local's Python runs.
    let move_python = "RUN set -eux; \\
        version=\"$(python3 -c 'import sys; print(f\"{sys.version_info[0]}.{sys.version_info[1]}\")')\"; \\
        mkdir -p /usr/local/bin \"/usr/local/lib/python$version\" /usr/local/include; \\
        mv \"/usr/bin/python$version\" /usr/local/bin/; \\
        cp -a \"/usr/lib/python$version/.\" \"/usr/local/lib/python$version/\"; rm -rf \"/usr/lib/python$version\"; \\
        if [ -d \"/usr/include/python$version\" ]; then mv \"/usr/include/python$version\" /usr/local/include/; fi; \\
        rm -f /usr/bin/python3; \\
        ln -s \"python$version\" /usr/local/bin/python3; ln -s python3 /usr/local/bin/python; \\
        test ! -e /usr/bin/python3; \\
        python3 -c 'import sys, venv; assert sys.base_prefix == \"/usr/local\", sys.base_prefix'\n\
        ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8\n";
    let layouts = [
        (
            "dockyard/python-runtime:bookworm",
            "dockyard-it/usr-local-runtime:bookworm",
        ),
        (
            "dockyard/python-builder:bookworm",
            "dockyard-it/usr-local-builder:bookworm",
        ),
    ];
    for (debian, official) in layouts {
        crate::services::build_test_image(
            &engine,
            official,
            &format!("FROM {debian}\n{move_python}"),
        );
    }
    for (name, (debian, official)) in ["runtime", "builder"].into_iter().zip(layouts) {
        let deploy = std::fs::read_to_string(project.path("deploy.toml")).unwrap();
        let start = deploy
            .find(&format!("[base.{name}]\nimage = \"{debian}\""))
            .unwrap_or_else(|| panic!("no [base.{name}] table in the sample's deploy.toml"));
        let end = start + deploy[start..].find("\n\n").unwrap();
        let written = format!("[base.{name}]\nimage = \"{official}\"\npull = false");
        std::fs::write(
            project.path("deploy.toml"),
            format!("{}{written}{}", &deploy[..start], &deploy[end..]),
        )
        .unwrap();
    }
    let smoke = project.xtask(&["smoke"]);
    assert_eq!(smoke.status.code(), Some(0), "{}", stderr(&smoke));
    let script = "import os, sys; print(sys.base_prefix, os.path.realpath(sys.executable), os.path.exists('/usr/bin/python3'))";
    let ran = project.xtask(&["run", "--", "python", "-c", script]);
    assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
    let printed = crate::support::stdout(&ran);
    assert!(
        printed
            .trim()
            .starts_with("/usr/local /usr/local/bin/python3.")
            && printed.trim().ends_with(" False"),
        "the app should run on /usr/local's Python: {printed}"
    );
    crate::support::assert_no_leftovers(&engine, &project);
    cleanup_images(&engine, &project);
    runtime().block_on(async {
        for (_, official) in layouts {
            let _ = engine.remove_image(official).await;
        }
    });
    eprintln!(
        "{test}: the builder's tests, the assembled images and smoke on /usr/local's Python: {}",
        printed.trim()
    );
}
