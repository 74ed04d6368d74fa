//! `[release]`: the registry, repositories, tag templates and push retries.

use toml::Spanned;

use super::numbers::{resolve_in_range, RangeUse};
use super::{fail, Origin};
use crate::error::ConfigError;
use crate::image_reference::{
    check_registry_prefix, check_repository, is_valid_tag, looks_like_registry,
    suggest_registry_prefix, suggest_repository, MAXIMUM_NAME_LENGTH, MAXIMUM_TAG_LENGTH,
};
use crate::model::{Project, Release};
use crate::names::{is_uppercase_environment_variable_name, looks_like_credential};
use crate::raw;
use crate::suggestions::{closest_candidate, render_backticked_list};
use crate::tag_template::{
    is_tag_character, render_tag_template, split_tag_template, TagValues, TemplatePiece,
    PLACEHOLDERS,
};

const DEFAULT_RELEASE_TAGS: [&str; 2] = ["{version}", "sha-{git_sha}"];
const DEFAULT_MOVING_TAGS: [&str; 1] = ["latest"];
const DEFAULT_PUSH_ATTEMPTS: u64 = 4;
const MAXIMUM_PUSH_ATTEMPTS: u64 = 10;
const DEFAULT_PUSH_BACKOFF_MS: u64 = 500;
const MAXIMUM_PUSH_BACKOFF_MS: u64 = 60_000;
const DEFAULT_USERNAME_ENV: &str = "DOCKYARD_REGISTRY_USERNAME";
const DEFAULT_PASSWORD_ENV: &str = "DOCKYARD_REGISTRY_PASSWORD";
/// What `{version}` stands for when a tag template is checked.
const SAMPLE_TAG_VERSION: &str = "1.2.3";
/// What `{git_sha}` stands for when a tag template is checked.
const SAMPLE_TAG_GIT_SHA: &str = "0123456789ab";
const HINT_REGISTRY_EXAMPLES: &str = "write a registry host, with an optional port and namespace \
     path, like \"ghcr.io/owner\", \"localhost:5000\" or \"127.0.0.1:5000/team\"";
const HINT_REPOSITORY_EXAMPLES: &str =
    "the repository is the image name after the registry, for example \"shop\" or \"team/shop\"";
const HINT_CREDENTIAL_NAMES: &str =
    "name the environment variable that holds it; deploy.toml is committed";

