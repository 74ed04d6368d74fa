//! `[base.<name>]` and their `[base.<name>.bootstrap]` recipes.

use std::collections::BTreeMap;

use sha2::Digest as _;
use toml::Spanned;

use super::{fail, Origin};
use crate::choices::PythonVersion;
use crate::error::ConfigError;
use crate::image_reference::{parse_image_reference, ImageRef};
use crate::model::{BaseImage, Bootstrap};
use crate::names::{
    is_http_url, is_valid_base_name, is_valid_debian_package_name, is_valid_debian_suite,
};
use crate::raw;
use crate::source_map::render_key;
use crate::suggestions::{closest_candidate, render_backticked_list};

const DEFAULT_BOOTSTRAP_VARIANT: &str = "minbase";
const DEBOOTSTRAP_VARIANTS: [&str; 10] = [
    "extract",
    "custom",
    "essential",
    "apt",
    "required",
    "minbase",
    "buildd",
    "important",
    "debootstrap",
    "standard",
];

/// The base the production image starts from when `production.base` is not written.
pub(super) const DEFAULT_RUNTIME_BASE: &str = "runtime";
/// The base the builder image starts from when `builder.base` is not written.
pub(super) const DEFAULT_BUILDER_BASE: &str = "builder";
/// The base the nginx image starts from when `nginx.base` is not written.
pub(super) const DEFAULT_NGINX_BASE: &str = "nginx";
/// The base the `[assets]` container starts from (`runs_in = "node"`).
pub(super) const DEFAULT_NODE_BASE: &str = "node";
/// The suite of the Node base whatever `[python] version` says: trixie's nodejs is 20 (bookworm's is 18, which
/// current Tailwind, cross-env and rimraf refuse); Node never reaches an image that ships, so its suite need not
/// match the runtime's.
const NODE_SUITE: &str = "trixie";
/// Debian's Node.js, npm and Yarn 4 (`yarnpkg`; yarn v1 projects get yarn 1.22 through npx): the Node base, and the builder's additions with
/// `[assets] runs_in = "builder"`.
const NODE_PACKAGES: [&str; 3] = ["nodejs", "npm", "yarnpkg"];

/// The built-in bases: Debian's own Python and nginx, bootstrapped from Debian packages, in the
/// suite of `python`, and Node.js in trixie; one per default base name. `node_in_builder` adds Node to the builder
/// (`[assets] runs_in = "builder"`).
fn built_in_bases(python: PythonVersion, node_in_builder: bool) -> BTreeMap<String, BaseImage> {
    let python_suite = python.debian_suite();
    // The Python bases say which Python they bring as the official python images do (apps read it, such as a page
    // showing the version).
    let (major, minor, patch) = python.release();
    let python_version = env_change("PYTHON_VERSION", &format!("{major}.{minor}.{patch}"));
    let base = |name: &str, repository: &str, packages: &[&str]| {
        let suite = if name == DEFAULT_NODE_BASE {
            NODE_SUITE
        } else {
            python_suite
        };
        BaseImage {
            name: name.to_owned(),
            image: ImageRef {
                registry: None,
                repository: repository.to_owned(),
                tag: Some(suite.to_owned()),
                digest: None,
            },
            pull: true,
            bootstrap: Some(Bootstrap {
                suite: suite.to_owned(),
                variant: DEFAULT_BOOTSTRAP_VARIANT.to_owned(),
                packages: packages
                    .iter()
                    .map(|package| (*package).to_owned())
                    .collect(),
                mirror: None,
                files: Vec::new(),
                changes: if packages.contains(&"python3") {
                    vec![python_version.clone()]
                } else {
                    Vec::new()
                },
                architecture: None,
            }),
        }
    };
    let mut builder_packages = vec![
        "python3",
        "python3-venv",
        "python3-dev",
        "gcc",
        "libc6-dev",
        "ca-certificates",
    ];
    if node_in_builder {
        builder_packages.extend(NODE_PACKAGES);
    }
    let builder_repository = if node_in_builder {
        "dockyard/python-node-builder"
    } else {
        "dockyard/python-builder"
    };
    let mut node_packages = NODE_PACKAGES.to_vec();
    node_packages.push("ca-certificates");
    [
        base(
            DEFAULT_RUNTIME_BASE,
            "dockyard/python-runtime",
            &["python3", "python3-venv", "ca-certificates"],
        ),
        base(DEFAULT_BUILDER_BASE, builder_repository, &builder_packages),
        base(DEFAULT_NGINX_BASE, "dockyard/nginx", &["nginx-light"]),
        base(DEFAULT_NODE_BASE, "dockyard/node", &node_packages),
    ]
    .into_iter()
    .map(|base| (base.name.clone(), base))
    .collect()
}

