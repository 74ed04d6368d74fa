# The builder image: the toolchain that turns the app source into wheels, test results and static files.
# Rendered by Dockyard: {{ name }} placeholders come from deploy.toml. Built from docker/builder/ plus this file.
FROM {{ base_image }}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PIP_CACHE_DIR=/cache/pip \
    VIRTUAL_ENV=/opt/builder-venv \
    PATH=/opt/builder-venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# /src receives the source, /kit the production Dockerfile, /out is what Dockyard exports.
RUN python3 -m venv /opt/builder-venv \
 && mkdir -p /src /kit /out /cache/pip /etc/dockyard

COPY dockyard-build /usr/local/bin/dockyard-build
RUN chmod 0755 /usr/local/bin/dockyard-build

WORKDIR /src
ENTRYPOINT ["/usr/local/bin/dockyard-build"]
