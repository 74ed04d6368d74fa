//! `[platforms]`: the platforms the production and nginx images are made for besides the host's, each with the
//! runtime and nginx bases of its architecture.

use std::collections::BTreeMap;

use toml::Spanned;

use super::base::{
    add_packages, built_in_base, DEFAULT_BUILDER_BASE, DEFAULT_NGINX_BASE, DEFAULT_RUNTIME_BASE,
};
use super::{fail, Origin};
use crate::choices::PythonVersion;
use crate::error::ConfigError;
use crate::model::{BaseImage, PlatformImages, Service};
use crate::raw;
use crate::source_map::render_key;
use crate::suggestions::render_backticked_list;

/// The platforms Dockyard makes images for, OCI's names with Debian's architecture.
const PLATFORMS: [(&str, &str); 6] = [
    ("linux/amd64", "amd64"),
    ("linux/arm64", "arm64"),
    ("linux/arm/v7", "armhf"),
    ("linux/ppc64le", "ppc64el"),
    ("linux/s390x", "s390x"),
    ("linux/riscv64", "riscv64"),
];

/// The Debian name of the architecture this program runs on (`amd64`, `arm64`, ...): the platform whose images the
/// engine builds natively.
pub fn native_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "armhf",
        "x86" => "i386",
        "powerpc64" => "ppc64el",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// The machine name a wheel built for Debian's `architecture` carries in its platform tag (`manylinux_2_17_aarch64`
/// for `arm64`): the kernel's `uname -m`, as PEP 600 names it.
pub fn wheel_machine(architecture: &str) -> &str {
    match architecture {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "armhf" => "armv7l",
        "ppc64el" => "ppc64le",
        "i386" => "i686",
        other => other,
    }
}

/// The OCI platform this program runs on (`linux/amd64`): the one the engine builds natively.
pub fn native_platform() -> String {
    let architecture = native_architecture();
    PLATFORMS
        .iter()
        .find(|(_, debian)| *debian == architecture)
        .map_or_else(
            || format!("linux/{architecture}"),
            |(oci, _)| (*oci).to_owned(),
        )
}

/// What the platforms need from the rest of the file.
pub(super) struct Shipped<'a> {
    /// `[python] version`: the suite of the built-in bases.
    pub python: PythonVersion,
    /// The production image's base name.
    pub runtime_base: &'a str,
    /// The nginx image's base name, with `[nginx]`.
    pub nginx_base: Option<&'a str>,
    /// The bases deploy.toml writes itself.
    pub written_bases: &'a [&'a String],
    /// The packages added to the built-in runtime (`production.packages`), with its key.
    pub runtime_packages: Option<&'a raw::SpannedStrings>,
    /// The builder's base name: its twin for a platform builds the sdists the index has no wheel of for it.
    pub builder_base: &'a str,
    /// `builder.packages`, added to the built-in builder's twin with `production.packages`.
    pub builder_packages: Option<&'a raw::SpannedStrings>,
    /// Whether the production image is assembled (the built-in Dockerfile): a project's own is built by the engine,
    /// for its own platform only.
    pub assembled: bool,
    /// `[services]`: a platform with its own engine gets their bases for its architecture.
    pub services: &'a BTreeMap<String, Service>,
}

/// The builder base of `architecture` (`builder-arm64`), which builds the sdists of packages the index has no wheel
/// of for it: `[base.<builder>-<arch>]` when written, else Dockyard's built-in builder recipe for the architecture
/// with `builder.packages` and `production.packages` when the builder's base is the built-in one; `None` when the
/// builder's base is deploy.toml's own (whose twin Dockyard cannot know): such a package then fails that platform.
fn builder_twin(
    origin: Origin<'_>,
    shipped: &Shipped<'_>,
    architecture: &str,
    bases: &mut BTreeMap<String, BaseImage>,
) -> Result<Option<String>, ConfigError> {
    let name = twin_name(shipped.builder_base, architecture);
    if shipped.written_bases.contains(&&name) {
        return Ok(Some(name));
    }
    let built_in = shipped.builder_base == DEFAULT_BUILDER_BASE
        && !shipped
            .written_bases
            .contains(&&shipped.builder_base.to_owned());
    if !built_in {
        return Ok(None);
    }
    let mut made = built_in_base(shipped.python, false, DEFAULT_BUILDER_BASE, &name);
    if let Some(recipe) = made.bootstrap.as_mut() {
        recipe.architecture = Some(architecture.to_owned());
    }
    bases.insert(name.clone(), made);
    for (key, packages) in [
        ("production.packages", shipped.runtime_packages),
        ("builder.packages", shipped.builder_packages),
    ] {
        if let Some(packages) = packages {
            add_packages(origin, bases, &name, true, key, packages)?;
        }
    }
    tag_for_architecture(bases, &name, architecture);
    Ok(Some(name))
}

