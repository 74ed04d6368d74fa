//! Registry credentials: from the environment (CI secrets) or the user's Docker config and its credential helpers.
//!
//! The engine client never reads `~/.docker/config.json`, so Dockyard resolves credentials itself, in the order the
//! docker program would for one registry: two environment variables (both or neither), then the Docker config's
//! `credHelpers` entry for the host, its `credsStore`, and its `auths` entry. Nothing found means anonymous access,
//! which is what a local registry wants. Secrets never appear in errors, and `Debug` of
//! [`RegistryCredentials`] redacts the password.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use dockyard_engine::RegistryCredentials;

/// The address Docker Hub credentials are stored and asked for under.
pub const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

/// Host names that all mean Docker Hub.
const DOCKER_HUB_HOSTS: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];

/// Why credentials could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// One of the two environment variables is set and the other is not.
    #[error(
        "{set} is set but {unset} is not: registry credentials from the environment need both"
    )]
    PartialEnvironment {
        /// The variable that is set.
        set: String,
        /// The variable that is missing or empty.
        unset: String,
    },
    /// An environment variable holds bytes that are not UTF-8.
    #[error("{variable} is not valid UTF-8")]
    NotUnicode {
        /// The variable.
        variable: String,
    },
    /// The Docker config exists but cannot be read.
    #[error("cannot read the docker config {}: {source}", path.display())]
    ReadConfig {
        /// `config.json`.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The Docker config is not the JSON the docker program writes.
    #[error("the docker config {} is not valid: {message}", path.display())]
    ParseConfig {
        /// `config.json`.
        path: PathBuf,
        /// Where it is broken (never its content, which may hold secrets).
        message: String,
    },
    /// An `auths` entry is not base64 of `user:password`.
    #[error("the docker config {}: `auths.\"{key}\".auth` is not base64 of user:password", path.display())]
    InvalidAuth {
        /// `config.json`.
        path: PathBuf,
        /// The `auths` key.
        key: String,
    },
    /// The configured credential helper is not on `PATH`.
    #[error("credential helper {program} (configured in {}) is not on PATH", config.display())]
    HelperNotFound {
        /// `docker-credential-NAME`.
        program: String,
        /// The config that names it.
        config: PathBuf,
    },
    /// The credential helper could not be run or failed.
    #[error("credential helper {program} failed for {server}: {message}")]
    HelperFailed {
        /// `docker-credential-NAME`.
        program: String,
        /// The server it was asked about.
        server: String,
        /// Its first line of output, or why it could not start.
        message: String,
    },
    /// The credential helper answered something that is not its JSON.
    #[error("credential helper {program} answered unreadable output for {server}: {message}")]
    HelperOutput {
        /// `docker-credential-NAME`.
        program: String,
        /// The server it was asked about.
        server: String,
        /// Where the JSON is broken (never the output itself, which may hold secrets).
        message: String,
    },
    /// The stored credentials are an identity token, which Dockyard does not pass to the engine.
    #[error("the credentials for {server} (from {source_name}) are an identity token, which dockyard does not support")]
    IdentityTokenUnsupported {
        /// The registry.
        server: String,
        /// The helper program or the config file they came from.
        source_name: String,
    },
}

impl CredentialsError {
    /// A line telling the user what to do.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            CredentialsError::PartialEnvironment { set, unset } => format!(
                "set both {set} and {unset} (for example from CI secrets), or neither to use the docker config"
            ),
            CredentialsError::NotUnicode { variable } => {
                format!("set {variable} to a UTF-8 value, or unset it")
            }
            CredentialsError::ReadConfig { path, .. } | CredentialsError::ParseConfig { path, .. } => format!(
                "fix {} (or point DOCKER_CONFIG at a folder with a valid config.json); credentials can also come from the environment",
                path.display()
            ),
            CredentialsError::InvalidAuth { key, .. } => {
                format!("log in to {key} again with `docker login`, or pass credentials through the environment")
            }
            CredentialsError::HelperNotFound { program, config } => format!(
                "install {program}, or remove it from `credHelpers`/`credsStore` in {}",
                config.display()
            ),
            CredentialsError::HelperFailed { program, server, .. }
            | CredentialsError::HelperOutput { program, server, .. } => format!(
                "check that {program} works (`docker login {server}` refreshes what it stores), or pass credentials through the environment"
            ),
            CredentialsError::IdentityTokenUnsupported { .. } => {
                "pass a user name and an access token through the environment instead".to_owned()
            }
        })
    }
}

/// Resolves the credentials for `registry_host` (`ghcr.io`, `127.0.0.1:5000`, `docker.io`, ...).
///
/// Order: the environment variables named `username_env` and `password_env` (both set and non-empty; one without
/// the other is an error naming both), then `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`:
/// `credHelpers[host]`, `credsStore` (each run as `docker-credential-NAME get`), `auths[host].auth`.
/// `Ok(None)` means anonymous. Docker Hub's names (`docker.io`, `index.docker.io`, `https://index.docker.io/v1/`)
/// all find the same entry.
pub fn resolve_credentials(
    registry_host: &str,
    username_env: &str,
    password_env: &str,
) -> Result<Option<RegistryCredentials>, CredentialsError> {
    resolve_credentials_with(registry_host, username_env, password_env, &|name| {
        std::env::var_os(name)
    })
}

