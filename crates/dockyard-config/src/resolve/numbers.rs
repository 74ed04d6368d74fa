//! Bounded numbers shared by several sections: ports, uids and ranges.

use toml::Spanned;

use super::{fail, Origin};
use crate::error::ConfigError;

const LOWEST_UNPRIVILEGED_PORT: i64 = 1024;

/// Which port a port check is about, to word its messages.
pub(super) struct PortUse<'a> {
    /// The full key, for example `app.port`.
    pub(super) key: &'a str,
    /// The image that listens on it, for example `production`.
    pub(super) image: &'a str,
    /// A good port to suggest.
    pub(super) example: u16,
}

pub(super) fn resolve_port(
    origin: Origin<'_>,
    port: &Spanned<i64>,
    port_use: &PortUse<'_>,
) -> Result<u16, ConfigError> {
    let PortUse {
        key,
        image,
        example,
    } = port_use;
    let value = *port.get_ref();
    if let Ok(valid) = u16::try_from(value) {
        if i64::from(valid) >= LOWEST_UNPRIVILEGED_PORT {
            return Ok(valid);
        }
        if valid > 0 {
            return fail(
                origin,
                port.span(),
                key,
                format!("`{key}` = {value}: port below 1024 needs root inside the container"),
                Some(format!(
                    "the {image} image runs as an unprivileged user; listen on a port such as \
                     {example} and publish it with `docker run -p {value}:{example}`"
                )),
            );
        }
    }
    fail(
        origin,
        port.span(),
        key,
        format!("`{key}` = {value}: not a TCP port"),
        Some(format!("use a port from 1024 to 65535, such as {example}")),
    )
}

/// Which uid a user check is about, to word its messages.
pub(super) struct UserUse<'a> {
    /// The full key, for example `production.user`.
    pub(super) key: &'a str,
    /// The image that runs as this user, for example `production`.
    pub(super) image: &'a str,
    /// The uid used when the key is left out.
    pub(super) default: u32,
}

pub(super) fn resolve_user(
    origin: Origin<'_>,
    user: &Spanned<i64>,
    user_use: &UserUse<'_>,
) -> Result<u32, ConfigError> {
    let UserUse {
        key,
        image,
        default,
    } = user_use;
    let value = *user.get_ref();
    if value == 0 {
        return fail(
            origin,
            user.span(),
            key,
            format!("`{key}` = 0: the {image} image must not run as root"),
            Some(format!(
                "use an unprivileged uid such as {default}, or leave the key out for that default"
            )),
        );
    }
    match u32::try_from(value) {
        Ok(uid) => Ok(uid),
        Err(_) => fail(
            origin,
            user.span(),
            key,
            format!("`{key}` = {value}: not a valid uid"),
            Some(format!(
                "use a number from 1 to {}, such as {default}",
                u32::MAX
            )),
        ),
    }
}

/// Which bounded number a range check is about, to word its messages.
pub(super) struct RangeUse<'a> {
    /// The full key, for example `smoke.stop_timeout_seconds`.
    pub(super) key: &'a str,
    /// What the number counts, plural, for example `seconds`.
    pub(super) unit: &'a str,
    /// The smallest acceptable number.
    pub(super) minimum: u64,
    /// The largest acceptable number.
    pub(super) maximum: u64,
    /// The number used when the key is left out.
    pub(super) default: u64,
}

pub(super) fn resolve_in_range(
    origin: Origin<'_>,
    number: &Spanned<i64>,
    range_use: &RangeUse<'_>,
) -> Result<u64, ConfigError> {
    let RangeUse {
        key,
        unit,
        minimum,
        maximum,
        default,
    } = range_use;
    let value = *number.get_ref();
    match u64::try_from(value) {
        Ok(valid) if (*minimum..=*maximum).contains(&valid) => Ok(valid),
        _ => fail(
            origin,
            number.span(),
            key,
            format!("`{key}` = {value}: must be from {minimum} to {maximum} {unit}"),
            Some(format!(
                "use a number of {unit} from {minimum} to {maximum}, or leave the key out for \
                 the default {default}"
            )),
        ),
    }
}