/// Suffixes the tag of the base `name` with `architecture` (`bookworm-arm64`), so a twin never shares an image with
/// this machine's base.
fn tag_for_architecture(bases: &mut BTreeMap<String, BaseImage>, name: &str, architecture: &str) {
    if let Some(made) = bases.get_mut(name) {
        made.image.tag = made
            .image
            .tag
            .as_ref()
            .map(|tag| format!("{tag}-{architecture}"));
    }
}

/// How `[platforms] engines` may reach an engine: `DOCKER_HOST`'s schemes.
const ENGINE_SCHEMES: [&str; 5] = ["tcp://", "ssh://", "unix://", "http://", "https://"];

/// `[platforms] engines`: each platform's engine address by platform, checked against the targets (none for this
/// machine's, whose engine is `DOCKER_HOST`'s) and the schemes Dockyard connects with.
fn resolve_engines(
    origin: Origin<'_>,
    platforms: &raw::Platforms,
    targets: &[&str],
    native: &str,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let Some(engines) = platforms.engines.as_ref() else {
        return Ok(BTreeMap::new());
    };
    let mut resolved = BTreeMap::new();
    for (platform, address) in engines.get_ref() {
        let key = format!("platforms.engines.{}", render_key(platform));
        let text = address.get_ref().trim();
        if platform == native {
            return fail(
                origin,
                address.span(),
                &key,
                format!("`{key}`: {native} is this machine's platform, whose engine is the one Dockyard runs against"),
                Some("remove this entry; point DOCKER_HOST at another engine to run everything there".to_owned()),
            );
        }
        if !targets.contains(&platform.as_str()) {
            return fail(
                origin,
                address.span(),
                &key,
                format!("`{key}`: {platform:?} is not in `platforms.targets`"),
                Some(format!(
                    "engines name platforms of `targets` ({}): add {platform:?} to `targets` or remove this entry",
                    render_backticked_list(targets)
                )),
            );
        }
        let scheme_ok = ENGINE_SCHEMES
            .iter()
            .any(|scheme| text.len() > scheme.len() && text.starts_with(scheme));
        if !scheme_ok {
            return fail(
                origin,
                address.span(),
                &key,
                format!("`{key}` = {text:?}: not an engine address"),
                Some("spell it as DOCKER_HOST does: \"tcp://HOST:PORT\", \"ssh://USER@HOST\", \"unix:///PATH\" (or http://, https://)".to_owned()),
            );
        }
        resolved.insert(platform.clone(), text.to_owned());
    }
    Ok(resolved)
}

/// The base `base` of `architecture`: `<base>-<architecture>`, `runtime-arm64`.
fn twin_name(base: &str, architecture: &str) -> String {
    format!("{base}-{architecture}")
}