/// Dockyard's built-in builder base for `python` (the Node one with `node_in_builder`), named `name`: the base a
/// `[matrix] python` entry's builder image starts from unless deploy.toml writes its own.
pub(super) fn built_in_builder(
    python: PythonVersion,
    node_in_builder: bool,
    name: &str,
) -> BaseImage {
    built_in_base(python, node_in_builder, DEFAULT_BUILDER_BASE, name)
}

/// Dockyard's built-in base `kind` (`runtime`, `builder`, `nginx`) for `python`, named `name`.
pub(super) fn built_in_base(
    python: PythonVersion,
    node_in_builder: bool,
    kind: &str,
    name: &str,
) -> BaseImage {
    let mut base = built_in_bases(python, node_in_builder)
        .remove(kind)
        .expect("a built-in base kind");
    base.name = name.to_owned();
    base
}

/// Adds `packages` (`production.packages` or `builder.packages`, named by `key`) to the recipe of the built-in base
/// `name`, and a digest of its whole package list to its tag, so bases extended differently never share an image.
pub(super) fn add_packages(
    origin: Origin<'_>,
    bases: &mut BTreeMap<String, BaseImage>,
    name: &str,
    built_in: bool,
    key: &str,
    packages: &raw::SpannedStrings,
) -> Result<(), ConfigError> {
    let base = bases.get_mut(name).expect("a base resolved by name");
    let bootstrap = match (&mut base.bootstrap, built_in) {
        (Some(bootstrap), true) => bootstrap,
        _ => {
            return fail(
                origin,
                packages.span(),
                key,
                format!("`{key}` adds packages to the base `{name}`, which deploy.toml defines itself"),
                Some(format!(
                    "list them in `[base.{name}.bootstrap] packages`, or leave `[base.{name}]` out to extend \
                     Dockyard's built-in base"
                )),
            )
        }
    };
    for (index, package) in packages.get_ref().iter().enumerate() {
        let text = package.get_ref();
        if !is_valid_debian_package_name(text) {
            let key = format!("{key}[{index}]");
            return fail(
                origin,
                package.span(),
                &key,
                format!("`{key}` = {text:?}: not a Debian package name"),
                Some(
                    "package names use lowercase letters, digits, `+`, `-` and `.`, at least two characters, \
                     starting with a letter or digit, for example \"libpq5\""
                        .to_owned(),
                ),
            );
        }
        if !bootstrap.packages.contains(text) {
            bootstrap.packages.push(text.clone());
        }
    }
    let mut all: Vec<&str> = bootstrap.packages.iter().map(String::as_str).collect();
    all.sort_unstable();
    let digest = sha2::Sha256::digest(all.join(" ").as_bytes());
    base.image.tag = Some(format!(
        "{}-{}",
        bootstrap.suite,
        &hex::encode(digest)[..12]
    ));
    Ok(())
}