/// [`resolve_credentials`] with the environment as a function (`env(name)` is the variable's value), so that
/// callers and tests need not change the process's; `PATH`, `DOCKER_CONFIG` and `HOME` are read through it too.
pub fn resolve_credentials_with(
    registry_host: &str,
    username_env: &str,
    password_env: &str,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Option<RegistryCredentials>, CredentialsError> {
    let host = normalize_host(registry_host);
    let server = if host == DOCKER_HUB_HOSTS[0] {
        DOCKER_HUB_SERVER.to_owned()
    } else {
        host.clone()
    };
    let username = non_empty_var(env, username_env)?;
    let password = non_empty_var(env, password_env)?;
    match (username, password) {
        (Some(username), Some(password)) => {
            return Ok(Some(RegistryCredentials {
                username,
                password,
                server_address: server,
            }))
        }
        (Some(_), None) => {
            return Err(CredentialsError::PartialEnvironment {
                set: username_env.to_owned(),
                unset: password_env.to_owned(),
            })
        }
        (None, Some(_)) => {
            return Err(CredentialsError::PartialEnvironment {
                set: password_env.to_owned(),
                unset: username_env.to_owned(),
            })
        }
        (None, None) => {}
    }

    let Some(config_dir) = docker_config_dir(env)? else {
        return Ok(None);
    };
    let path = config_dir.join("config.json");
    let Some(config) = read_config(&path)? else {
        return Ok(None);
    };
    let helper = config
        .cred_helpers
        .iter()
        .find(|(key, _)| normalize_host(key) == host)
        .map(|(_, helper)| helper.as_str())
        .or(config.creds_store.as_deref())
        .filter(|helper| !helper.is_empty());
    if let Some(helper) = helper {
        return run_helper(helper, &server, &path, env);
    }
    let Some((key, entry)) = config
        .auths
        .iter()
        .find(|(key, _)| normalize_host(key) == host)
    else {
        return Ok(None);
    };
    if let Some(auth) = entry.auth.as_deref().filter(|auth| !auth.is_empty()) {
        let invalid = || CredentialsError::InvalidAuth {
            path: path.clone(),
            key: key.clone(),
        };
        let decoded = decode_base64(auth).ok_or_else(invalid)?;
        let decoded = String::from_utf8(decoded).map_err(|_| invalid())?;
        let (username, password) = decoded.split_once(':').ok_or_else(invalid)?;
        return Ok(Some(RegistryCredentials {
            username: username.to_owned(),
            password: password.to_owned(),
            server_address: server,
        }));
    }
    if entry
        .identitytoken
        .as_deref()
        .is_some_and(|token| !token.is_empty())
    {
        return Err(CredentialsError::IdentityTokenUnsupported {
            server,
            source_name: path.display().to_string(),
        });
    }
    match (&entry.username, &entry.password) {
        (Some(username), Some(password)) if !username.is_empty() && !password.is_empty() => {
            Ok(Some(RegistryCredentials {
                username: username.clone(),
                password: password.clone(),
                server_address: server,
            }))
        }
        _ => Ok(None),
    }
}

/// The parts of the Docker config that hold credentials.
#[derive(Debug, Default, serde::Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
}

/// One `auths` entry.
#[derive(Default, serde::Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl std::fmt::Debug for AuthEntry {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AuthEntry")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What `docker-credential-NAME get` prints.
#[derive(serde::Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// The value of `name`, `None` when unset or empty.
fn non_empty_var(
    env: &dyn Fn(&str) -> Option<OsString>,
    name: &str,
) -> Result<Option<String>, CredentialsError> {
    match env(name) {
        None => Ok(None),
        Some(value) => value
            .into_string()
            .map(|value| (!value.is_empty()).then_some(value))
            .map_err(|_| CredentialsError::NotUnicode {
                variable: name.to_owned(),
            }),
    }
}

/// `$DOCKER_CONFIG`, else `$HOME/.docker`; `None` when neither is set.
fn docker_config_dir(
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Option<PathBuf>, CredentialsError> {
    if let Some(dir) = env("DOCKER_CONFIG").filter(|dir| !dir.is_empty()) {
        return Ok(Some(PathBuf::from(dir)));
    }
    Ok(env("HOME")
        .filter(|home| !home.is_empty())
        .map(|home| PathBuf::from(home).join(".docker")))
}

/// Reads and parses `config.json`; `None` when there is none.
fn read_config(path: &Path) -> Result<Option<DockerConfig>, CredentialsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CredentialsError::ReadConfig {
                path: path.to_owned(),
                source,
            })
        }
    };
    if text.trim().is_empty() {
        return Ok(Some(DockerConfig::default()));
    }
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|error| CredentialsError::ParseConfig {
            path: path.to_owned(),
            message: json_error_position(&error),
        })
}

