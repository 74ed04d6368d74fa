//! The builder container's protocol: the folders Dockyard uploads to and downloads from, the CA bundle's place,
//! the environment the builder script reads, the uv release it installs, and the markers it prints (before each step,
//! and for each package whose download does not match the lock's hashes).
//!
//! This is the one home of these facts: the builder image template creates the folders from
//! [`template_values`], and `docker/builder/dockyard-build` reads every path and the marker from the
//! environment [`environment`] sets, so the script holds none of them.

use std::collections::BTreeMap;

/// Where the app source is uploaded.
pub const SOURCE_DIR: &str = "/src";
/// Where the locked set's files are uploaded (see `crate::locked`).
pub const DEPS_DIR: &str = "/deps";
/// Where the rendered production Dockerfile is uploaded.
pub const KIT_DIR: &str = "/kit";
/// What the builder leaves for Dockyard to download: the production image's build context.
pub const OUT_DIR: &str = "/out";
/// The folder the CA bundle is uploaded into (builder container only).
pub const CA_DIR: &str = "/etc/dockyard";
/// The CA bundle's file name in [`CA_DIR`].
pub const CA_FILE: &str = "ca.pem";
/// Where the pip cache volume is mounted.
pub const PIP_CACHE_DIR: &str = "/cache/pip";
/// Where the dependencies volume is mounted: the venv the tests run in and the wheels, made once per
/// [`dependencies_key`] and reused by every export until the locked set or the builder changes.
pub const DEPENDENCIES_CACHE_DIR: &str = "/cache/dependencies";
/// The line prefix the builder script prints before each step (`==> dockyard step: tests`).
pub const STEP_MARKER: &str = "==> dockyard step: ";
/// The line prefix the builder script prints before each package whose download did not match the lock's hashes.
pub const HASH_MISMATCH_MARKER: &str = "==> dockyard hash mismatch: ";
/// The uv release the builder installs from PyPI at container start (through the pip cache volume and the CA
/// bundle), to export `uv.lock` and install with `--require-hashes`. Pinned, so a build never picks up a new uv.
pub const UV_VERSION: &str = "0.13.9";

/// The builder step announced only when the dependencies volume is made anew (not when it is reused).
pub const WHEELS_STEP: &str = "wheels";
/// The builder step that follows the wheels: once announced, the dependencies volume holds every wheel.
pub const INSTALL_STEP: &str = "install";

/// The CA bundle's path in the builder container.
pub fn ca_path() -> String {
    format!("{CA_DIR}/{CA_FILE}")
}

/// The builder step a log line announces, if it is a step marker.
pub fn announced_step(line: &str) -> Option<&str> {
    line.strip_prefix(STEP_MARKER)
}

/// The package a log line names as not matching the lock's hashes, if it is a hash mismatch marker.
pub fn hash_mismatch(line: &str) -> Option<&str> {
    line.strip_prefix(HASH_MISMATCH_MARKER)
}

/// Placeholders of the builder image template for the protocol's folders.
pub fn template_values() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("builder_source_dir", SOURCE_DIR.to_owned()),
        ("builder_kit_dir", KIT_DIR.to_owned()),
        ("builder_deps_dir", DEPS_DIR.to_owned()),
        ("builder_out_dir", OUT_DIR.to_owned()),
        ("builder_ca_dir", CA_DIR.to_owned()),
        ("builder_pip_cache_dir", PIP_CACHE_DIR.to_owned()),
    ])
}

/// The protocol part of the builder container's environment (`NAME=value`); the script fails without it.
pub fn environment() -> Vec<String> {
    vec![
        format!("DOCKYARD_SOURCE_DIR={SOURCE_DIR}"),
        format!("DOCKYARD_KIT_DIR={KIT_DIR}"),
        format!("DOCKYARD_DEPS_DIR={DEPS_DIR}"),
        format!("DOCKYARD_OUT_DIR={OUT_DIR}"),
        format!("DOCKYARD_STEP_MARKER={STEP_MARKER}"),
        format!("DOCKYARD_HASH_MISMATCH_MARKER={HASH_MISMATCH_MARKER}"),
        format!("DOCKYARD_UV_VERSION={UV_VERSION}"),
        format!("DOCKYARD_DEPS_CACHE_DIR={DEPENDENCIES_CACHE_DIR}"),
    ]
}