/// The built-in bases for `python`, each replaced by the written table of the same name, and the
/// other written tables.
pub(super) fn resolve_bases(
    origin: Origin<'_>,
    bases: Option<&Spanned<BTreeMap<Spanned<String>, raw::Base>>>,
    python: PythonVersion,
    node_in_builder: bool,
) -> Result<BTreeMap<String, BaseImage>, ConfigError> {
    let mut resolved = built_in_bases(python, node_in_builder);
    let Some(bases) = bases else {
        return Ok(resolved);
    };
    if bases.get_ref().is_empty() {
        return fail(
            origin,
            bases.span(),
            "base",
            "`base` defines no base image".to_owned(),
            Some(
                "leave `base` out for the built-in bases, or add a `[base.<name>]` table, for \
                 example [base.runtime] with image = \"python:3.12-slim-bookworm\""
                    .to_owned(),
            ),
        );
    }
    let mut entries: Vec<_> = bases.get_ref().iter().collect();
    entries.sort_by_key(|(name, _)| name.span().start);
    for (name, base) in entries {
        let base_image = resolve_base(origin, name, base)?;
        resolved.insert(name.get_ref().clone(), base_image);
    }
    Ok(resolved)
}

fn resolve_base(
    origin: Origin<'_>,
    name: &Spanned<String>,
    base: &raw::Base,
) -> Result<BaseImage, ConfigError> {
    let table = format!("base.{}", render_key(name.get_ref()));
    if !is_valid_base_name(name.get_ref()) {
        return fail(
            origin,
            name.span(),
            &table,
            format!(
                "`[{table}]`: base names use lowercase letters, digits, `_` and `-`, starting \
                 with a letter or digit"
            ),
            Some(match name.get_ref().to_lowercase() {
                lowercase if is_valid_base_name(&lowercase) => format!(
                    "the name is used in image tags and file names; for example `[base.{lowercase}]`"
                ),
                _ => "the name is used in image tags and file names".to_owned(),
            }),
        );
    }

    let image_key = format!("{table}.image");
    let image = match parse_image_reference(base.image.get_ref()) {
        Ok(image) => image,
        Err(reason) => {
            return fail(
                origin,
                base.image.span(),
                &image_key,
                format!("`{image_key}` = {:?}: {reason}", base.image.get_ref()),
                Some(
                    "write it like \"python:3.12-slim\", \"localhost:5000/team/app:v1\" or \
                     \"ghcr.io/owner/app@sha256:<64 hex digits>\""
                        .to_owned(),
                ),
            );
        }
    };

    let bootstrap = match &base.bootstrap {
        Some(bootstrap) => Some(resolve_bootstrap(origin, &table, bootstrap)?),
        None => None,
    };

    Ok(BaseImage {
        name: name.get_ref().clone(),
        image,
        pull: base.pull.as_ref().is_none_or(|pull| *pull.get_ref()),
        bootstrap,
    })
}

/// The import change setting `name` to `value` in the image config, quoted when the value needs it.
fn env_change(name: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:,+@".contains(c));
    if plain {
        format!("ENV {name}={value}")
    } else {
        format!("ENV {name}={}", serde_json::Value::String(value.to_owned()))
    }
}

