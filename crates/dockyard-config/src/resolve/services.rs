//! `[services.<name>]`: the backing services, each with the `service-<name>` base holding its image, and
//! `[[app.process]]`, the production image's other processes.

use std::collections::BTreeMap;

use toml::Spanned;

use super::assets::{resolve_argv, resolve_choice};
use super::numbers::{resolve_in_range, RangeUse};
use super::{fail, Origin};
use crate::choices::{ServiceKind, ServiceValue};
use crate::error::ConfigError;
use crate::image_reference::parse_image_reference;
use crate::model::{App, BaseImage, Process, ProcessReady, Service};
use crate::raw;
use crate::service_images::{debian_service, offered_series};
use crate::source_map::render_key;

/// The network aliases Dockyard's own containers take: a service or process may not answer to them.
const RESERVED_NAMES: [&str; 2] = ["app", "nginx"];
/// Variables Dockyard sets itself in every app container.
const DOCKYARD_VARIABLES: [&str; 2] = ["DJANGO_SECRET_KEY", "DJANGO_SETTINGS_MODULE"];
const DEFAULT_READY_TIMEOUT_SECONDS: u64 = 60;
/// RabbitMQ boots an Erlang VM: it gets longer.
const DEFAULT_RABBITMQ_READY_TIMEOUT_SECONDS: u64 = 120;
const DEFAULT_PROCESS_READY_TIMEOUT_SECONDS: u64 = 60;
const DEFAULT_STAY_UP_SECONDS: u64 = 5;

/// The prefix of the base holding a service's image: `[services.db]` runs `service-db`.
pub(crate) const SERVICE_BASE_PREFIX: &str = "service-";

/// A service or process name: a host name on the run's network.
fn is_valid_host_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 32
        && chars.next().is_some_and(|first| first.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// Checks a service or process name, `key` naming it in messages.
fn check_name(origin: Origin<'_>, name: &Spanned<String>, key: &str) -> Result<(), ConfigError> {
    let text = name.get_ref();
    if !is_valid_host_name(text) {
        return fail(
            origin,
            name.span(),
            key,
            format!("`{key}`: {text:?} is not a valid name"),
            Some("it is a host name on the run's network: lowercase letters, digits and `-`, starting with a letter, at most 32 characters".to_owned()),
        );
    }
    if RESERVED_NAMES.contains(&text.as_str()) {
        return fail(
            origin,
            name.span(),
            key,
            format!("`{key}`: {text:?} is taken by Dockyard's own container of that name"),
            Some("choose another name, for example \"db\", \"cache\" or \"worker\"".to_owned()),
        );
    }
    Ok(())
}

/// A number of seconds from 1 to `maximum` at `key`, or `default` when not written.
fn seconds(
    origin: Origin<'_>,
    written: Option<&Spanned<i64>>,
    key: &str,
    maximum: u64,
    default: u64,
) -> Result<u64, ConfigError> {
    match written {
        Some(number) => resolve_in_range(
            origin,
            number,
            &RangeUse {
                key,
                unit: "seconds",
                minimum: 1,
                maximum,
                default,
            },
        ),
        None => Ok(default),
    }
}

/// Resolves `[services.*]`, adding each service's `service-<name>` base to `bases`.
pub(super) fn resolve_services(
    origin: Origin<'_>,
    services: Option<&BTreeMap<Spanned<String>, Spanned<raw::Service>>>,
    app: &App,
    bases: &mut BTreeMap<String, BaseImage>,
) -> Result<BTreeMap<String, Service>, ConfigError> {
    let mut resolved = BTreeMap::new();
    let mut variables: BTreeMap<String, String> = BTreeMap::new();
    let mut entries: Vec<_> = services.into_iter().flatten().collect();
    entries.sort_by_key(|(name, _)| name.span().start);
    for (name, service) in entries {
        let table = format!("services.{}", render_key(name.get_ref()));
        check_name(origin, name, &table)?;
        let name_text = name.get_ref().clone();
        if let Some(process) = app
            .processes
            .iter()
            .find(|process| process.name == name_text)
        {
            return fail(
                origin,
                name.span(),
                &table,
                format!(
                    "`[{table}]`: `[[app.process]]` {:?} has the same name",
                    process.name
                ),
                Some(
                    "services and processes answer to their names on the run's network: rename one"
                        .to_owned(),
                ),
            );
        }
        let header = service.span();
        let service = service.get_ref();
        let kind = resolve_choice::<ServiceKind>(
            origin,
            &service.kind,
            &format!("{table}.kind"),
            "not a service Dockyard runs",
        )?;
        let version = resolve_version(origin, service.version.as_ref(), &table, header, kind)?;
        let base_name = format!("{SERVICE_BASE_PREFIX}{name_text}");
        if bases.contains_key(&base_name) {
            return fail(
                origin,
                name.span(),
                &table,
                format!("`[{table}]` keeps its image in the base `{base_name}`, and `[base.{base_name}]` is written too"),
                Some(format!("to choose the image, write `image = ...` in [{table}] and remove [base.{base_name}]")),
            );
        }
        bases.insert(
            base_name.clone(),
            resolve_image(origin, service, &table, kind, &version, &base_name)?,
        );
        let default_timeout = match kind {
            ServiceKind::Rabbitmq => DEFAULT_RABBITMQ_READY_TIMEOUT_SECONDS,
            ServiceKind::Postgres | ServiceKind::Redis => DEFAULT_READY_TIMEOUT_SECONDS,
        };
        let ready_timeout_seconds = seconds(
            origin,
            service.ready_timeout_seconds.as_ref(),
            &format!("{table}.ready_timeout_seconds"),
            600,
            default_timeout,
        )?;
        let env = resolve_service_env(origin, service.env.as_ref(), &table, app, &mut variables)?;
        resolved.insert(
            name_text.clone(),
            Service {
                name: name_text,
                kind,
                version,
                base: base_name,
                ready_timeout_seconds,
                env,
            },
        );
    }
    Ok(resolved)
}

fn resolve_version(
    origin: Origin<'_>,
    version: Option<&Spanned<String>>,
    table: &str,
    header: std::ops::Range<usize>,
    kind: ServiceKind,
) -> Result<String, ConfigError> {
    let key = format!("{table}.version");
    let Some(version) = version else {
        return fail(
            origin,
            header,
            &key,
            format!("`[{table}]` has no `version`"),
            Some(format!(
                "write the version the app runs against, for example version = \"{}\"; Dockyard bootstraps {kind} {}",
                crate::service_images::DEBIAN_SERVICES
                    .iter()
                    .find(|offer| offer.kind == kind)
                    .map_or("", |offer| offer.series),
                offered_series(kind)
            )),
        );
    };
    let text = version.get_ref();
    let well_formed = !text.is_empty()
        && text
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()));
    if !well_formed {
        return fail(
            origin,
            version.span(),
            &key,
            format!("`{key}` = {text:?}: not a version"),
            Some("write dot-separated numbers, for example \"15\" or \"7.0\"".to_owned()),
        );
    }
    Ok(text.clone())
}

