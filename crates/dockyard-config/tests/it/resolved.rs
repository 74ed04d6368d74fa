//! Valid deploy.toml files: what they resolve to, defaults, and paths resolved from the file.

use std::path::Path;

use dockyard_config::{
    templates, ImageKind, PythonVersion, Scanner, Severity, Template, TemplateFolder,
};
use jiff::civil::date;

use crate::fixture::{canonical_root, check, check_project, write_fixture_project, MINIMAL, VALID};

#[test]
fn full_fixture_resolves() {
    insta::assert_snapshot!(check(VALID));
}

#[test]
fn defaults_apply_when_optional_keys_are_left_out() {
    // Without docker.ignore named, app/.dockerignore is picked up when it exists.
    insta::assert_snapshot!(check_project(MINIMAL, &[], &["app/.dockerignore"]));
}

#[test]
fn smoke_takes_its_defaults_when_the_table_is_absent() {
    let folder = write_fixture_project(MINIMAL, &[], &[]);
    let root = canonical_root(&folder);
    let config = dockyard_config::parse(MINIMAL, &root.join("deploy.toml")).expect("valid");
    assert_eq!(config.nginx, None);
    assert_eq!(config.scan, None);
    assert_eq!(config.release, None);
    assert_eq!(
        config.smoke,
        dockyard_config::Smoke {
            startup_timeout_seconds: 60,
            stop_timeout_seconds: 10,
            app_size_budget_mb: None,
            nginx_size_budget_mb: None,
            host: "localhost".to_owned(),
            page: "/".to_owned(),
            https: true,
            deploy_checks: true,
            silence: Default::default(),
            checks: Vec::new(),
        }
    );
}

/// MINIMAL on Dockyard's built-in bases (no `[base.runtime]`), with `extra` appended.
fn minimal_on_built_in_bases(extra: &str) -> String {
    let text = MINIMAL
        .replace("[base.runtime]\nimage = \"python:3.12-slim\"\n", "")
        .replace("base = \"runtime\"\n", "");
    assert_ne!(text, MINIMAL, "the edit applies");
    format!("{text}{extra}")
}

#[test]
fn packages_extend_the_built_in_bases_under_their_own_tags() {
    let resolve = |text: &str| {
        let folder = write_fixture_project(text, &[], &[]);
        let root = canonical_root(&folder);
        dockyard_config::parse(text, &root.join("deploy.toml")).expect("valid")
    };
    let plain = resolve(&minimal_on_built_in_bases(""));
    let text = minimal_on_built_in_bases("packages = [\"libpq5\"]\n[builder.packages]\n")
        .replace("[builder.packages]\n", "");
    let text = text.replace("[builder]\n", "[builder]\npackages = [\"libpq-dev\"]\n");
    let extended = resolve(&text);
    let packages = |config: &dockyard_config::DeployConfig, base: &str| {
        config.bases[base]
            .bootstrap
            .as_ref()
            .unwrap()
            .packages
            .clone()
    };
    let tag = |config: &dockyard_config::DeployConfig, base: &str| {
        config.bases[base].image.tag.clone().unwrap()
    };
    // The runtime's libraries reach the builder (tests load them); the builder's headers stay in the builder.
    assert!(packages(&extended, "runtime").ends_with(&["libpq5".to_owned()]));
    assert!(!packages(&extended, "runtime").contains(&"libpq-dev".to_owned()));
    assert!(
        packages(&extended, "builder").ends_with(&["libpq5".to_owned(), "libpq-dev".to_owned()])
    );
    // Extended bases never share a tag with the plain ones, nor with each other.
    assert_eq!(tag(&plain, "runtime"), "bookworm");
    assert!(tag(&extended, "runtime").starts_with("bookworm-"));
    assert_ne!(tag(&extended, "runtime"), tag(&extended, "builder"));
    assert_eq!(tag(&extended, "runtime").len(), "bookworm-".len() + 12);
}

