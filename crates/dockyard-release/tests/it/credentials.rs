//! Registry credentials: the environment first, then the Docker config's `credHelpers`, `credsStore` and `auths`,
//! with a fake environment and fake `docker-credential-*` helpers; secrets never appear in errors.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Mutex;

use dockyard_engine::RegistryCredentials;
use dockyard_release::credentials::{
    resolve_credentials, resolve_credentials_with, CredentialsError, DOCKER_HUB_SERVER,
};

/// The process environment is global: tests that change it take this lock.
static ENV_LOCK: Mutex<()> = Mutex::new(());

const USER_ENV: &str = "DOCKYARD_TEST_REGISTRY_USER";
const PASSWORD_ENV: &str = "DOCKYARD_TEST_REGISTRY_PASSWORD";

/// A fake environment and a temp folder holding `docker/config.json` and `bin/` (the only PATH entry).
struct Fixture {
    dir: tempfile::TempDir,
    vars: HashMap<String, OsString>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("docker")).expect("docker dir");
        std::fs::create_dir_all(dir.path().join("bin")).expect("bin dir");
        let mut vars = HashMap::new();
        vars.insert(
            "DOCKER_CONFIG".to_owned(),
            dir.path().join("docker").into_os_string(),
        );
        vars.insert("PATH".to_owned(), dir.path().join("bin").into_os_string());
        Fixture { dir, vars }
    }

    fn set(mut self, name: &str, value: &str) -> Fixture {
        self.vars.insert(name.to_owned(), value.into());
        self
    }

    fn config(self, json: &str) -> Fixture {
        std::fs::write(self.config_path(), json).expect("write config.json");
        self
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("docker").join("config.json")
    }

    /// A `docker-credential-NAME` that answers `body` for `server` and "not found" for anything else.
    #[cfg(unix)]
    fn helper(self, name: &str, server: &str, body: &str) -> Fixture {
        use std::os::unix::fs::PermissionsExt;
        let path = self
            .dir
            .path()
            .join("bin")
            .join(format!("docker-credential-{name}"));
        let script = format!(
            "#!/bin/sh\n[ \"$1\" = get ] || {{ echo \"unexpected arguments: $*\" >&2; exit 2; }}\nread -r server\nif [ \"$server\" = '{server}' ]; then\n  printf '%s\\n' '{body}'\nelse\n  echo 'credentials not found in native keychain'\n  exit 1\nfi\n"
        );
        std::fs::write(&path, script).expect("write helper");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod helper");
        self
    }

    fn resolve(&self, host: &str) -> Result<Option<RegistryCredentials>, CredentialsError> {
        resolve_credentials_with(host, USER_ENV, PASSWORD_ENV, &|name| {
            self.vars.get(name).cloned()
        })
    }
}

fn credentials(username: &str, password: &str, server: &str) -> Option<RegistryCredentials> {
    Some(RegistryCredentials {
        username: username.to_owned(),
        password: password.to_owned(),
        server_address: server.to_owned(),
    })
}

/// `user:password` in base64, as `docker login` writes it.
const AUTH_CI_HUNTER2: &str = "Y2k6aHVudGVyMg=="; // ci:hunter2

#[test]
fn the_environment_comes_first() {
    let fixture = Fixture::new()
        .set(USER_ENV, "ci")
        .set(PASSWORD_ENV, "from-env")
        .config(&format!(
            r#"{{"auths": {{"ghcr.io": {{"auth": "{AUTH_CI_HUNTER2}"}}}}}}"#
        ));
    assert_eq!(
        fixture.resolve("ghcr.io").unwrap(),
        credentials("ci", "from-env", "ghcr.io")
    );
    assert_eq!(
        fixture.resolve("docker.io").unwrap(),
        credentials("ci", "from-env", DOCKER_HUB_SERVER)
    );
}

#[test]
fn one_variable_without_the_other_is_an_error_naming_both() {
    for (set, unset) in [(USER_ENV, PASSWORD_ENV), (PASSWORD_ENV, USER_ENV)] {
        let fixture = Fixture::new().set(set, "value").set(unset, "");
        let error = fixture.resolve("ghcr.io").unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains(set) && message.contains(unset),
            "{message}"
        );
        assert!(!message.contains("value"), "{message}");
        assert!(error.hint().unwrap().contains(unset));
    }
}

