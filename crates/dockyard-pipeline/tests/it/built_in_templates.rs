//! A project with deploy.toml alone: the built-in templates and bases plan exactly as the repository's `docker/` files and spelled-out bases do.

use dockyard_pipeline::plan;
use dockyard_pipeline::state::State;

use crate::fixture::{check, Project};

/// The repository's deploy.toml less its comments, every template key and every `[base.*]` table.
fn without_templates_and_bases(text: &str) -> String {
    let mut kept = Vec::new();
    let mut in_base_table = false;
    for line in text.lines() {
        if line.starts_with('[') {
            in_base_table = line.starts_with("[base.");
        }
        let names_a_template = ["dockerfile = ", "context = ", "config = ", "base = "]
            .iter()
            .any(|key| line.starts_with(key));
        if !in_base_table && !names_a_template && !line.starts_with('#') {
            kept.push(line);
        }
    }
    kept.join("\n")
}

#[test]
fn built_in_templates_and_bases_plan_like_the_repository_files() {
    let spelled_out = Project::copy_of_repository();
    let expected = spelled_out.prepare();

    let built_in = Project::copy_of_repository();
    let text = std::fs::read_to_string(built_in.path("deploy.toml")).expect("read deploy.toml");
    let text = without_templates_and_bases(&text);
    assert!(!text.contains("dockerfile") && !text.contains("[base."));
    std::fs::write(built_in.path("deploy.toml"), text).expect("write deploy.toml");
    std::fs::remove_dir_all(built_in.path("docker")).expect("remove docker/");
    let prepared = built_in.prepare();

    assert_eq!(prepared.config.bases, expected.config.bases);
    assert_eq!(prepared.builder_context, expected.builder_context);
    assert_eq!(
        prepared.builder_context_sha256,
        expected.builder_context_sha256
    );
    assert_eq!(prepared.kit_sha256, expected.kit_sha256);
    let (Some(nginx), Some(expected_nginx)) = (&prepared.nginx, &expected.nginx) else {
        panic!("both deploy.toml files have an [nginx] table");
    };
    assert_eq!(nginx.dockerfile, expected_nginx.dockerfile);
    assert_eq!(nginx.config, expected_nginx.config);
}

#[test]
fn a_minimal_deploy_toml_loads_and_plans() {
    let project = Project::copy_of_repository();
    std::fs::write(
        project.path("deploy.toml"),
        "[project]\nname = \"minimal\"\n\n[app]\npath = \"app\"\nsettings_module = \
         \"sample.settings\"\nwsgi = \"sample.wsgi:application\"\nport = 8000\nrequirements = \
         [\"requirements.txt\"]\n",
    )
    .expect("write deploy.toml");
    std::fs::remove_dir_all(project.path("docker")).expect("remove docker/");
    let prepared = project.prepare();
    let config = &prepared.config;
    assert_eq!(config.python, dockyard_config::PythonVersion::Python3_11);
    assert_eq!(
        config.builder.dockerfile,
        dockyard_config::templates::BUILDER_DOCKERFILE
    );
    assert_eq!(
        config.builder.context,
        dockyard_config::templates::BUILDER_CONTEXT
    );
    assert_eq!(
        config.production.dockerfile,
        dockyard_config::templates::PRODUCTION_DOCKERFILE
    );
    assert_eq!(
        config.base(&config.production.base).image.to_string(),
        "dockyard/python-runtime:bookworm"
    );
    let plan = plan::plan(&prepared, &State::default());
    check!(project, plan);
}