/// The variable that makes the builder script stop once the dependencies volume is made (`cargo xtask dev`).
pub fn dependencies_only_environment() -> String {
    "DOCKYARD_DEPENDENCIES_ONLY=1".to_owned()
}

/// The variable that makes the builder script stop once the tests passed: the tests on another Python of `[matrix]`,
/// which export nothing.
pub fn tests_only_environment() -> String {
    "DOCKYARD_TESTS_ONLY=1".to_owned()
}

/// What the dependencies volume's contents are made from: the builder image (its Python, its script), the locked set
/// (files and how they are read), the uv release, and the machines of the other platforms' wheels (named only when
/// there are some). The script reinstalls when the volume says another key.
pub fn dependencies_key(builder_image_id: &str, locked_sha256: &str, machines: &[&str]) -> String {
    let mut text = format!("builder {builder_image_id}\nlocked {locked_sha256}\nuv {UV_VERSION}\n");
    if !machines.is_empty() {
        text.push_str(&format!("platform wheels {}\n", machines.join(" ")));
    }
    crate::digest::sha256_hex(text.as_bytes())
}

/// The folder of `/out` (and of the dependencies volume) holding the wheels of another platform's `machine`
/// (`wheels-aarch64`), which the script names `wheels-$machine`.
pub fn platform_wheels_dir(machine: &str) -> String {
    format!("wheels-{machine}")
}

/// The folder of `/out` (and of the dependencies volume) holding the sdists of the packages the index has no wheel
/// of for another platform's `machine` (`sdists-aarch64`), which the script names `sdists-$machine`: that
/// platform's builder base builds them.
pub fn platform_sdists_dir(machine: &str) -> String {
    format!("sdists-{machine}")
}

/// The variable naming the machines (`aarch64`) whose wheels the script fetches beside this machine's, for the other
/// platforms of `[platforms]`; none without.
pub fn platform_wheels_environment(machines: &[&str]) -> Option<String> {
    (!machines.is_empty()).then(|| format!("DOCKYARD_PLATFORM_WHEELS={}", machines.join(" ")))
}

/// The environment that tells the script which dependencies the volume must hold (`DOCKYARD_DEPS_KEY`), and with
/// `force` to make them again whatever it holds.
pub fn dependencies_environment(key: &str, force: bool) -> Vec<String> {
    let mut env = vec![format!("DOCKYARD_DEPS_KEY={key}")];
    if force {
        env.push("DOCKYARD_DEPS_FORCE=1".to_owned());
    }
    env
}

/// The environment that points pip, requests and OpenSSL at the uploaded CA bundle.
pub fn ca_environment() -> Vec<String> {
    let ca = ca_path();
    vec![
        format!("PIP_CERT={ca}"),
        format!("SSL_CERT_FILE={ca}"),
        format!("REQUESTS_CA_BUNDLE={ca}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_script_reads_every_path_from_its_environment() {
        let script = include_str!("../../../docker/builder/dockyard-build");
        for literal in [
            SOURCE_DIR,
            KIT_DIR,
            DEPS_DIR,
            OUT_DIR,
            DEPENDENCIES_CACHE_DIR,
            STEP_MARKER.trim(),
            HASH_MISMATCH_MARKER.trim(),
            UV_VERSION,
        ] {
            let hardcoded = script
                .lines()
                .filter(|line| !line.trim_start().starts_with('#'))
                .any(|line| {
                    line.contains(&format!("{literal}/"))
                        || line.contains(&format!("'{literal}"))
                        || line.contains(&format!("\"{literal}"))
                });
            assert!(
                !hardcoded,
                "docker/builder/dockyard-build hard-codes {literal}"
            );
        }
        assert!(script.contains(&platform_wheels_dir("$machine")));
        assert!(script.contains(&platform_sdists_dir("$machine")));
        for line in environment()
            .into_iter()
            .chain(dependencies_environment("key", true))
            .chain(platform_wheels_environment(&["aarch64"]))
        {
            let name = line.split('=').next().unwrap_or_default();
            assert!(
                script.contains(name),
                "the builder script does not read {name}"
            );
        }
        assert_eq!(announced_step("==> dockyard step: tests"), Some("tests"));
        assert_eq!(
            hash_mismatch("==> dockyard hash mismatch: six==1.16.0"),
            Some("six==1.16.0")
        );
    }
}