#[test]
fn nothing_configured_is_anonymous() {
    let fixture = Fixture::new();
    assert_eq!(fixture.resolve("127.0.0.1:5000").unwrap(), None);
    let fixture = Fixture::new().config("{}");
    assert_eq!(fixture.resolve("127.0.0.1:5000").unwrap(), None);
    let fixture = Fixture::new().config(&format!(
        r#"{{"auths": {{"ghcr.io": {{"auth": "{AUTH_CI_HUNTER2}"}}}}}}"#
    ));
    assert_eq!(fixture.resolve("127.0.0.1:5000").unwrap(), None);
    let no_home = resolve_credentials_with("ghcr.io", USER_ENV, PASSWORD_ENV, &|_| None);
    assert_eq!(no_home.unwrap(), None);
}

#[test]
fn auths_entries_are_decoded_under_any_docker_hub_name() {
    let fixture = Fixture::new().config(&format!(
        r#"{{"auths": {{
            "https://index.docker.io/v1/": {{"auth": "{AUTH_CI_HUNTER2}"}},
            "https://ghcr.io": {{"auth": "Z2g6dG9rZW4="}},
            "empty.example": {{}}
        }}}}"#
    ));
    for host in ["docker.io", "index.docker.io", DOCKER_HUB_SERVER] {
        assert_eq!(
            fixture.resolve(host).unwrap(),
            credentials("ci", "hunter2", DOCKER_HUB_SERVER),
            "{host}"
        );
    }
    assert_eq!(
        fixture.resolve("ghcr.io").unwrap(),
        credentials("gh", "token", "ghcr.io")
    );
    assert_eq!(fixture.resolve("empty.example").unwrap(), None);
}

