# The builder image: the toolchain that turns the app source into wheels, test results and static files.
# Rendered by Dockyard: {{ name }} placeholders come from deploy.toml. Built from docker/builder/ plus this file.
FROM {{ base_image }}

# No venv here: the builder script makes the venv the tests run in (and the wheels) in the dependencies volume, once
# per locked set, with this base's python3.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PIP_CACHE_DIR={{ builder_pip_cache_dir }}

# The builder protocol's folders: the source, the locked dependencies, the production Dockerfile, what Dockyard
# exports, the pip cache (uv's cache lives in it too), the CA; one step with the script's mode.
COPY dockyard-build /usr/local/bin/dockyard-build
RUN chmod 0755 /usr/local/bin/dockyard-build \
 && mkdir -p {{ builder_source_dir }} {{ builder_deps_dir }} {{ builder_kit_dir }} {{ builder_out_dir }} {{ builder_pip_cache_dir }} {{ builder_ca_dir }}

WORKDIR {{ builder_source_dir }}
ENTRYPOINT ["/usr/local/bin/dockyard-build"]