#[test]
fn builder_settings_env_and_collectstatic_order_resolve() {
    let folder = write_fixture_project(MINIMAL, &[], &[]);
    let root = canonical_root(&folder);
    let config = dockyard_config::parse(MINIMAL, &root.join("deploy.toml")).expect("valid");
    assert_eq!(config.builder.settings_module, None);
    assert!(config.builder.env.is_empty());
    assert!(!config.builder.collectstatic_before_tests);
    let text = MINIMAL.replace(
        "[builder]\n",
        "[builder]\nsettings_module = \"shop.settings.build\"\ncollectstatic_before_tests = true\nenv = { USE_S3 = \"false\" }\n",
    );
    let config = dockyard_config::parse(&text, &root.join("deploy.toml")).expect("valid");
    assert_eq!(
        config.builder.settings_module.as_deref(),
        Some("shop.settings.build")
    );
    assert!(config.builder.collectstatic_before_tests);
    assert_eq!(
        config.builder.env,
        [("USE_S3".to_owned(), "false".to_owned())].into()
    );
}

#[test]
fn smoke_host_page_and_https_resolve() {
    let folder = write_fixture_project(MINIMAL, &[], &[]);
    let root = canonical_root(&folder);
    let text = format!(
        "{MINIMAL}\n[smoke]\nhost = \"guide.example.org\"\npage = \"/en/\"\nhttps = false\n"
    );
    let config = dockyard_config::parse(&text, &root.join("deploy.toml")).expect("valid");
    assert_eq!(config.smoke.host, "guide.example.org");
    assert_eq!(config.smoke.page, "/en/");
    assert!(!config.smoke.https);
    assert!(config.smoke.deploy_checks);
    assert!(config.smoke.silence.is_empty());
    let text = format!(
        "{MINIMAL}\n[smoke]\ndeploy_checks = false\n[smoke.silence]\n\"security.W008\" = \"TLS ends at the balancer\"\n\"fields.E304\" = \"x\"\n"
    );
    let config = dockyard_config::parse(&text, &root.join("deploy.toml")).expect("valid");
    assert!(!config.smoke.deploy_checks);
    assert_eq!(
        config.smoke.silence.keys().collect::<Vec<_>>(),
        ["fields.E304", "security.W008"]
    );
    // Without `host`, nginx's first server_name.
    let text = format!("{MINIMAL}\n[nginx]\nserver_names = [\"shop.test\", \"localhost\"]\n");
    let config = dockyard_config::parse(&text, &root.join("deploy.toml")).expect("valid");
    assert_eq!(config.smoke.host, "shop.test");
}

#[test]
fn nginx_and_smoke_check_defaults_apply_when_optional_keys_are_left_out() {
    let text = format!(
        "{MINIMAL}
[base.nginx]
image = \"nginx:1.27\"

[nginx]
dockerfile = \"docker/nginx.Dockerfile\"
config = \"docker/nginx/nginx.conf\"
base = \"nginx\"

[smoke]

[[smoke.check]]
name = \"home page\"
path = \"/\"
"
    );
    insta::assert_snapshot!(check(&text));
}

/// [`MINIMAL`] with an `[nginx]` table, so that the scan's default images exist, then `scan`.
fn minimal_with_nginx_and(scan: &str) -> String {
    format!(
        "{MINIMAL}
[base.nginx]
image = \"nginx:1.27\"

[nginx]
dockerfile = \"docker/nginx.Dockerfile\"
config = \"docker/nginx/nginx.conf\"
base = \"nginx\"

{scan}"
    )
}

#[test]
fn scan_defaults_apply_when_only_the_trivy_version_is_written() {
    let text = minimal_with_nginx_and("[scan]\ntrivy_version = \"0.76.0\"\n");
    let folder = write_fixture_project(&text, &[], &[]);
    let root = canonical_root(&folder);
    let config = dockyard_config::parse(&text, &root.join("deploy.toml")).expect("valid");
    assert_eq!(
        config.scan,
        Some(dockyard_config::Scan {
            trivy_version: "0.76.0".to_owned(),
            scanners: vec![Scanner::Vuln, Scanner::Secret, Scanner::Misconfig],
            images: vec![ImageKind::App, ImageKind::Nginx],
            fail_on_severity: Severity::High,
            ignore_unfixed: false,
            misconfig_fail_on_severity: Severity::High,
            timeout_seconds: 600,
            cache_dir: root.join("target/dockyard/trivy-cache"),
            db_repository: None,
            skip_db_update: false,
            ignores: Vec::new(),
        })
    );
}

