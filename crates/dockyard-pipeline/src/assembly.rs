//! What the assembled production and nginx images hold, pure: their runtime configuration, the script that installs
//! the wheels into the virtualenv, and their layers from the exported context. The built-in Dockerfile templates
//! (`docker/production.Dockerfile`, `docker/nginx.Dockerfile`) describe the same images for `docker build - <
//! context.tar.gz`; an engine test holds the two to the same configuration and files.
//!
//! Layers of the production image: the base's, then the dependencies (`/opt/venv`, the app user in `/etc/passwd` and
//! `/etc/group`, `/data`), keyed on the wheels and the base so a source edit never touches them, then the app (the app
//! folder, the static manifest, `[assets]` outputs outside it). The nginx image: the base's, then its config, the
//! static files and its user.

use std::collections::BTreeMap;
use std::path::Path;

use dockyard_config::container_paths::APP_DIR;
use dockyard_config::DeployConfig;
use dockyard_image::{with_env, Healthcheck, LayerBuilder, Owner, RuntimeConfig};

use crate::PipelineError;

/// Where the production image's virtualenv lives.
pub const VENV_DIR: &str = "/opt/venv";
/// Where the venv step receives the wheels.
pub const WHEELS_DIR: &str = "/wheels";
/// The one folder the app user may write (a volume in smoke runs, for sqlite).
pub const DATA_DIR: &str = "/data";
pub use dockyard_config::container_paths::NGINX_STATIC_DIR;

const SECOND: u64 = 1_000_000_000;

/// How an image whose template is `template` is made: assembled by Dockyard from the built-in template's description,
/// or built by the engine from the project's own Dockerfile.
pub fn made_by(template: &dockyard_config::Template) -> &'static str {
    match template {
        dockyard_config::Template::BuiltIn(..) => "assembled",
        dockyard_config::Template::File(_) => "docker build",
    }
}

/// Finds the pip wheel the base's `ensurepip` would install (CPython's bundled one, or Debian's python3-pip-whl),
/// so pip runs from it without ever being installed in the virtualenv.
const FIND_PIP_WHEEL: &str = "python3 -c 'import ensurepip, glob, os, sys; \
found = sorted(glob.glob(os.path.dirname(ensurepip.__file__) + \"/_bundled/pip-*.whl\") + glob.glob(\"/usr/share/python-wheels/pip-*.whl\")); \
sys.exit(\"the base has no pip wheel for ensurepip (Debian: python3-venv)\") if not found else print(found[-1])'";

/// The shell script run as root in a container of the production base: a virtualenv without pip or setuptools
/// (only the locked set), the wheels installed by pip run from the base's own pip wheel without an index, everything
/// compiled once on every core (unchecked-hash pycs, the same bytes every time), and the app user.
pub fn venv_script(user: u32) -> String {
    format!(
        "set -eu\n\
         pip_wheel=\"$({FIND_PIP_WHEEL})\"\n\
         python3 -m venv --without-pip {VENV_DIR}\n\
         {VENV_DIR}/bin/python \"$pip_wheel/pip\" install --no-index --no-deps --no-cache-dir --no-compile --disable-pip-version-check {WHEELS_DIR}/*.whl\n\
         {VENV_DIR}/bin/python -m compileall -j 0 -f -qq --invalidation-mode unchecked-hash {VENV_DIR}/lib \
         || echo 'compileall: some files are not valid Python; they stay uncompiled'\n\
         echo 'app:x:{user}:{user}:app:/nonexistent:/usr/sbin/nologin' >> /etc/passwd\n\
         echo 'app:x:{user}:' >> /etc/group\n"
    )
}

/// The dependencies layer: the virtualenv as the venv step left it (`venv_root` holds `venv/`), the passwd and group
/// files it wrote, and `/data` owned by the app user.
pub fn dependencies_layer(
    venv_root: &Path,
    passwd: Vec<u8>,
    group: Vec<u8>,
    user: u32,
    mtime: u64,
) -> Result<LayerBuilder, PipelineError> {
    let mut layer = LayerBuilder::new(mtime);
    layer.file("etc/passwd", passwd, 0o644)?;
    layer.file("etc/group", group, 0o644)?;
    layer.directory(DATA_DIR, 0o755, Owner::Id(user))?;
    layer.tree(VENV_DIR, &venv_root.join("venv"))?;
    Ok(layer)
}

/// The app layer from the unpacked exported context: `app/` at the app folder, `staticfiles/staticfiles.json` where
/// STATIC_ROOT puts it, and each `[assets]` output outside the app folder from `rootfs/` at its container path.
pub fn app_layer(
    context: &Path,
    config: &DeployConfig,
    mtime: u64,
) -> Result<LayerBuilder, PipelineError> {
    let mut layer = LayerBuilder::new(mtime);
    layer.tree(APP_DIR, &context.join("app"))?;
    let manifest = context.join("staticfiles").join("staticfiles.json");
    if manifest.is_file() {
        let inside = format!(
            "{}/staticfiles.json",
            config.app.static_root.in_container(APP_DIR)
        );
        layer.host_file(&inside, &manifest)?;
    }
    for output in config
        .assets
        .iter()
        .flat_map(|assets| assets.outputs_outside())
    {
        let inside = output.to_string_lossy().replace('\\', "/");
        let host = context.join("rootfs").join(inside.trim_start_matches('/'));
        layer.tree(&inside, &host)?;
    }
    Ok(layer)
}