pub(super) fn resolve_release(
    origin: Origin<'_>,
    release: &Spanned<raw::Release>,
    project: &Project,
    has_nginx: bool,
) -> Result<Release, ConfigError> {
    let written = release.get_ref();

    let registry = match &written.registry {
        Some(registry) => Some(resolve_registry(origin, registry)?),
        None => None,
    };

    let app_repository = resolve_repository(
        origin,
        release,
        &RepositoryUse {
            key: "release.app_repository",
            written: written.app_repository.as_ref(),
            default: project.name.clone(),
            default_source: "project.name",
            registry: registry.as_deref(),
        },
    )?;

    let nginx_repository = match (&written.nginx_repository, has_nginx) {
        (Some(repository), false) => {
            return fail(
                origin,
                repository.span(),
                "release.nginx_repository",
                format!(
                    "`release.nginx_repository` = {:?} but there is no [nginx] table",
                    repository.get_ref()
                ),
                Some(
                    "add an [nginx] table, or leave `nginx_repository` out: without one there is \
                     no nginx image to release"
                        .to_owned(),
                ),
            );
        }
        (None, false) => None,
        (written_repository, true) => Some(resolve_repository(
            origin,
            release,
            &RepositoryUse {
                key: "release.nginx_repository",
                written: written_repository.as_ref(),
                default: format!("{}-nginx", project.name),
                default_source: "project.name followed by `-nginx`",
                registry: registry.as_deref(),
            },
        )?),
    };
    if nginx_repository.as_ref() == Some(&app_repository) {
        // Placed at whichever of the two was written: both defaults never collide.
        let hint = Some(
            "the app and nginx images get the same tags, so each needs a repository of its own"
                .to_owned(),
        );
        if let Some(written_nginx) = &written.nginx_repository {
            let which_defaults = match &written.app_repository {
                Some(_) => "",
                None => ", which defaults to project.name",
            };
            return fail(
                origin,
                written_nginx.span(),
                "release.nginx_repository",
                format!(
                    "`release.nginx_repository` = {app_repository:?}: the same repository as \
                     `release.app_repository`{which_defaults}"
                ),
                hint,
            );
        }
        if let Some(written_app) = &written.app_repository {
            return fail(
                origin,
                written_app.span(),
                "release.app_repository",
                format!(
                    "`release.app_repository` = {app_repository:?}: the same repository as \
                     `release.nginx_repository`, which defaults to {app_repository:?}"
                ),
                hint,
            );
        }
    }

    let tags = match &written.tags {
        Some(tags) => resolve_tag_templates(
            origin,
            tags,
            &TagList {
                key: "release.tags",
                default: &DEFAULT_RELEASE_TAGS,
                may_be_empty: false,
            },
            &project.name,
        )?,
        None => DEFAULT_RELEASE_TAGS.map(str::to_owned).to_vec(),
    };
    let moving_tags = match &written.moving_tags {
        Some(moving_tags) => resolve_tag_templates(
            origin,
            moving_tags,
            &TagList {
                key: "release.moving_tags",
                default: &DEFAULT_MOVING_TAGS,
                may_be_empty: true,
            },
            &project.name,
        )?,
        None => DEFAULT_MOVING_TAGS.map(str::to_owned).to_vec(),
    };
    check_tags_do_not_move(origin, written, &tags, &moving_tags)?;

    let push_attempts = match &written.push_attempts {
        Some(attempts) => resolve_in_range(
            origin,
            attempts,
            &RangeUse {
                key: "release.push_attempts",
                unit: "attempts",
                minimum: 1,
                maximum: MAXIMUM_PUSH_ATTEMPTS,
                default: DEFAULT_PUSH_ATTEMPTS,
            },
        )?,
        None => DEFAULT_PUSH_ATTEMPTS,
    };
    let push_backoff_ms = match &written.push_backoff_ms {
        Some(backoff) => resolve_in_range(
            origin,
            backoff,
            &RangeUse {
                key: "release.push_backoff_ms",
                unit: "milliseconds",
                minimum: 0,
                maximum: MAXIMUM_PUSH_BACKOFF_MS,
                default: DEFAULT_PUSH_BACKOFF_MS,
            },
        )?,
        None => DEFAULT_PUSH_BACKOFF_MS,
    };

    let username_env = resolve_credential_variable(
        origin,
        written.username_env.as_ref(),
        "release.username_env",
        DEFAULT_USERNAME_ENV,
    )?;
    let password_env = resolve_credential_variable(
        origin,
        written.password_env.as_ref(),
        "release.password_env",
        DEFAULT_PASSWORD_ENV,
    )?;
    if username_env == password_env {
        // Placed at whichever of the two was written: both defaults differ.
        let written_one = match (&written.password_env, &written.username_env) {
            (Some(password), _) => Some((password, "release.password_env", "release.username_env")),
            (None, Some(username)) => {
                Some((username, "release.username_env", "release.password_env"))
            }
            (None, None) => None,
        };
        if let Some((variable, key, other)) = written_one {
            return fail(
                origin,
                variable.span(),
                key,
                format!("`{key}` = {password_env:?}: the same variable as `{other}`"),
                Some("the username and the password come from two variables".to_owned()),
            );
        }
    }

    let signing_key_env = match &written.signing_key_env {
        Some(variable) => {
            let key = "release.signing_key_env";
            let name = resolve_credential_variable(origin, Some(variable), key, "")?;
            if name == username_env || name == password_env {
                return fail(
                    origin,
                    variable.span(),
                    key,
                    format!("`{key}` = {name:?}: the same variable as a registry credential"),
                    Some("the signing key comes from a variable of its own".to_owned()),
                );
            }
            Some(name)
        }
        None => None,
    };

    Ok(Release {
        registry,
        app_repository,
        nginx_repository,
        tags,
        moving_tags,
        // Both were checked against small maximums.
        push_attempts: u32::try_from(push_attempts).unwrap_or(u32::MAX),
        push_backoff_ms,
        username_env,
        password_env,
        signing_key_env,
    })
}