#[test]
fn scan_ignores_with_the_same_id_and_another_scope_are_kept_apart() {
    let text = minimal_with_nginx_and(
        "[scan]
trivy_version = \"0.76.0\"

[[scan.ignore]]
id = \"CVE-2019-18276\"
reason = \"bash is not reachable from the app\"
expires = 2026-12-31
image = \"app\"

[[scan.ignore]]
id = \"CVE-2019-18276\"
reason = \"nginx runs no shell scripts at all\"
expires = 2020-01-01
image = \"nginx\"
",
    );
    let folder = write_fixture_project(&text, &[], &[]);
    let root = canonical_root(&folder);
    let config = dockyard_config::parse(&text, &root.join("deploy.toml")).expect("valid");
    let scan = config.scan.expect("the file has [scan]");
    let entries: Vec<(&str, Option<ImageKind>, jiff::civil::Date)> = scan
        .ignores
        .iter()
        .map(|ignore| (ignore.id.as_str(), ignore.image, ignore.expires))
        .collect();
    // Long expired, and still accepted: expiry is for the scan gate to report.
    assert_eq!(
        entries,
        [
            ("CVE-2019-18276", Some(ImageKind::App), date(2026, 12, 31)),
            ("CVE-2019-18276", Some(ImageKind::Nginx), date(2020, 1, 1)),
        ]
    );
}

/// The resolved `[release]` of `text`, a fixture project's deploy.toml.
fn resolve_release(text: &str) -> Option<dockyard_config::Release> {
    let folder = write_fixture_project(text, &[], &[]);
    let root = canonical_root(&folder);
    let config = dockyard_config::parse(text, &root.join("deploy.toml")).expect("valid");
    config.release
}

#[test]
fn release_defaults_apply_when_only_the_header_is_written() {
    assert_eq!(
        resolve_release(&minimal_with_nginx_and("[release]\n")),
        Some(dockyard_config::Release {
            registry: None,
            app_repository: "shop".to_owned(),
            nginx_repository: Some("shop-nginx".to_owned()),
            tags: vec!["{version}".to_owned(), "sha-{git_sha}".to_owned()],
            moving_tags: vec!["latest".to_owned()],
            push_attempts: 4,
            push_backoff_ms: 500,
            username_env: "DOCKYARD_REGISTRY_USERNAME".to_owned(),
            password_env: "DOCKYARD_REGISTRY_PASSWORD".to_owned(),
            signing_key_env: None,
        })
    );
}

#[test]
fn release_has_no_nginx_repository_without_nginx_table() {
    let release = resolve_release(&format!("{MINIMAL}\n[release]\n")).expect("has [release]");
    assert_eq!(release.app_repository, "shop");
    assert_eq!(release.nginx_repository, None);
}

#[test]
fn release_moving_tags_may_be_empty_and_limits_are_inclusive() {
    let release = resolve_release(&format!(
        "{MINIMAL}\n[release]\nmoving_tags = []\npush_attempts = 10\npush_backoff_ms = 0\n"
    ))
    .expect("has [release]");
    assert!(release.moving_tags.is_empty());
    assert_eq!(release.push_attempts, 10);
    assert_eq!(release.push_backoff_ms, 0);
    let release = resolve_release(&format!(
        "{MINIMAL}\n[release]\npush_attempts = 1\npush_backoff_ms = 60000\n"
    ))
    .expect("has [release]");
    assert_eq!(release.push_attempts, 1);
    assert_eq!(release.push_backoff_ms, 60000);
}

#[test]
fn release_registries_take_a_host_with_port_and_namespace() {
    for registry in [
        "localhost:5000",
        "localhost",
        "127.0.0.1:5000/team",
        "[::1]:5000",
        "ghcr.io/dockyard-dev",
        "docker.io/example",
        "registry.example.com:443/a/b__c/d-e",
    ] {
        let text = format!("{MINIMAL}\n[release]\nregistry = \"{registry}\"\n");
        let release = resolve_release(&text).expect("has [release]");
        assert_eq!(release.registry.as_deref(), Some(registry));
    }
}