/// The production image's runtime configuration on top of its base's environment.
pub fn production_runtime(
    config: &DeployConfig,
    base_env: &[String],
    labels: BTreeMap<String, String>,
) -> RuntimeConfig {
    let app = &config.app;
    let scheme = if config.smoke.https { "https" } else { "http" };
    let probe = format!(
        "import sys, urllib.request as u; r = u.Request('http://127.0.0.1:{port}{path}', headers={{'Host': '{host}', \
         'X-Forwarded-Proto': '{scheme}'}}); sys.exit(0 if u.urlopen(r, timeout=4).status == 200 else 1)",
        port = app.port,
        path = app.health_path,
        host = config.smoke.host,
    );
    RuntimeConfig {
        user: format!("{0}:{0}", config.production.user),
        exposed_ports: vec![format!("{}/tcp", app.port)],
        env: with_env(
            base_env,
            &[
                ("PYTHONUNBUFFERED", "1".to_owned()),
                ("PYTHONDONTWRITEBYTECODE", "1".to_owned()),
                (
                    "PATH",
                    format!("{VENV_DIR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
                ),
                ("DJANGO_SETTINGS_MODULE", app.settings_module.clone()),
                ("PORT", app.port.to_string()),
            ],
        ),
        cmd: vec![format!("{VENV_DIR}/bin/gunicorn"), app.wsgi.clone()],
        healthcheck: Some(Healthcheck {
            test: vec![
                "CMD".to_owned(),
                format!("{VENV_DIR}/bin/python"),
                "-c".to_owned(),
                probe,
            ],
            interval: 10 * SECOND,
            timeout: 5 * SECOND,
            start_period: 30 * SECOND,
            retries: 3,
        }),
        working_dir: APP_DIR.to_owned(),
        labels,
        stop_signal: "SIGTERM".to_owned(),
    }
}

/// The nginx layer: its config replacing Debian's, the default site and enabled modules hidden, the numeric user
/// appended to the base's passwd and group files, and the static files.
pub fn nginx_layer(
    nginx_conf: &[u8],
    base_passwd: &[u8],
    base_group: &[u8],
    user: u32,
    static_files: &Path,
    mtime: u64,
) -> Result<LayerBuilder, PipelineError> {
    let appended = |base: &[u8], line: String| {
        let mut bytes = base.to_vec();
        if !bytes.is_empty() && !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(line.as_bytes());
        bytes
    };
    let mut layer = LayerBuilder::new(mtime);
    layer.file(
        "etc/passwd",
        appended(
            base_passwd,
            format!("nginx:x:{user}:{user}:nginx:/nonexistent:/usr/sbin/nologin\n"),
        ),
        0o644,
    )?;
    layer.file(
        "etc/group",
        appended(base_group, format!("nginx:x:{user}:\n")),
        0o644,
    )?;
    layer.opaque("etc/nginx/sites-enabled")?;
    layer.opaque("etc/nginx/modules-enabled")?;
    layer.file("etc/nginx/nginx.conf", nginx_conf.to_vec(), 0o644)?;
    layer.tree(NGINX_STATIC_DIR, static_files)?;
    Ok(layer)
}

/// The nginx image's runtime configuration on top of its base's environment.
pub fn nginx_runtime(
    port: u16,
    user: u32,
    base_env: &[String],
    labels: BTreeMap<String, String>,
) -> RuntimeConfig {
    let probe = format!(
        "exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET /nginx-health HTTP/1.0\\r\\n\\r\\n' >&3 && IFS= read -r -t 4 \
         status <&3 && [[ $status == 'HTTP/1.1 200 '* ]]"
    );
    RuntimeConfig {
        user: format!("{user}:{user}"),
        exposed_ports: vec![format!("{port}/tcp")],
        env: base_env.to_vec(),
        cmd: vec![
            "/usr/sbin/nginx".to_owned(),
            "-g".to_owned(),
            "daemon off;".to_owned(),
        ],
        healthcheck: Some(Healthcheck {
            test: vec![
                "CMD".to_owned(),
                "/bin/bash".to_owned(),
                "-c".to_owned(),
                probe,
            ],
            interval: 10 * SECOND,
            timeout: 5 * SECOND,
            start_period: 5 * SECOND,
            retries: 3,
        }),
        working_dir: String::new(),
        labels,
        stop_signal: "SIGQUIT".to_owned(),
    }
}