/// `[platforms] targets`: each platform other than the host's with its bases, added to `bases` (a written
/// `[base.<name>-<arch>]` as it is, else Dockyard's built-in base of that kind for the architecture, tagged
/// `<suite>-<arch>`, with the runtime's added packages).
pub(super) fn resolve_platforms(
    origin: Origin<'_>,
    platforms: Option<&Spanned<raw::Platforms>>,
    shipped: &Shipped<'_>,
    bases: &mut BTreeMap<String, BaseImage>,
) -> Result<Vec<PlatformImages>, ConfigError> {
    let Some(platforms) = platforms else {
        return Ok(Vec::new());
    };
    let native = native_platform();
    let native = native.as_str();
    let all = render_backticked_list(&PLATFORMS.map(|(platform, _)| platform));
    let example = format!("targets = [\"{native}\", \"linux/arm64\"]");
    let Some(targets) = platforms.get_ref().targets.as_ref() else {
        return fail(
            origin,
            platforms.span(),
            "platforms",
            "`[platforms]` names no target".to_owned(),
            Some(format!(
                "list the platforms of the images, this machine's included: {example}"
            )),
        );
    };
    let mut listed: Vec<(&str, &str, &Spanned<String>, String)> = Vec::new();
    for (index, written) in targets.get_ref().iter().enumerate() {
        let key = format!("platforms.targets[{index}]");
        let text = written.get_ref();
        let Some((platform, architecture)) = PLATFORMS
            .iter()
            .find(|(platform, _)| platform == text)
            .copied()
        else {
            let hint = match PLATFORMS.iter().find(|(_, debian)| {
                text.trim_start_matches("linux/") == *debian
                    || text.trim_start_matches("linux/") == "aarch64" && *debian == "arm64"
                    || text.trim_start_matches("linux/") == "x86_64" && *debian == "amd64"
            }) {
                Some((platform, _)) => format!("write \"{platform}\"; the platforms are {all}"),
                None => format!("the platforms are {all}, as OCI and buildx name them"),
            };
            return fail(
                origin,
                written.span(),
                &key,
                format!("`{key}` = {text:?}: not a platform Dockyard makes images for"),
                Some(hint),
            );
        };
        if listed.iter().any(|(earlier, ..)| *earlier == platform) {
            return fail(
                origin,
                written.span(),
                &key,
                format!("`{key}` = {text:?}: listed twice"),
                Some("remove this entry".to_owned()),
            );
        }
        listed.push((platform, architecture, written, key));
    }
    if !listed.iter().any(|(platform, ..)| *platform == native) {
        return fail(
            origin,
            targets.span(),
            "platforms.targets",
            format!("`platforms.targets` leaves out {native}, this machine's platform, where the builder runs the tests and builds the wheels"),
            Some(format!("add \"{native}\": {example}")),
        );
    }
    let targets: Vec<&str> = listed.iter().map(|(platform, ..)| *platform).collect();
    let mut engines = resolve_engines(origin, platforms.get_ref(), &targets, native)?;
    let mut resolved = Vec::new();
    for (platform, architecture, written, key) in listed {
        if platform == native {
            continue;
        }
        if !shipped.assembled {
            return fail(
                origin,
                written.span(),
                &key,
                format!("`{key}` = {platform:?}: the production or nginx image is built from the project's own Dockerfile, which the engine builds for its own platform only"),
                Some("leave `[production] dockerfile` and `[nginx] dockerfile` out for Dockyard's assembled images, which are made for every platform".to_owned()),
            );
        }
        let mut twin = |base: &str, kind: &str, packages: Option<&raw::SpannedStrings>| {
            let name = twin_name(base, architecture);
            if shipped.written_bases.contains(&&name) {
                return Ok(name);
            }
            if base != kind || shipped.written_bases.contains(&&base.to_owned()) {
                return fail(
                    origin,
                    written.span(),
                    &key,
                    format!("`{key}` = {platform:?}: the base `{base}` is deploy.toml's own, whose {architecture} twin Dockyard cannot know"),
                    Some(format!("write a `[base.{name}]` table with an image (or a bootstrap recipe with architecture = \"{architecture}\") for {platform}, or use Dockyard's built-in base (leave `[base.{base}]` out)")),
                );
            }
            let mut made = built_in_base(shipped.python, false, kind, &name);
            if let Some(recipe) = made.bootstrap.as_mut() {
                recipe.architecture = Some(architecture.to_owned());
            }
            bases.insert(name.clone(), made);
            if let Some(packages) = packages {
                add_packages(origin, bases, &name, true, "production.packages", packages)?;
            }
            tag_for_architecture(bases, &name, architecture);
            Ok(name)
        };
        let runtime_base = twin(
            shipped.runtime_base,
            DEFAULT_RUNTIME_BASE,
            shipped.runtime_packages,
        )?;
        let nginx_base = match shipped.nginx_base {
            Some(base) => Some(twin(base, DEFAULT_NGINX_BASE, None)?),
            None => None,
        };
        let builder_base = builder_twin(origin, shipped, architecture, bases)?;
        let engine = engines.remove(platform);
        // On its own engine the smoke run starts the services there too: their images for its architecture.
        let mut service_bases = BTreeMap::new();
        if engine.is_some() {
            for service in shipped.services.values() {
                let name = twin_name(&service.base, architecture);
                if !shipped.written_bases.contains(&&name) {
                    let mut made = bases[&service.base].clone();
                    made.name = name.clone();
                    let bootstrapped = made.bootstrap.is_some();
                    if let Some(recipe) = made.bootstrap.as_mut() {
                        recipe.architecture = Some(architecture.to_owned());
                    }
                    bases.insert(name.clone(), made);
                    if bootstrapped {
                        tag_for_architecture(bases, &name, architecture);
                    }
                }
                service_bases.insert(service.name.clone(), name);
            }
        }
        resolved.push(PlatformImages {
            platform: platform.to_owned(),
            architecture: architecture.to_owned(),
            runtime_base,
            nginx_base,
            engine,
            service_bases,
            builder_base,
        });
    }
    Ok(resolved)
}