#[test]
fn release_render_tag_fills_in_the_placeholders() {
    use dockyard_config::Release;
    let render = |template: &str| Release::render_tag(template, "1.2.3", "0123456789ab", "shop");
    assert_eq!(render("{version}"), "1.2.3");
    assert_eq!(render("sha-{git_sha}"), "sha-0123456789ab");
    assert_eq!(render("{project}-{version}"), "shop-1.2.3");
    assert_eq!(render("{version}_{version}"), "1.2.3_1.2.3");
    assert_eq!(render("latest"), "latest");
    // Pure substitution: what is not a placeholder stays, and values are not templates.
    assert_eq!(render("{verison}"), "{verison}");
    assert_eq!(
        Release::render_tag("{version}-{git_sha}", "{git_sha}", "abc", "shop"),
        "{git_sha}-abc"
    );
}

#[test]
fn release_tags_of_the_full_fixture_render() {
    let release = resolve_release(VALID).expect("the fixture has [release]");
    let rendered: Vec<String> = release
        .tags
        .iter()
        .chain(&release.moving_tags)
        .map(|template| {
            dockyard_config::Release::render_tag(template, "1.2.0", "89abcdef0123", "shop")
        })
        .collect();
    assert_eq!(
        rendered,
        [
            "1.2.0",
            "sha-89abcdef0123",
            "shop-1.2.0",
            "latest",
            "stable"
        ]
    );
}

#[test]
fn no_dockerignore_when_none_is_named_or_present() {
    let folder = write_fixture_project(MINIMAL, &[], &[]);
    let root = canonical_root(&folder);
    let config = dockyard_config::parse(MINIMAL, &root.join("deploy.toml")).expect("valid");
    assert_eq!(config.context.dockerignore, None);
    assert!(config.context.exclude.is_empty());
}

#[test]
#[allow(
    clippy::disallowed_methods,
    reason = "the test changes the working directory to show that nothing depends on it"
)]
fn paths_resolve_against_the_deploy_file_not_the_working_directory() {
    let project = write_fixture_project(MINIMAL, &[], &[]);
    let root = canonical_root(&project);
    let elsewhere = tempfile::tempdir().expect("create a temporary folder");
    let previous = std::env::current_dir().expect("a working directory");

    // Every other test passes absolute paths, so changing the working directory here is safe.
    std::env::set_current_dir(elsewhere.path()).expect("change the working directory");
    let from_elsewhere = dockyard_config::parse(MINIMAL, &root.join("deploy.toml"));
    let loaded_from_elsewhere = dockyard_config::load(&root.join("deploy.toml"));

    // load() with a relative path: errors name the file as given, paths still resolve.
    std::env::set_current_dir(&root).expect("change the working directory");
    let loaded_relative = dockyard_config::load(Path::new("deploy.toml"));
    std::fs::write(
        root.join("broken.toml"),
        MINIMAL.replace("port = 8000", "port = 80"),
    )
    .expect("write a broken deploy file");
    let broken_relative = dockyard_config::load(Path::new("broken.toml"));
    let missing_relative = dockyard_config::load(Path::new("missing.toml"));
    std::env::set_current_dir(previous).expect("restore the working directory");

    let config = from_elsewhere.expect("resolves from another working directory");
    assert_eq!(config.root, root);
    assert_eq!(config.file, root.join("deploy.toml"));
    assert_eq!(config.app.path, root.join("app"));
    assert_eq!(
        config.builder.dockerfile,
        Template::File(root.join("docker/builder.Dockerfile"))
    );
    assert_eq!(
        config.builder.context,
        TemplateFolder::Folder(root.join("docker/builder"))
    );
    assert_eq!(
        config.production.dockerfile,
        Template::File(root.join("docker/production.Dockerfile"))
    );
    assert_eq!(loaded_from_elsewhere.expect("load resolves too"), config);

    let loaded = loaded_relative.expect("load with a relative path resolves");
    assert_eq!(loaded.root, root);
    assert_eq!(loaded.file, root.join("deploy.toml"));
    assert_eq!(loaded.app.path, root.join("app"));

    let broken = broken_relative.expect_err("port 80 is refused");
    assert!(
        broken.to_string().starts_with("broken.toml:8:8: "),
        "errors name the file as given: {broken}"
    );
    let missing = missing_relative.expect_err("no such file");
    assert_eq!(
        missing.to_string(),
        "missing.toml: deploy file not found\nhint: run from the project folder or pass --config"
    );
}

