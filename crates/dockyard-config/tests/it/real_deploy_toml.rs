//! The repository's own deploy.toml must always parse.

use std::path::Path;

use dockyard_config::{ImageKind, Scanner, Severity};

#[test]
fn the_repository_deploy_toml_parses() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy.toml");
    let project = file.parent().expect("deploy.toml is in a folder");
    let manage_py = project.join("app/manage.py");
    assert!(
        manage_py.is_file(),
        "the sample Django app is missing: {} does not exist",
        manage_py.display()
    );
    let config = match dockyard_config::load(&file) {
        Ok(config) => config,
        Err(error) => panic!("the repository's deploy.toml does not resolve:\n{error}"),
    };
    assert_eq!(config.project.name, "dockyard-sample");
    assert_eq!(config.app.port, 8000);
    assert_eq!(config.base(&config.builder.base).name, "builder");
    assert_eq!(config.base(&config.production.base).name, "runtime");
    assert_eq!(
        config.base("runtime").image.to_string(),
        "dockyard/python-runtime:bookworm"
    );
    assert!(config.app.path.is_absolute());
    assert!(config.app.env.contains_key("DJANGO_ALLOWED_HOSTS"));

    let Some(nginx) = &config.nginx else {
        panic!("the repository's deploy.toml has an [nginx] table");
    };
    assert_eq!(config.base(&nginx.base).name, "nginx");
    // The production and nginx images use the built-in templates (assembled by Dockyard); nginx.conf is the file.
    assert!(matches!(
        nginx.dockerfile,
        dockyard_config::Template::BuiltIn(..)
    ));
    assert!(matches!(
        config.production.dockerfile,
        dockyard_config::Template::BuiltIn(..)
    ));
    assert!(nginx.config.origin().is_file());
    assert_eq!(nginx.port, 8080);
    assert_eq!(nginx.user, 10101);

    let checks: Vec<(&str, dockyard_config::Via)> = config
        .smoke
        .checks
        .iter()
        .map(|check| (check.name.as_str(), check.via))
        .collect();
    assert_eq!(
        checks,
        [
            ("health through nginx", dockyard_config::Via::Nginx),
            ("health straight to the app", dockyard_config::Via::App),
            (
                "index page renders the seeded note",
                dockyard_config::Via::Nginx
            ),
        ]
    );
    assert_eq!(
        config.smoke.checks[0].headers.get("content-type"),
        Some(&"application/json".to_owned())
    );

    let Some(scan) = &config.scan else {
        panic!("the repository's deploy.toml has a [scan] table");
    };
    assert_eq!(scan.trivy_version, "0.76.0");
    assert_eq!(
        scan.scanners,
        [Scanner::Vuln, Scanner::Secret, Scanner::Misconfig]
    );
    assert_eq!(scan.images, [ImageKind::App, ImageKind::Nginx]);
    assert_eq!(scan.fail_on_severity, Severity::High);
    assert!(scan.ignore_unfixed);
    assert_eq!(scan.misconfig_fail_on_severity, Severity::High);
    assert_eq!(scan.timeout_seconds, 600);
    assert_eq!(
        scan.cache_dir,
        config.root.join("target/dockyard/trivy-cache")
    );
    assert_eq!(scan.db_repository, None);
    assert!(scan.ignores.is_empty());

    let Some(release) = &config.release else {
        panic!("the repository's deploy.toml has a [release] table");
    };
    assert_eq!(release.registry, None);
    assert_eq!(release.app_repository, "dockyard-sample");
    assert_eq!(
        release.nginx_repository.as_deref(),
        Some("dockyard-sample-nginx")
    );
    assert_eq!(release.tags, ["{version}", "sha-{git_sha}"]);
    assert_eq!(release.moving_tags, ["latest"]);
    assert_eq!(release.push_attempts, 4);
    assert_eq!(release.push_backoff_ms, 500);
    assert_eq!(release.username_env, "DOCKYARD_REGISTRY_USERNAME");
    assert_eq!(release.password_env, "DOCKYARD_REGISTRY_PASSWORD");
}

#[test]
fn the_repository_deploy_services_toml_resolves_its_services_and_worker() {
    use dockyard_config::{ProcessReady, ServiceKind, ServiceValue};
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy.services.toml");
    let config = match dockyard_config::load(&file) {
        Ok(config) => config,
        Err(error) => panic!("the repository's deploy.services.toml does not resolve:\n{error}"),
    };
    let db = &config.services["db"];
    assert_eq!(
        (db.kind, db.version.as_str()),
        (ServiceKind::Postgres, "15")
    );
    assert_eq!(db.env["DATABASE_URL"], ServiceValue::Url);
    assert_eq!(
        config.base(&db.base).image.to_string(),
        "dockyard/postgres:15-bookworm"
    );
    assert!(config.base(&db.base).bootstrap.is_some());
    let cache = &config.services["cache"];
    assert_eq!(
        (cache.kind, cache.version.as_str()),
        (ServiceKind::Redis, "7.0")
    );
    assert_eq!(cache.env["CACHE_URL"], ServiceValue::Url);
    // The sample's own [app.env] names neither variable: the services give them per run.
    assert!(!config.app.env.contains_key("DATABASE_URL"));
    let [worker] = config.app.processes.as_slice() else {
        panic!("one [[app.process]] expected: {:?}", config.app.processes);
    };
    assert_eq!(worker.name, "worker");
    assert!(matches!(
        &worker.ready,
        ProcessReady::Command {
            timeout_seconds: 30,
            ..
        }
    ));
}
