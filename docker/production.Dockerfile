# The production image of {{ project_name }}: built from the exported build context alone
# (`docker build - < target/dockyard/{{ project_name }}-context.tar.gz`). No compilers, no pip, no CA bundle.
# With this built-in template Dockyard assembles the same image itself (layers written, not built: same inputs, same
# image id); a project that names its own copy in deploy.toml ([production] dockerfile) gets the engine's build of it.
# Rendered by Dockyard: {{ name }} placeholders come from deploy.toml.

# Stage 1: install the wheels the builder made into a virtualenv; no index, no network. The same steps as Dockyard's
# assembled image (crates/dockyard-pipeline/src/assembly.rs, venv_script): the virtualenv holds the locked set alone
# (no pip, no setuptools: pip runs from the base's own ensurepip wheel), pip does not compile, compileall compiles
# everything once on every core with hash-checked pycs (the same bytes every time). A package may ship files named
# .py that are not Python (django-tailwind's cookiecutter templates); they stay uncompiled (-qq: no listing of those).
FROM {{ base_image }} AS install
COPY wheels/ /wheels/
RUN pip_wheel="$(python3 -c 'import ensurepip, glob, os, sys; found = sorted(glob.glob(os.path.dirname(ensurepip.__file__) + "/_bundled/pip-*.whl") + glob.glob("/usr/share/python-wheels/pip-*.whl")); sys.exit("the base has no pip wheel for ensurepip (Debian: python3-venv)") if not found else print(found[-1])')" \
 && python3 -m venv --without-pip /opt/venv \
 && /opt/venv/bin/python "$pip_wheel/pip" install --no-index --no-deps --no-cache-dir --no-compile --disable-pip-version-check /wheels/*.whl \
 && { /opt/venv/bin/python -m compileall -j 0 -f -qq --invalidation-mode unchecked-hash /opt/venv/lib \
      || echo "compileall: some files are not valid Python; they stay uncompiled"; }

# Stage 2: the runtime: the same base, the virtualenv, the app source owned by root, a numeric non-root user.
FROM {{ base_image }}
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DJANGO_SETTINGS_MODULE={{ settings_module }} \
    PORT={{ port }}
# /data is the one folder the app user may write (a volume in smoke runs, for sqlite); the code stays root's.
RUN echo "app:x:{{ user }}:{{ user }}:app:/nonexistent:/usr/sbin/nologin" >> /etc/passwd \
 && echo "app:x:{{ user }}:" >> /etc/group \
 && mkdir -p /data \
 && chown {{ user }}:{{ user }} /data
COPY --from=install /opt/venv /opt/venv
COPY app/ {{ app_dir }}/
# The static manifest where STATIC_ROOT puts it (ManifestStaticFilesStorage reads it); the files are nginx's.
COPY staticfiles/staticfiles.json {{ static_manifest }}
# [assets] outputs outside the app folder, at the container paths the settings reach them by (STATICFILES_DIRS).
{{ outside_outputs }}
WORKDIR {{ app_dir }}
USER {{ user }}:{{ user }}
EXPOSE {{ port }}
# The probe asks as smoke does: with `[smoke] host` (a name ALLOWED_HOSTS accepts) and the TLS terminator's
# X-Forwarded-Proto, so an app with SECURE_SSL_REDIRECT answers instead of redirecting.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import sys, urllib.request as u; r = u.Request('http://127.0.0.1:{{ port }}{{ health_path }}', headers={'Host': '{{ health_host }}', 'X-Forwarded-Proto': '{{ health_scheme }}'}); sys.exit(0 if u.urlopen(r, timeout=4).status == 200 else 1)"]
STOPSIGNAL SIGTERM
# gunicorn reads ./gunicorn.conf.py from the working directory when the project has one.
CMD ["/opt/venv/bin/gunicorn", "{{ wsgi }}"]