#[test]
fn base_looks_up_by_name() {
    let folder = write_fixture_project(VALID, &[], &[]);
    let root = canonical_root(&folder);
    let config = dockyard_config::parse(VALID, &root.join("deploy.toml")).expect("valid");
    let builder_base = config.base(&config.builder.base);
    assert_eq!(builder_base.name, "builder");
    assert_eq!(
        builder_base.image.to_string(),
        "ghcr.io/example/python-builder:bookworm"
    );
    assert_eq!(config.base(&config.production.base).name, "runtime");
}

/// `[project] name` and the `[app]` essentials, nothing else.
const PROJECT_AND_APP_ALONE: &str = r#"[project]
name = "shop"

[app]
path = "app"
settings_module = "shop.settings"
wsgi = "shop.wsgi:application"
port = 8000
requirements = ["requirements.txt"]
"#;

#[test]
fn project_and_app_alone_take_the_built_in_templates_and_bases() {
    // No docker/ folder at all: every template is built in.
    let folder = write_fixture_project(PROJECT_AND_APP_ALONE, &[], &[]);
    std::fs::remove_dir_all(folder.path().join("docker")).expect("remove docker/");
    let root = canonical_root(&folder);
    let config =
        dockyard_config::parse(PROJECT_AND_APP_ALONE, &root.join("deploy.toml")).expect("valid");
    assert_eq!(config.python, PythonVersion::Python3_11);
    assert_eq!(config.builder.dockerfile, templates::BUILDER_DOCKERFILE);
    assert_eq!(config.builder.context, templates::BUILDER_CONTEXT);
    assert_eq!(
        config.production.dockerfile,
        templates::PRODUCTION_DOCKERFILE
    );
    // Without [nginx], the built-in nginx base is not kept.
    let bases: Vec<(&str, String)> = config
        .bases
        .values()
        .map(|base| (base.name.as_str(), base.image.to_string()))
        .collect();
    assert_eq!(
        bases,
        [
            ("builder", "dockyard/python-builder:bookworm".to_owned()),
            ("runtime", "dockyard/python-runtime:bookworm".to_owned()),
        ]
    );
}

#[test]
fn the_python_version_chooses_the_suite_of_the_built_in_bases() {
    let cases = [
        ("", "bookworm"),
        ("[python]\n", "bookworm"),
        ("[python]\nversion = \"3.11\"\n", "bookworm"),
        ("[python]\nversion = \"3.13\"\n", "trixie"),
    ];
    for (table, suite) in cases {
        let text = format!("{PROJECT_AND_APP_ALONE}\n[nginx]\n{table}");
        let folder = write_fixture_project(&text, &[], &[]);
        let root = canonical_root(&folder);
        let config = dockyard_config::parse(&text, &root.join("deploy.toml")).expect("valid");
        for base in config.bases.values() {
            assert_eq!(base.image.tag.as_deref(), Some(suite), "{table:?}");
            let recipe = base.bootstrap.as_ref().expect("built-in bases bootstrap");
            assert_eq!(recipe.suite, suite, "{table:?}");
        }
        assert_eq!(config.bases.len(), 3, "{table:?}");
    }
}

#[test]
fn a_written_base_replaces_the_built_in_one_of_that_name() {
    let text = format!(
        "{PROJECT_AND_APP_ALONE}\n[base.runtime]\nimage = \"python:3.12-slim\"\n\n[python]\nversion = \"3.13\"\n"
    );
    let folder = write_fixture_project(&text, &[], &[]);
    let root = canonical_root(&folder);
    let config = dockyard_config::parse(&text, &root.join("deploy.toml")).expect("valid");
    assert_eq!(config.base("runtime").image.to_string(), "python:3.12-slim");
    assert_eq!(config.base("runtime").bootstrap, None);
    assert_eq!(
        config.base("builder").image.to_string(),
        "dockyard/python-builder:trixie"
    );
}

