//! `[nginx]`: the image serving the static files and proxying the rest to the app.

use std::collections::BTreeMap;

use super::base::DEFAULT_NGINX_BASE;
use super::numbers::{resolve_port, resolve_user, PortUse, UserUse};
use super::{fail, resolve_base_name, resolve_template, Origin};
use crate::error::ConfigError;
use crate::model::{BaseImage, Nginx};
use crate::names::{is_nginx_size, is_valid_server_name};
use crate::raw;
use crate::templates;

const DEFAULT_NGINX_PORT: u16 = 8080;
const DEFAULT_NGINX_USER: u32 = 10101;
const DEFAULT_SERVER_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];
const DEFAULT_CLIENT_MAX_BODY_SIZE: &str = "10m";

pub(super) fn resolve_nginx(
    origin: Origin<'_>,
    nginx: &raw::Nginx,
    bases: &BTreeMap<String, BaseImage>,
) -> Result<Nginx, ConfigError> {
    let dockerfile = resolve_template(
        origin,
        nginx.dockerfile.as_ref(),
        "nginx.dockerfile",
        templates::NGINX_DOCKERFILE,
    )?;
    let config = resolve_template(
        origin,
        nginx.config.as_ref(),
        "nginx.config",
        templates::NGINX_CONFIG,
    )?;
    let base = resolve_base_name(
        origin,
        nginx.base.as_ref(),
        "nginx.base",
        DEFAULT_NGINX_BASE,
        bases,
    )?;
    let port = match &nginx.port {
        Some(port) => resolve_port(
            origin,
            port,
            &PortUse {
                key: "nginx.port",
                image: "nginx",
                example: DEFAULT_NGINX_PORT,
            },
        )?,
        None => DEFAULT_NGINX_PORT,
    };
    let user = match &nginx.user {
        Some(user) => resolve_user(
            origin,
            user,
            &UserUse {
                key: "nginx.user",
                image: "nginx",
                default: DEFAULT_NGINX_USER,
            },
        )?,
        None => DEFAULT_NGINX_USER,
    };
    let server_names = match &nginx.server_names {
        Some(server_names) => resolve_server_names(origin, server_names)?,
        None => DEFAULT_SERVER_NAMES.map(str::to_owned).to_vec(),
    };
    let client_max_body_size = match &nginx.client_max_body_size {
        Some(size) => {
            let text = size.get_ref();
            if !is_nginx_size(text) {
                return fail(
                    origin,
                    size.span(),
                    "nginx.client_max_body_size",
                    format!("`nginx.client_max_body_size` = {text:?}: not an nginx size"),
                    Some(format!(
                        "write a number of bytes, optionally followed by `k`, `m` or `g`, for \
                         example \"{DEFAULT_CLIENT_MAX_BODY_SIZE}\""
                    )),
                );
            }
            text.clone()
        }
        None => DEFAULT_CLIENT_MAX_BODY_SIZE.to_owned(),
    };
    Ok(Nginx {
        dockerfile,
        config,
        base,
        port,
        user,
        server_names,
        client_max_body_size,
    })
}

fn resolve_server_names(
    origin: Origin<'_>,
    server_names: &raw::SpannedStrings,
) -> Result<Vec<String>, ConfigError> {
    if server_names.get_ref().is_empty() {
        return fail(
            origin,
            server_names.span(),
            "nginx.server_names",
            "`nginx.server_names` is empty".to_owned(),
            Some(format!(
                "list at least one host name or IPv4 address, for example {:?}, or leave the key \
                 out for that default",
                DEFAULT_SERVER_NAMES
            )),
        );
    }
    let mut resolved = Vec::with_capacity(server_names.get_ref().len());
    for (index, server_name) in server_names.get_ref().iter().enumerate() {
        let text = server_name.get_ref();
        if !is_valid_server_name(text) {
            let key = format!("nginx.server_names[{index}]");
            return fail(
                origin,
                server_name.span(),
                &key,
                format!("`{key}` = {text:?}: not a host name or IPv4 address"),
                Some(
                    "use letters, digits, `.`, `-` and `*`, for example \"example.com\", \
                     \"*.example.com\" or \"127.0.0.1\""
                        .to_owned(),
                ),
            );
        }
        resolved.push(text.clone());
    }
    Ok(resolved)
}