/// Where a JSON error is, without the text around it (which may hold secrets).
fn json_error_position(error: &serde_json::Error) -> String {
    let what = match error.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "unexpected value",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    format!("{what} at line {}, column {}", error.line(), error.column())
}

/// Asks `docker-credential-NAME get` for `server`'s credentials.
fn run_helper(
    helper: &str,
    server: &str,
    config: &Path,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Option<RegistryCredentials>, CredentialsError> {
    let program = format!("docker-credential-{helper}");
    let executable = (!helper.contains(['/', '\\']))
        .then(|| which::which_in_global(&program, env("PATH")).ok()?.next())
        .flatten()
        .ok_or_else(|| CredentialsError::HelperNotFound {
            program: program.clone(),
            config: config.to_owned(),
        })?;
    let failed = |message: String| CredentialsError::HelperFailed {
        program: program.clone(),
        server: server.to_owned(),
        message,
    };
    let output = duct::cmd(&executable, ["get"])
        .stdin_bytes(server.as_bytes().to_vec())
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|error| failed(format!("could not run {}: {error}", executable.display())))?;
    if !output.status.success() {
        let text = [&output.stdout, &output.stderr]
            .into_iter()
            .map(|bytes| String::from_utf8_lossy(bytes).trim().to_owned())
            .find(|text| !text.is_empty())
            .unwrap_or_else(|| format!("exited with {}", output.status));
        // What every helper of docker/docker-credential-helpers says when it holds nothing for the server.
        if text.contains("credentials not found") {
            return Ok(None);
        }
        let first_line: String = text
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        return Err(failed(first_line));
    }
    let answer: HelperAnswer =
        serde_json::from_slice(&output.stdout).map_err(|error| CredentialsError::HelperOutput {
            program: program.clone(),
            server: server.to_owned(),
            message: json_error_position(&error),
        })?;
    if answer.username == "<token>" {
        return Err(CredentialsError::IdentityTokenUnsupported {
            server: server.to_owned(),
            source_name: program,
        });
    }
    if answer.username.is_empty() && answer.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(RegistryCredentials {
        username: answer.username,
        password: answer.secret,
        server_address: server.to_owned(),
    }))
}

/// `https://ghcr.io/v2/` → `ghcr.io`, lowercased; every Docker Hub name → `docker.io`.
fn normalize_host(address: &str) -> String {
    let address = address.trim();
    let without_scheme = address
        .strip_prefix("https://")
        .or_else(|| address.strip_prefix("http://"))
        .unwrap_or(address);
    let host = without_scheme
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if DOCKER_HUB_HOSTS.contains(&host.as_str()) {
        DOCKER_HUB_HOSTS[0].to_owned()
    } else {
        host
    }
}

/// Decodes standard or URL-safe base64, with or without padding; `None` for anything else.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::{alphabet, Engine};
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let text = text.trim();
    [&alphabet::STANDARD, &alphabet::URL_SAFE]
        .into_iter()
        .find_map(|alphabet| GeneralPurpose::new(alphabet, config).decode(text).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `user:password` in base64, as `docker login` writes it.
    const AUTH_CI_HUNTER2: &str = "Y2k6aHVudGVyMg=="; // ci:hunter2

    #[test]
    fn base64_decodes_with_and_without_padding() {
        let cases: &[(&str, &[u8])] = &[
            ("", b""),
            ("Zg==", b"f"),
            ("Zm8=", b"fo"),
            ("Zm9v", b"foo"),
            ("Zm9vYg", b"foob"),
            ("Zm9vYmE=", b"fooba"),
            ("Zm9vYmFy", b"foobar"),
            (AUTH_CI_HUNTER2, b"ci:hunter2"),
            ("+/8=", &[0xfb, 0xff]),
            ("-_8", &[0xfb, 0xff]),
        ];
        for (text, bytes) in cases {
            assert_eq!(decode_base64(text).as_deref(), Some(*bytes), "{text}");
        }
        for text in ["Zm9v!", "Z", "Zm9vY", "Zm 9v"] {
            assert_eq!(decode_base64(text), None, "{text}");
        }
    }

    #[test]
    fn hosts_are_normalized_and_docker_hub_names_are_one() {
        for name in [
            "docker.io",
            "index.docker.io",
            "https://index.docker.io/v1/",
            "registry-1.docker.io",
        ] {
            assert_eq!(normalize_host(name), "docker.io", "{name}");
        }
        assert_eq!(normalize_host("https://GHCR.io/v2/"), "ghcr.io");
        assert_eq!(normalize_host("127.0.0.1:5000"), "127.0.0.1:5000");
    }
}
