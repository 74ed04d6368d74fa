//! `[production]`: the image that ships.

use std::collections::BTreeMap;

use super::base::DEFAULT_RUNTIME_BASE;
use super::numbers::{resolve_user, UserUse};
use super::{resolve_base_name, resolve_template, Origin};
use crate::error::ConfigError;
use crate::model::{BaseImage, Production};
use crate::raw;
use crate::templates;

const DEFAULT_PRODUCTION_USER: u32 = 10001;

pub(super) fn resolve_production(
    origin: Origin<'_>,
    production: &raw::Production,
    bases: &BTreeMap<String, BaseImage>,
) -> Result<Production, ConfigError> {
    let dockerfile = resolve_template(
        origin,
        production.dockerfile.as_ref(),
        "production.dockerfile",
        templates::PRODUCTION_DOCKERFILE,
    )?;
    let base = resolve_base_name(
        origin,
        production.base.as_ref(),
        "production.base",
        DEFAULT_RUNTIME_BASE,
        bases,
    )?;
    let user = match &production.user {
        Some(user) => resolve_user(
            origin,
            user,
            &UserUse {
                key: "production.user",
                image: "production",
                default: DEFAULT_PRODUCTION_USER,
            },
        )?,
        None => DEFAULT_PRODUCTION_USER,
    };
    Ok(Production {
        dockerfile,
        base,
        user,
    })
}
