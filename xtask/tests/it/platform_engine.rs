//! A platform on its own engine (`[platforms] engines`), the way buildx appends a native node to a builder: the
//! second-engine harness stands in for an arm64 machine's engine. The arm64 bases are copied there from this
//! machine's engine, the arm64 images made, smoke-tested and pushed there, this machine's here, and both meet in one
//! index per tag in a registry both engines reach under one name.

use crate::platforms::{emulation_or_skip, ARM64_BASES};
use crate::registry::LocalRegistry;
use crate::release::{assert_matches_schema, release, release_json};
use crate::second_engine::SecondEngine;
use crate::support::{assert_no_leftovers, engine_or_skip, runtime, stderr, Project};

#[test]
fn a_platform_on_its_own_engine_is_made_tested_and_pushed_there_and_meets_this_machines_in_one_index(
) {
    let test = "a_platform_on_its_own_engine_is_made_tested_and_pushed_there_and_meets_this_machines_in_one_index";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    if !emulation_or_skip(test) {
        return;
    }
    let Some(mut node) = SecondEngine::start_or_skip(test) else {
        return;
    };
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    let port: u16 = registry
        .address
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("127.0.0.1:PORT");
    node.forward_loopback_port(port);
    let node_engine = node.connect();

    let project = Project::copy("dockyard-it-platform-engine");
    let path = project.path("deploy.toml");
    let deploy = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{deploy}{ARM64_BASES}")).unwrap();
    // The arm64 bases on this machine's engine first (present when the emulation test made them).
    let bases = project.xtask(&["base"]);
    assert_eq!(bases.status.code(), Some(0), "{}", stderr(&bases));

    let deploy = std::fs::read_to_string(&path).unwrap();
    let targets = "targets = [\"linux/amd64\", \"linux/arm64\"]\n";
    assert!(deploy.contains(targets));
    let with_engine = |host: &str| {
        let text = deploy.replace(
            targets,
            &format!("{targets}engines = {{ \"linux/arm64\" = \"{host}\" }}\n"),
        );
        std::fs::write(&path, text).unwrap();
    };

    // An engine that does not answer (nothing listens on the node's port 2376): the run stops before building.
    let silent = node.host.replace(":2375", ":2376");
    with_engine(&silent);
    let refused = project.xtask(&["build"]);
    let log = stderr(&refused);
    assert_eq!(refused.status.code(), Some(4), "{log}");
    assert!(
        log.contains(&format!(
            "cannot reach linux/arm64's engine at {silent} ([platforms] engines)"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "hint: start the engine at {silent} or fix its address in `[platforms] engines`"
        )),
        "{log}"
    );
    assert!(!log.contains("==> builder image"), "{log}");
    dockyard_reliability::record(
        dockyard_reliability::Category::RemoteEngine,
        "platform_engine_unreachable",
        "[platforms] engines names an engine for linux/arm64 at an address where nothing listens",
        "`build` stops before any step with exit 4, naming linux/arm64's engine and its address, with a hint (fix it, or leave the entry out for emulation here)",
        "xtask::platform_engine::a_platform_on_its_own_engine_is_made_tested_and_pushed_there_and_meets_this_machines_in_one_index",
    );

    with_engine(&node.host);
    let doctor = project.xtask(&["doctor"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&doctor.stdout),
        stderr(&doctor)
    );
    assert!(
        said.contains(&format!("reachable at {}", node.host))
            && said.contains("runs linux/arm64 under its own emulation, not natively"),
        "doctor did not report the platform's engine:\n{said}"
    );
    assert!(
        said.contains(&format!(
            "dockyard/python-runtime:bookworm-arm64 not present on {}: will be copied from this machine's engine",
            node.host
        )),
        "{said}"
    );

    let output = release(&project, &registry.address, "1.0.0");
    let log = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{log}\nthe node's engine:\n{}",
        node.log_tail()
    );
    for base in [
        "dockyard/python-runtime:bookworm-arm64",
        "dockyard/nginx:bookworm-arm64",
    ] {
        assert!(
            log.contains(&format!("{base} copied from this machine's engine")),
            "{log}"
        );
    }
    assert!(
        log.contains(&format!(
            "linux/arm64: its own engine {} ([platforms] engines)",
            node.host
        )),
        "{log}"
    );
    assert_matches_schema(&project);

    // Each engine holds its own platform's images and bases, and only those.
    let image = |engine: &dockyard_engine::Engine, reference: String| {
        runtime().block_on(engine.image(&reference)).unwrap()
    };
    let tag = |suffix: &str| format!("{}{suffix}", project.name);
    for suffix in [":latest-arm64", "-nginx:latest-arm64"] {
        let made = image(&node_engine, tag(suffix)).unwrap_or_else(|| panic!("{suffix}:\n{log}"));
        assert_eq!(made.architecture, "arm64");
        assert!(
            image(&engine, tag(suffix)).is_none(),
            "{suffix} was made on this machine's engine too"
        );
    }
    assert_eq!(
        image(
            &node_engine,
            "dockyard/python-runtime:bookworm-arm64".to_owned()
        )
        .expect("the arm64 runtime base on the node")
        .architecture,
        "arm64"
    );
    assert!(image(&node_engine, tag(":latest")).is_none());
    assert_eq!(
        image(&engine, tag(":latest")).unwrap().architecture,
        "amd64"
    );

    // The arm64 smoke run happened on the node, with this machine's timeouts.
    let smoke: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.path(&format!(
            "target/dockyard/{}-smoke-arm64.json",
            project.name
        )))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(smoke["passed"], true, "{smoke}");
    assert!(
        smoke["notes"].as_array().unwrap().iter().any(|note| note
            .as_str()
            .unwrap()
            .starts_with(&format!("linux/arm64 on its own engine {}", node.host))),
        "{smoke}"
    );

    // One index per tag: the amd64 entry pushed from here, the arm64 one from the node.
    let manifest = release_json(&project);
    let bases = &manifest["bases"];
    assert_eq!(bases["runtime-arm64"]["origin"], "copied", "{manifest}");
    for released in manifest["images"].as_array().unwrap() {
        let repository = released["repository"].as_str().unwrap();
        let path = repository.trim_start_matches(&format!("{}/", registry.address));
        let index = registry.manifest(path, "1.0.0").expect("the index");
        let entries: Vec<(String, String)> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                (
                    entry["platform"]["architecture"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    entry["digest"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let platforms: Vec<(String, String)> = released["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                (
                    entry["platform"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("linux/")
                        .to_owned(),
                    entry["digest"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(entries, platforms, "{index}");
        assert_eq!(
            registry.manifest_digest(path, "1.0.0").as_deref(),
            released["digest"].as_str()
        );
        // The node pushed its image: it holds the pushed tag, this machine's engine does not.
        let pushed = format!("{repository}:1.0.0-arm64");
        assert!(image(&node_engine, pushed.clone()).is_some(), "{pushed}");
        assert!(image(&engine, pushed.clone()).is_none(), "{pushed}");
    }

    // A package with a C extension and no aarch64 wheel (netifaces 0.11.0), and an arm64 builder base without a
    // compiler (the runtime base): its sdist fails to build for arm64 only, on the node; this machine's images are made.
    let deploy = std::fs::read_to_string(&path).unwrap();
    let (head, _) = deploy
        .split_once("[base.builder-arm64]")
        .expect("ARM64_BASES ends with the arm64 builder base");
    std::fs::write(
        &path,
        format!("{head}[base.builder-arm64]\nimage = \"dockyard/python-runtime:bookworm-arm64\"\npull = false\n"),
    )
    .unwrap();
    let requirements = project.path("app/requirements.txt");
    let pinned = std::fs::read_to_string(&requirements).unwrap();
    std::fs::write(&requirements, format!("{pinned}netifaces==0.11.0\n")).unwrap();
    let failed = project.xtask(&["build"]);
    let log = stderr(&failed);
    assert_eq!(failed.status.code(), Some(6), "{log}");
    assert!(log.contains("==> production image: built"), "{log}");
    assert!(
        log.contains("on arm64 of [platforms]: the sdist of netifaces 0.11.0 does not build for arm64 in dockyard/python-runtime:bookworm-arm64 (base.builder-arm64)"),
        "{log}"
    );
    assert!(log.contains("it failed for arm64 only"), "{log}");
    dockyard_reliability::record(
        dockyard_reliability::Category::Fault,
        "platform_wheel_fails_to_build_on_one_platform",
        "netifaces==0.11.0 (a C extension, no aarch64 wheel on the index) added, with `[base.builder-arm64]` pointing at a base without a compiler, the arm64 platform on its own engine",
        "this machine's images are made (the x86_64 builder compiles it); step `images arm64` builds its sdist on the node and fails with exit 6 naming arm64, netifaces 0.11.0 and the builder base, pip's last lines and a hint; nothing left behind on either engine",
        "xtask::platform_engine::a_platform_on_its_own_engine_is_made_tested_and_pushed_there_and_meets_this_machines_in_one_index",
    );

    assert_no_leftovers(&engine, &project);
    assert_no_leftovers(&node_engine, &project);
    dockyard_reliability::record(
        dockyard_reliability::Category::RemoteEngine,
        "platform_on_its_own_engine",
        "[platforms] linux/amd64 + linux/arm64 with engines = { \"linux/arm64\" = <a second engine over TCP> }, release to a registry both engines reach as 127.0.0.1:PORT",
        "the arm64 bases are copied from this machine's engine, the arm64 images made, smoke-tested and pushed on the second engine only, the amd64 ones here; one index per tag lists both digests as release.json does; nothing left behind on either engine",
        "xtask::platform_engine::a_platform_on_its_own_engine_is_made_tested_and_pushed_there_and_meets_this_machines_in_one_index",
    );
    crate::smoke::cleanup_images(&engine, &project);
    runtime().block_on(async {
        for repository in [project.name.clone(), format!("{}-nginx", project.name)] {
            for tag in ["1.0.0", "latest", "sha-unknown", "1.0.0-amd64"] {
                let _ = engine
                    .remove_image(&format!("{}/{repository}:{tag}", registry.address))
                    .await;
            }
        }
    });
}