#[test]
fn a_broken_config_names_the_file_and_never_its_content() {
    let fixture = Fixture::new().config(r#"{"auths": {"ghcr.io": {"auth": "bm90IGEgcGFpcg=="}}}"#);
    let error = fixture.resolve("ghcr.io").unwrap_err();
    assert!(
        matches!(error, CredentialsError::InvalidAuth { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&fixture.config_path().display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("ghcr.io") && !message.contains("bm90"),
        "{message}"
    );

    let fixture = Fixture::new().config(r#"{"auths": {"ghcr.io": "supersecret"}}"#);
    let error = fixture.resolve("ghcr.io").unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, CredentialsError::ParseConfig { .. }),
        "{error:?}"
    );
    assert!(
        message.contains("config.json") && message.contains("line 1"),
        "{message}"
    );
    assert!(!message.contains("supersecret"), "{message}");
}

#[test]
fn identity_tokens_are_refused_with_a_hint() {
    let fixture = Fixture::new().config(
        r#"{"auths": {"myregistry.azurecr.io": {"identitytoken": "secret-refresh-token"}}}"#,
    );
    let error = fixture.resolve("myregistry.azurecr.io").unwrap_err();
    assert!(
        matches!(error, CredentialsError::IdentityTokenUnsupported { .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("secret-refresh-token"));
}

#[cfg(unix)]
#[test]
fn cred_helpers_win_over_creds_store_and_auths() {
    let fixture = Fixture::new()
        .helper("fake", "ghcr.io", r#"{"ServerURL":"ghcr.io","Username":"helper-user","Secret":"helper-secret"}"#)
        .helper("store", DOCKER_HUB_SERVER, r#"{"ServerURL":"https://index.docker.io/v1/","Username":"hub-user","Secret":"hub-secret"}"#)
        .config(&format!(
            r#"{{
                "auths": {{"ghcr.io": {{"auth": "{AUTH_CI_HUNTER2}"}}, "quay.io": {{"auth": "{AUTH_CI_HUNTER2}"}}}},
                "credHelpers": {{"ghcr.io": "fake"}},
                "credsStore": "store"
            }}"#
        ));
    assert_eq!(
        fixture.resolve("ghcr.io").unwrap(),
        credentials("helper-user", "helper-secret", "ghcr.io")
    );
    // The store is asked for Docker Hub under its canonical address, whatever name the caller used.
    assert_eq!(
        fixture.resolve("docker.io").unwrap(),
        credentials("hub-user", "hub-secret", DOCKER_HUB_SERVER)
    );
    // With a store configured, the store decides; "not found" there means anonymous, as with the docker program.
    assert_eq!(fixture.resolve("quay.io").unwrap(), None);
}

#[cfg(unix)]
#[test]
fn helper_failures_name_the_program() {
    let fixture = Fixture::new().config(r#"{"credHelpers": {"ghcr.io": "missing"}}"#);
    let error = fixture.resolve("ghcr.io").unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, CredentialsError::HelperNotFound { .. }),
        "{error:?}"
    );
    assert!(message.contains("docker-credential-missing"), "{message}");
    assert!(error.hint().unwrap().contains("credHelpers"));

    let fixture = Fixture::new()
        .helper("broken", "ghcr.io", "not json at all")
        .config(r#"{"credHelpers": {"ghcr.io": "broken"}}"#);
    let error = fixture.resolve("ghcr.io").unwrap_err();
    assert!(
        matches!(error, CredentialsError::HelperOutput { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("docker-credential-broken"));
    assert!(!error.to_string().contains("not json"));

    let fixture = Fixture::new()
        .helper(
            "token",
            "ghcr.io",
            r#"{"Username":"<token>","Secret":"refresh"}"#,
        )
        .config(r#"{"credHelpers": {"ghcr.io": "token"}}"#);
    let error = fixture.resolve("ghcr.io").unwrap_err();
    assert!(
        matches!(error, CredentialsError::IdentityTokenUnsupported { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("docker-credential-token"));
    assert!(!error.to_string().contains("refresh"));
}

#[cfg(unix)]
#[test]
fn a_failing_helper_reports_its_message() {
    use std::os::unix::fs::PermissionsExt;
    let fixture = Fixture::new().config(r#"{"credsStore": "locked"}"#);
    let path = fixture.dir.path().join("bin/docker-credential-locked");
    std::fs::write(
        &path,
        "#!/bin/sh\necho 'the keychain is locked' >&2\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let error = fixture.resolve("ghcr.io").unwrap_err();
    assert!(
        matches!(error, CredentialsError::HelperFailed { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "credential helper docker-credential-locked failed for ghcr.io: the keychain is locked"
    );
}

#[test]
fn the_public_function_reads_the_process_environment() {
    let _lock = ENV_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let fixture = Fixture::new().config(&format!(
        r#"{{"auths": {{"127.0.0.1:5055": {{"auth": "{AUTH_CI_HUNTER2}"}}}}}}"#
    ));
    let old_config = std::env::var_os("DOCKER_CONFIG");
    std::env::set_var("DOCKER_CONFIG", fixture.dir.path().join("docker"));
    std::env::remove_var(USER_ENV);
    std::env::remove_var(PASSWORD_ENV);
    let from_config = resolve_credentials("127.0.0.1:5055", USER_ENV, PASSWORD_ENV);
    std::env::set_var(USER_ENV, "env-user");
    std::env::set_var(PASSWORD_ENV, "env-password");
    let from_env = resolve_credentials("127.0.0.1:5055", USER_ENV, PASSWORD_ENV);
    std::env::remove_var(USER_ENV);
    std::env::remove_var(PASSWORD_ENV);
    match old_config {
        Some(value) => std::env::set_var("DOCKER_CONFIG", value),
        None => std::env::remove_var("DOCKER_CONFIG"),
    }
    assert_eq!(
        from_config.unwrap(),
        credentials("ci", "hunter2", "127.0.0.1:5055")
    );
    let from_env = from_env.unwrap();
    assert_eq!(
        from_env,
        credentials("env-user", "env-password", "127.0.0.1:5055")
    );
    let debug = format!("{from_env:?}");
    assert!(!debug.contains("env-password"), "{debug}");
}