fn resolve_bootstrap(
    origin: Origin<'_>,
    table: &str,
    bootstrap: &raw::Bootstrap,
) -> Result<Bootstrap, ConfigError> {
    let suite = bootstrap.suite.get_ref();
    if !is_valid_debian_suite(suite) {
        let key = format!("{table}.bootstrap.suite");
        return fail(
            origin,
            bootstrap.suite.span(),
            &key,
            format!("`{key}` = {suite:?}: not a Debian suite name"),
            Some("for example \"bookworm\" or \"stable\"".to_owned()),
        );
    }

    let variant = match &bootstrap.variant {
        Some(variant) => {
            let text = variant.get_ref();
            if !DEBOOTSTRAP_VARIANTS.contains(&text.as_str()) {
                let key = format!("{table}.bootstrap.variant");
                let all = render_backticked_list(&DEBOOTSTRAP_VARIANTS);
                let hint = match closest_candidate(text, DEBOOTSTRAP_VARIANTS) {
                    Some(suggestion) => {
                        format!("did you mean `{suggestion}`? the variants are {all}")
                    }
                    None => format!("the variants are {all}"),
                };
                return fail(
                    origin,
                    variant.span(),
                    &key,
                    format!("`{key}` = {text:?}: not a debootstrap variant"),
                    Some(hint),
                );
            }
            text.clone()
        }
        None => DEFAULT_BOOTSTRAP_VARIANT.to_owned(),
    };

    let mut packages = Vec::new();
    if let Some(listed) = &bootstrap.packages {
        for (index, package) in listed.get_ref().iter().enumerate() {
            if !is_valid_debian_package_name(package.get_ref()) {
                let key = format!("{table}.bootstrap.packages[{index}]");
                return fail(
                    origin,
                    package.span(),
                    &key,
                    format!(
                        "`{key}` = {:?}: not a Debian package name",
                        package.get_ref()
                    ),
                    Some(
                        "package names use lowercase letters, digits, `+`, `-` and `.`, at least \
                         two characters, starting with a letter or digit"
                            .to_owned(),
                    ),
                );
            }
            packages.push(package.get_ref().clone());
        }
    }

    let mirror = match &bootstrap.mirror {
        Some(mirror) => {
            if !is_http_url(mirror.get_ref()) {
                let key = format!("{table}.bootstrap.mirror");
                return fail(
                    origin,
                    mirror.span(),
                    &key,
                    format!("`{key}` = {:?}: expected an http(s) URL", mirror.get_ref()),
                    Some("for example \"http://deb.debian.org/debian\"".to_owned()),
                );
            }
            Some(mirror.get_ref().clone())
        }
        None => None,
    };

    let changes = match &bootstrap.env {
        Some(env) => {
            super::app::resolve_environment(origin, env, &format!("{table}.bootstrap.env"))?
                .iter()
                .map(|(name, value)| env_change(name, value))
                .collect()
        }
        None => Vec::new(),
    };

    let architecture = match &bootstrap.architecture {
        Some(written) => Some(resolve_architecture(origin, table, written)?),
        None => None,
    };

    Ok(Bootstrap {
        suite: suite.clone(),
        variant,
        packages,
        mirror,
        files: Vec::new(),
        changes,
        architecture,
    })
}

/// The architectures Debian's archive builds the suites Dockyard bootstraps for, by Debian's names.
pub const DEBIAN_ARCHITECTURES: [&str; 7] = [
    "amd64", "arm64", "armhf", "i386", "ppc64el", "s390x", "riscv64",
];

/// `[base.<name>.bootstrap] architecture`: one of [`DEBIAN_ARCHITECTURES`]; the kernel's and OCI's other names for
/// them are refused with Debian's.
fn resolve_architecture(
    origin: Origin<'_>,
    table: &str,
    written: &Spanned<String>,
) -> Result<String, ConfigError> {
    let text = written.get_ref();
    if DEBIAN_ARCHITECTURES.contains(&text.as_str()) {
        return Ok(text.clone());
    }
    let key = format!("{table}.bootstrap.architecture");
    let all = render_backticked_list(&DEBIAN_ARCHITECTURES);
    let debian_name = match text.trim_start_matches("linux/") {
        "aarch64" | "arm64/v8" => Some("arm64"),
        "x86_64" | "x86-64" | "amd64/v1" => Some("amd64"),
        "arm/v7" | "armv7l" | "armv7" => Some("armhf"),
        "ppc64le" => Some("ppc64el"),
        "386" | "i686" => Some("i386"),
        plain if DEBIAN_ARCHITECTURES.contains(&plain) => DEBIAN_ARCHITECTURES
            .iter()
            .copied()
            .find(|name| *name == plain),
        _ => None,
    };
    let hint = match debian_name {
        Some(name) => {
            format!("Debian calls it `{name}`: write \"{name}\"; the architectures are {all}")
        }
        None => match closest_candidate(text, DEBIAN_ARCHITECTURES) {
            Some(suggestion) => format!("did you mean `{suggestion}`? the architectures are {all}"),
            None => format!("the architectures are {all}, by Debian's names"),
        },
    };
    fail(
        origin,
        written.span(),
        &key,
        format!("`{key}` = {text:?}: not a Debian architecture"),
        Some(hint),
    )
}