/// A registry host with an optional port and namespace path, without scheme, slash or tag.
fn resolve_registry(origin: Origin<'_>, registry: &Spanned<String>) -> Result<String, ConfigError> {
    let key = "release.registry";
    let text = registry.get_ref();
    let invalid =
        |message: String, hint: String| fail(origin, registry.span(), key, message, Some(hint));
    let write_instead = |suggestion: &str| {
        if check_registry_prefix(suggestion).is_ok() {
            format!("write {suggestion:?}")
        } else {
            HINT_REGISTRY_EXAMPLES.to_owned()
        }
    };
    if text.is_empty() {
        return invalid(
            format!("`{key}` is empty"),
            "name a registry such as \"ghcr.io/owner\" or \"localhost:5000\", or leave the key \
             out to write image archives instead of pushing"
                .to_owned(),
        );
    }
    if let Some((_, rest)) = text.split_once("://") {
        return invalid(
            format!("`{key}` = {text:?}: a registry is written without a scheme"),
            write_instead(rest.trim_end_matches('/')),
        );
    }
    if text.ends_with('/') {
        return invalid(
            format!("`{key}` = {text:?}: must not end with `/`"),
            write_instead(text.trim_end_matches('/')),
        );
    }
    let has_tag_or_digest = text.contains('@')
        || text
            .split_once('/')
            .is_some_and(|(_, namespace)| namespace.contains(':'));
    if has_tag_or_digest {
        return invalid(
            format!("`{key}` = {text:?}: a registry takes no tag or digest"),
            "write the registry and namespace alone, for example \"ghcr.io/owner\": the \
             repositories come from `release.app_repository` and `release.nginx_repository`, the \
             tags from `release.tags` and `release.moving_tags`"
                .to_owned(),
        );
    }
    if let Err(reason) = check_registry_prefix(text) {
        let hint = match suggest_registry_prefix(text) {
            Some(suggestion) => format!("write {suggestion:?}"),
            None => HINT_REGISTRY_EXAMPLES.to_owned(),
        };
        return invalid(format!("`{key}` = {text:?}: {reason}"), hint);
    }
    Ok(text.clone())
}

/// Which repository a repository check is about, to word its messages.
struct RepositoryUse<'a> {
    /// The full key, for example `release.app_repository`.
    key: &'a str,
    /// The repository as written, if it was.
    written: Option<&'a Spanned<String>>,
    /// The repository used when the key is left out.
    default: String,
    /// Where the default comes from, for example `project.name`.
    default_source: &'a str,
    /// The registry the repository goes to, if any.
    registry: Option<&'a str>,
}

fn resolve_repository(
    origin: Origin<'_>,
    release: &Spanned<raw::Release>,
    repository_use: &RepositoryUse<'_>,
) -> Result<String, ConfigError> {
    let RepositoryUse {
        key,
        written,
        default,
        default_source,
        registry,
    } = repository_use;
    let field = key.trim_start_matches("release.");
    let (repository, span, shown) = match written {
        Some(written) => (
            written.get_ref().clone(),
            written.span(),
            format!("`{key}` = {:?}", written.get_ref()),
        ),
        // Placed at the `[release]` header: there is no key to point at.
        None => (
            default.clone(),
            release.span(),
            format!("`{key}` defaults to {default:?} ({default_source})"),
        ),
    };

    if let Err(reason) = check_repository(&repository) {
        let hint = match suggest_repository(&repository) {
            Some(suggestion) => format!("write `{field} = {suggestion:?}`"),
            None => HINT_REPOSITORY_EXAMPLES.to_owned(),
        };
        return fail(origin, span, key, format!("{shown}: {reason}"), Some(hint));
    }
    if let Some((first, _)) = repository.split_once('/') {
        if looks_like_registry(first) {
            let last = repository.rsplit('/').next().unwrap_or(&repository);
            return fail(
                origin,
                span,
                key,
                format!("{shown}: `{first}` looks like a registry host"),
                Some(format!(
                    "the registry goes in `release.registry`; write the path after it here, for \
                     example `{field} = {last:?}`"
                )),
            );
        }
    }
    let name_length = registry.map_or(0, |registry| registry.len() + 1) + repository.len();
    if name_length > MAXIMUM_NAME_LENGTH {
        let with_registry = if registry.is_some() {
            " with the registry"
        } else {
            ""
        };
        return fail(
            origin,
            span,
            key,
            format!(
                "{shown}: the image name{with_registry} is {name_length} characters long, more \
                 than {MAXIMUM_NAME_LENGTH}"
            ),
            Some("shorten the registry's namespace path or the repository".to_owned()),
        );
    }
    Ok(repository)
}