#[test]
fn a_matrix_python_gets_the_built_in_builder_of_its_suite_with_the_same_packages() {
    let text = format!(
        "{PROJECT_AND_APP_ALONE}\n[production]\npackages = [\"libpq5\"]\n\n[builder]\npackages = [\"libpq-dev\"]\n\n[matrix]\npython = [\"3.13\", \"3.11\"]\n"
    );
    let folder = write_fixture_project(&text, &[], &[]);
    let root = canonical_root(&folder);
    let config = dockyard_config::parse(&text, &root.join("deploy.toml")).expect("valid");
    assert_eq!(config.python, PythonVersion::Python3_11);
    assert_eq!(
        config.matrix,
        [dockyard_config::MatrixPython {
            python: PythonVersion::Python3_13,
            builder_base: "builder-py313".to_owned(),
        }]
    );
    let shipped = config.base("builder");
    let twin = config.base("builder-py313");
    let recipe = twin.bootstrap.as_ref().expect("a built-in recipe");
    assert_eq!(recipe.suite, "trixie");
    assert_eq!(
        recipe.packages,
        shipped
            .bootstrap
            .as_ref()
            .expect("a built-in recipe")
            .packages
    );
    assert!(recipe
        .packages
        .ends_with(&["libpq5".to_owned(), "libpq-dev".to_owned()]));
    assert!(recipe
        .changes
        .contains(&"ENV PYTHON_VERSION=3.13.5".to_owned()));
    assert!(twin.image.tag.as_deref().unwrap().starts_with("trixie-"));
    assert_eq!(twin.image.repository, shipped.image.repository);
}

#[test]
fn a_written_twin_base_serves_the_matrix_beside_an_own_builder_base() {
    let text = format!(
        "{PROJECT_AND_APP_ALONE}\n[base.builder]\nimage = \"python:3.11-slim\"\n\n[base.builder-py313]\nimage = \"python:3.13-slim\"\n\n[matrix]\npython = [\"3.11\", \"3.13\"]\n"
    );
    let folder = write_fixture_project(&text, &[], &[]);
    let root = canonical_root(&folder);
    let config = dockyard_config::parse(&text, &root.join("deploy.toml")).expect("valid");
    assert_eq!(config.matrix.len(), 1);
    assert_eq!(
        config
            .base(&config.matrix[0].builder_base)
            .image
            .to_string(),
        "python:3.13-slim"
    );
    // Without the matrix, no built-in twin is planned.
    let plain = format!("{PROJECT_AND_APP_ALONE}\n[matrix]\npython = [\"3.11\"]\n");
    let folder = write_fixture_project(&plain, &[], &[]);
    let root = canonical_root(&folder);
    let config = dockyard_config::parse(&plain, &root.join("deploy.toml")).expect("valid");
    assert!(config.matrix.is_empty());
    assert!(!config.bases.contains_key("builder-py313"));
}

#[test]
fn a_bootstrap_recipe_names_a_foreign_architecture() {
    let text = format!(
        "{PROJECT_AND_APP_ALONE}\n[base.runtime]\nimage = \"dockyard/python-runtime:bookworm-arm64\"\n\n[base.runtime.bootstrap]\nsuite = \"bookworm\"\npackages = [\"python3\"]\narchitecture = \"arm64\"\n"
    );
    let folder = write_fixture_project(&text, &[], &[]);
    let root = canonical_root(&folder);
    let config = dockyard_config::parse(&text, &root.join("deploy.toml")).expect("valid");
    let recipe = config.base("runtime").bootstrap.as_ref().expect("a recipe");
    assert_eq!(recipe.architecture.as_deref(), Some("arm64"));
    assert_eq!(
        config
            .base("builder")
            .bootstrap
            .as_ref()
            .unwrap()
            .architecture,
        None
    );
}