/// The service's base: `image` when written (used if present, else pulled; bootstrapped only when it names Dockyard's
/// own image of that version), else Dockyard's image bootstrapped from Debian's packages.
fn resolve_image(
    origin: Origin<'_>,
    service: &raw::Service,
    table: &str,
    kind: ServiceKind,
    version: &str,
    base_name: &str,
) -> Result<BaseImage, ConfigError> {
    let offer = debian_service(kind, version);
    let Some(image) = &service.image else {
        let Some(offer) = offer else {
            let key = format!("{table}.version");
            let span = service.version.as_ref().map_or(0..0, Spanned::span);
            return fail(
                origin,
                span,
                &key,
                format!("`{key}` = {version:?}: Debian packages no {kind} {version}, so Dockyard cannot bootstrap it"),
                Some(format!(
                    "Debian packages {kind} {}; or name an image of {kind} {version} the engine has or can pull, for example image = \"{}:{version}\"",
                    offered_series(kind),
                    kind.as_str()
                )),
            );
        };
        if let Some(pull) = &service.pull {
            let key = format!("{table}.pull");
            return fail(
                origin,
                pull.span(),
                &key,
                format!("`{key}` is written without `image`"),
                Some("`pull` says whether to pull the image named by `image`; Dockyard's own image is bootstrapped when missing".to_owned()),
            );
        }
        return Ok(BaseImage {
            name: base_name.to_owned(),
            image: offer.image(),
            pull: true,
            bootstrap: Some(offer.bootstrap()),
        });
    };
    let key = format!("{table}.image");
    let reference = parse_image_reference(image.get_ref()).or_else(|reason| {
        fail(
            origin,
            image.span(),
            &key,
            format!("`{key}` = {:?}: {reason}", image.get_ref()),
            Some(format!("write it like \"{}:{version}\"", kind.as_str())),
        )
    })?;
    // Only Dockyard's own image of that version may be bootstrapped under the written name: a recipe for another
    // name would rebuild (and replace) whatever image the engine holds under it.
    let bootstrap = offer
        .filter(|offer| offer.image() == reference)
        .map(|offer| offer.bootstrap());
    Ok(BaseImage {
        name: base_name.to_owned(),
        image: reference,
        pull: service.pull.as_ref().is_none_or(|pull| *pull.get_ref()),
        bootstrap,
    })
}