/// Which list of tag templates a list check is about, to word its messages.
struct TagList<'a> {
    /// The full key of the list, for example `release.tags`.
    key: &'a str,
    /// The list used when the key is left out.
    default: &'a [&'a str],
    /// Whether the list may be empty.
    may_be_empty: bool,
}

/// Tag templates, each listed once, in the file's order.
fn resolve_tag_templates(
    origin: Origin<'_>,
    list: &raw::SpannedStrings,
    tag_list: &TagList<'_>,
    project: &str,
) -> Result<Vec<String>, ConfigError> {
    let TagList {
        key: list_key,
        default,
        may_be_empty,
    } = tag_list;
    if list.get_ref().is_empty() && !may_be_empty {
        return fail(
            origin,
            list.span(),
            list_key,
            format!("`{list_key}` is empty"),
            Some(format!(
                "list at least one tag template, for example {default:?}, or leave the key out \
                 for that default"
            )),
        );
    }
    let mut resolved: Vec<String> = Vec::with_capacity(list.get_ref().len());
    for (index, template) in list.get_ref().iter().enumerate() {
        let key = format!("{list_key}[{index}]");
        check_tag_template(origin, template, &key, project)?;
        let text = template.get_ref();
        if let Some(first) = resolved.iter().position(|earlier| earlier == text) {
            return fail(
                origin,
                template.span(),
                &key,
                format!("`{key}` = {text:?}: already listed as `{list_key}[{first}]`"),
                Some("list each tag once".to_owned()),
            );
        }
        resolved.push(text.clone());
    }
    Ok(resolved)
}

/// Fails unless `template` holds only known placeholders and tag characters, and renders a valid
/// Docker tag with a sample version and git sha.
fn check_tag_template(
    origin: Origin<'_>,
    template: &Spanned<String>,
    key: &str,
    project: &str,
) -> Result<(), ConfigError> {
    let text = template.get_ref();
    let invalid =
        |message: String, hint: String| fail(origin, template.span(), key, message, Some(hint));
    let placeholders = render_backticked_list(&PLACEHOLDERS);
    if text.is_empty() {
        return invalid(
            format!("`{key}` is empty"),
            "write a tag such as \"latest\" or \"v{version}\"".to_owned(),
        );
    }
    let pieces = match split_tag_template(text) {
        Ok(pieces) => pieces,
        Err(reason) => {
            return invalid(
                format!("`{key}` = {text:?}: {reason}"),
                format!("braces only surround a placeholder: {placeholders}"),
            );
        }
    };
    for piece in pieces {
        match piece {
            TemplatePiece::Placeholder(placeholder) if !PLACEHOLDERS.contains(&placeholder) => {
                let hint = match closest_candidate(placeholder, PLACEHOLDERS) {
                    Some(suggestion) => {
                        format!("did you mean `{suggestion}`? the placeholders are {placeholders}")
                    }
                    None => format!("the placeholders are {placeholders}"),
                };
                return invalid(
                    format!("`{key}` = {text:?}: unknown placeholder `{placeholder}`"),
                    hint,
                );
            }
            TemplatePiece::Placeholder(_) => {}
            TemplatePiece::Literal(literal) => {
                if let Some(character) = literal
                    .chars()
                    .find(|character| !is_tag_character(*character))
                {
                    return invalid(
                        format!("`{key}` = {text:?}: {character:?} is not allowed in a tag"),
                        format!(
                            "around the placeholders ({placeholders}) a tag uses letters, digits, \
                             `_`, `.` and `-`"
                        ),
                    );
                }
            }
        }
    }
    let rendered = render_tag_template(
        text,
        &TagValues {
            version: SAMPLE_TAG_VERSION,
            git_sha: SAMPLE_TAG_GIT_SHA,
            project,
        },
    );
    if rendered.len() > MAXIMUM_TAG_LENGTH {
        return invalid(
            format!(
                "`{key}` = {text:?}: renders to {} characters, more than {MAXIMUM_TAG_LENGTH}",
                rendered.len()
            ),
            format!(
                "that is with version \"{SAMPLE_TAG_VERSION}\" and git sha \
                 \"{SAMPLE_TAG_GIT_SHA}\"; shorten the text around the placeholders"
            ),
        );
    }
    if !is_valid_tag(&rendered) {
        let trimmed = text.trim_start_matches(['.', '-']);
        let hint = if trimmed.is_empty() {
            "start it with a letter, a digit, `_` or a placeholder".to_owned()
        } else {
            format!("write {trimmed:?}")
        };
        return invalid(
            format!("`{key}` = {text:?}: a tag must not start with `.` or `-`"),
            hint,
        );
    }
    Ok(())
}