#[test]
fn a_platform_gets_the_built_in_runtime_and_nginx_bases_of_its_architecture() {
    if dockyard_config::native_architecture() != "amd64" {
        return;
    }
    let text = format!(
        "{PROJECT_AND_APP_ALONE}\n[production]\npackages = [\"libpq5\"]\n\n[nginx]\n\n[platforms]\ntargets = [\"linux/arm64\", \"linux/amd64\"]\n"
    );
    let folder = write_fixture_project(&text, &[], &[]);
    let root = canonical_root(&folder);
    let config = dockyard_config::parse(&text, &root.join("deploy.toml")).expect("valid");
    assert_eq!(
        config.platforms,
        [dockyard_config::PlatformImages {
            platform: "linux/arm64".to_owned(),
            architecture: "arm64".to_owned(),
            runtime_base: "runtime-arm64".to_owned(),
            nginx_base: Some("nginx-arm64".to_owned()),
            engine: None,
            service_bases: std::collections::BTreeMap::new(),
            builder_base: Some("builder-arm64".to_owned()),
        }]
    );
    // The arm64 builder base is made only when a package has no arm64 wheel, with the builder's added packages.
    let builder_twin = config.base("builder-arm64");
    assert_eq!(
        builder_twin
            .bootstrap
            .as_ref()
            .unwrap()
            .architecture
            .as_deref(),
        Some("arm64")
    );
    assert!(builder_twin
        .bootstrap
        .as_ref()
        .unwrap()
        .packages
        .contains(&"libpq5".to_owned()));
    assert!(builder_twin
        .bootstrap
        .as_ref()
        .unwrap()
        .packages
        .contains(&"gcc".to_owned()));
    assert!(config.is_made_on_demand("builder-arm64"));
    assert!(!config.is_made_on_demand("runtime-arm64"));
    let runtime = config.base("runtime");
    let twin = config.base("runtime-arm64");
    let recipe = twin.bootstrap.as_ref().expect("a built-in recipe");
    assert_eq!(recipe.architecture.as_deref(), Some("arm64"));
    assert_eq!(
        recipe.packages,
        runtime.bootstrap.as_ref().unwrap().packages
    );
    assert_eq!(
        twin.image.tag.as_deref(),
        Some(format!("{}-arm64", runtime.image.tag.as_deref().unwrap()).as_str())
    );
    assert_eq!(
        config.base("nginx-arm64").image.to_string(),
        "dockyard/nginx:bookworm-arm64"
    );
}

#[test]
fn a_platform_with_its_own_engine_gets_its_services_for_its_architecture_there() {
    if dockyard_config::native_architecture() != "amd64" {
        return;
    }
    let text = format!(
        "{PROJECT_AND_APP_ALONE}\n[nginx]\n\n[services.db]\nkind = \"postgres\"\nversion = \"15\"\nenv = {{ DATABASE_URL = \"url\" }}\n\n[platforms]\ntargets = [\"linux/amd64\", \"linux/arm64\"]\nengines = {{ \"linux/arm64\" = \" tcp://arm-builder:2375 \" }}\n"
    );
    let folder = write_fixture_project(&text, &[], &[]);
    let root = canonical_root(&folder);
    let config = dockyard_config::parse(&text, &root.join("deploy.toml")).expect("valid");
    let [platform] = config.platforms.as_slice() else {
        panic!("one other platform: {:?}", config.platforms);
    };
    assert_eq!(platform.engine.as_deref(), Some("tcp://arm-builder:2375"));
    assert_eq!(
        platform.service_bases,
        std::collections::BTreeMap::from([("db".to_owned(), "service-db-arm64".to_owned())])
    );
    assert_eq!(
        platform.bases().collect::<Vec<_>>(),
        ["runtime-arm64", "nginx-arm64", "service-db-arm64"]
    );
    let native = config.base("service-db");
    let twin = config.base("service-db-arm64");
    assert_eq!(
        twin.bootstrap.as_ref().unwrap().architecture.as_deref(),
        Some("arm64")
    );
    assert_eq!(
        twin.bootstrap.as_ref().unwrap().packages,
        native.bootstrap.as_ref().unwrap().packages
    );
    assert_eq!(
        twin.image.to_string(),
        format!("{native}-arm64", native = native.image)
    );
    for base in ["runtime-arm64", "service-db-arm64"] {
        assert_eq!(
            config
                .platform_with_engine_of_base(base)
                .map(|platform| platform.platform.as_str()),
            Some("linux/arm64")
        );
    }
    assert!(config.platform_with_engine_of_base("service-db").is_none());
    assert!(config.platform_with_engine_of_base("runtime").is_none());
}
