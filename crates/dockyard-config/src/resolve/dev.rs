//! `[dev]`: how `cargo xtask dev` serves the app: the server, the host port and the dev-only environment.

use toml::Spanned;

use super::app::resolve_environment;
use super::assets::resolve_choice;
use super::{fail, Origin};
use crate::choices::DevServer;
use crate::error::ConfigError;
use crate::model::{App, Dev};
use crate::raw;

const LOWEST_UNPRIVILEGED_PORT: i64 = 1024;

pub(super) fn resolve_dev(
    origin: Origin<'_>,
    dev: Option<&raw::Dev>,
    app: &App,
) -> Result<Dev, ConfigError> {
    let Some(dev) = dev else {
        return Ok(Dev {
            server: DevServer::Runserver,
            port: app.port,
            env: Default::default(),
        });
    };
    let server = match &dev.server {
        Some(written) => resolve_choice::<DevServer>(
            origin,
            written,
            "dev.server",
            "not a server Dockyard runs in dev",
        )?,
        None => DevServer::Runserver,
    };
    let port = match &dev.port {
        Some(port) => resolve_host_port(origin, port)?,
        None => app.port,
    };
    let env = match &dev.env {
        Some(env) => resolve_environment(origin, env, "dev.env")?,
        None => Default::default(),
    };
    Ok(Dev { server, port, env })
}

/// A host port: 0 (any free port) or an unprivileged one.
fn resolve_host_port(origin: Origin<'_>, port: &Spanned<i64>) -> Result<u16, ConfigError> {
    let value = *port.get_ref();
    match u16::try_from(value) {
        Ok(valid) if valid == 0 || i64::from(valid) >= LOWEST_UNPRIVILEGED_PORT => Ok(valid),
        _ => fail(
            origin,
            port.span(),
            "dev.port",
            format!("`dev.port` = {value}: not a port the dev app can be published on"),
            Some(
                "use a port from 1024 to 65535 on this machine, such as 8000, or 0 for any free port"
                    .to_owned(),
            ),
        ),
    }
}