/// Fails when a moving tag is also a tag: the one would move what the other promises to keep.
fn check_tags_do_not_move(
    origin: Origin<'_>,
    written: &raw::Release,
    tags: &[String],
    moving_tags: &[String],
) -> Result<(), ConfigError> {
    let hint = "a tag in `tags` stays on the release it was pushed for, a moving tag follows the \
                newest release; keep it in one of the two lists";
    for (moving_index, moving_tag) in moving_tags.iter().enumerate() {
        let Some(index) = tags.iter().position(|tag| tag == moving_tag) else {
            continue;
        };
        // Placed at whichever of the two was written: both defaults never overlap.
        if let Some(written_moving) = &written.moving_tags {
            let key = format!("release.moving_tags[{moving_index}]");
            let also = match &written.tags {
                Some(_) => format!("also listed as `release.tags[{index}]`"),
                None => {
                    format!("also in `release.tags`, which defaults to {DEFAULT_RELEASE_TAGS:?}")
                }
            };
            return fail(
                origin,
                written_moving.get_ref()[moving_index].span(),
                &key,
                format!("`{key}` = {moving_tag:?}: {also}"),
                Some(hint.to_owned()),
            );
        }
        if let Some(written_tags) = &written.tags {
            let key = format!("release.tags[{index}]");
            return fail(
                origin,
                written_tags.get_ref()[index].span(),
                &key,
                format!(
                    "`{key}` = {moving_tag:?}: also in `release.moving_tags`, which defaults to \
                     {DEFAULT_MOVING_TAGS:?}"
                ),
                Some(format!("{hint}, or write `moving_tags = []`")),
            );
        }
    }
    Ok(())
}

/// The name of an environment variable holding a registry credential; never shows the value,
/// which may be the credential itself.
fn resolve_credential_variable(
    origin: Origin<'_>,
    written: Option<&Spanned<String>>,
    key: &str,
    default: &str,
) -> Result<String, ConfigError> {
    let Some(variable) = written else {
        return Ok(default.to_owned());
    };
    let text = variable.get_ref();
    if is_uppercase_environment_variable_name(text) {
        return Ok(text.clone());
    }
    let message = if looks_like_credential(text) {
        format!(
            "`{key}` looks like a credential, not the name of an environment variable; if it is \
             a real one, revoke it"
        )
    } else {
        format!(
            "`{key}` is not an environment variable name: use uppercase letters, digits and `_`, \
             not starting with a digit"
        )
    };
    fail(
        origin,
        variable.span(),
        key,
        message,
        Some(HINT_CREDENTIAL_NAMES.to_owned()),
    )
}
