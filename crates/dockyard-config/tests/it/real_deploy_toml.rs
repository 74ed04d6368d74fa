//! The repository's own deploy.toml must always parse.

use std::path::Path;

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
}