/// The service's `env`: valid names, none Dockyard sets, none in `[app.env]`, none taken by another service.
fn resolve_service_env(
    origin: Origin<'_>,
    env: Option<&BTreeMap<Spanned<String>, Spanned<String>>>,
    table: &str,
    app: &App,
    taken: &mut BTreeMap<String, String>,
) -> Result<BTreeMap<String, ServiceValue>, ConfigError> {
    let mut resolved = BTreeMap::new();
    let mut entries: Vec<_> = env.into_iter().flatten().collect();
    entries.sort_by_key(|(name, _)| name.span().start);
    for (name, part) in entries {
        let variable = name.get_ref();
        let key = format!("{table}.env.{}", render_key(variable));
        super::app::check_variable_name(origin, name, &key)?;
        let problem = if DOCKYARD_VARIABLES.contains(&variable.as_str()) {
            Some((
                format!("`{key}`: Dockyard sets {variable} itself"),
                "choose the variable the app reads to reach the service, for example DATABASE_URL"
                    .to_owned(),
            ))
        } else if app.env.contains_key(variable) {
            Some((
                format!("`{key}`: {variable} is also written in [app.env]"),
                format!(
                    "the service gives {variable} its value for each run: remove it from [app.env]"
                ),
            ))
        } else if app.secrets.contains(variable) {
            Some((
                format!("`{key}`: {variable} is also named in [app] secrets"),
                format!(
                    "the service gives {variable} its value for each run: remove it from secrets"
                ),
            ))
        } else {
            taken.get(variable).map(|other| {
                (
                    format!("`{key}`: {variable} is already given by [{other}]"),
                    "each variable gets its value from one service".to_owned(),
                )
            })
        };
        if let Some((message, hint)) = problem {
            return fail(origin, name.span(), &key, message, Some(hint));
        }
        let value = resolve_choice::<ServiceValue>(
            origin,
            part,
            &key,
            "not a part of a service's connection",
        )?;
        taken.insert(variable.clone(), table.to_owned());
        resolved.insert(variable.clone(), value);
    }
    Ok(resolved)
}

/// Resolves `[[app.process]]`.
pub(super) fn resolve_processes(
    origin: Origin<'_>,
    processes: Option<&Spanned<Vec<raw::Process>>>,
) -> Result<Vec<Process>, ConfigError> {
    let mut resolved: Vec<Process> = Vec::new();
    for (index, process) in processes
        .map(Spanned::get_ref)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let table = format!("app.process[{index}]");
        check_name(origin, &process.name, &format!("{table}.name"))?;
        let name = process.name.get_ref().clone();
        if resolved.iter().any(|earlier| earlier.name == name) {
            return fail(
                origin,
                process.name.span(),
                &format!("{table}.name"),
                format!("`{table}.name` = {name:?}: another [[app.process]] has this name"),
                Some("give each process its own name".to_owned()),
            );
        }
        let command = resolve_argv(origin, &process.command, &format!("{table}.command"))?;
        let ready = match (&process.ready_command, &process.stay_up_seconds) {
            (Some(ready_command), None) => ProcessReady::Command {
                command: resolve_argv(origin, ready_command, &format!("{table}.ready_command"))?,
                timeout_seconds: seconds(
                    origin,
                    process.ready_timeout_seconds.as_ref(),
                    &format!("{table}.ready_timeout_seconds"),
                    600,
                    DEFAULT_PROCESS_READY_TIMEOUT_SECONDS,
                )?,
            },
            (Some(_), Some(stay_up)) => {
                return fail(
                    origin,
                    stay_up.span(),
                    &format!("{table}.stay_up_seconds"),
                    format!("`{table}.stay_up_seconds` is written with `ready_command`"),
                    Some("a process is ready when its ready_command exits 0, or, without one, when it stays up: keep one".to_owned()),
                )
            }
            (None, stay_up) => {
                if let Some(timeout) = &process.ready_timeout_seconds {
                    return fail(
                        origin,
                        timeout.span(),
                        &format!("{table}.ready_timeout_seconds"),
                        format!("`{table}.ready_timeout_seconds` is written without `ready_command`"),
                        Some("the timeout bounds the ready_command; without one, `stay_up_seconds` says how long the process must stay up".to_owned()),
                    );
                }
                ProcessReady::StaysUp {
                    seconds: seconds(
                        origin,
                        stay_up.as_ref(),
                        &format!("{table}.stay_up_seconds"),
                        120,
                        DEFAULT_STAY_UP_SECONDS,
                    )?,
                }
            }
        };
        resolved.push(Process {
            name,
            command,
            ready,
        });
    }
    Ok(resolved)
}
