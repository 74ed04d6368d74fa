# The nginx image: serves the collected static files and proxies everything else to the app.
# Built from a context Dockyard makes and nothing else: this Dockerfile, nginx.conf (rendered from
# docker/nginx/nginx.conf) and static/ (the collected static files with their `.gz` siblings and
# staticfiles.json, taken from the exported build context).
# Rendered by Dockyard: {{ name }} placeholders come from deploy.toml.
# With this built-in template Dockyard assembles the same image itself (crates/dockyard-pipeline/src/assembly.rs); a
# project that names its own copy in deploy.toml ([nginx] dockerfile) gets the engine's build of it.
#
# There is no `RUN nginx -t`: the app's host name in the upstream resolves only on the network the
# app runs on, so Dockyard validates the config there (`nginx -t` in a container on that network).
FROM {{ base_image }}

# Our nginx.conf replaces Debian's wholesale and includes neither sites-enabled nor modules-enabled;
# remove the default site and the enabled dynamic modules anyway, so nothing suggests otherwise.
# minbase has no useradd: the numeric user gets its passwd and group lines by hand.
RUN rm -f /etc/nginx/sites-enabled/* /etc/nginx/modules-enabled/* \
 && echo "nginx:x:{{ nginx_user }}:{{ nginx_user }}:nginx:/nonexistent:/usr/sbin/nologin" >> /etc/passwd \
 && echo "nginx:x:{{ nginx_user }}:" >> /etc/group

COPY nginx.conf /etc/nginx/nginx.conf
# Owned by root, world-readable (the context's modes are normalised to 0644 and 0755).
COPY static/ /srv/static/

USER {{ nginx_user }}:{{ nginx_user }}
EXPOSE {{ nginx_port }}
# No curl or wget in the image: bash's /dev/tcp asks nginx's loopback-only /nginx-health.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/{{ nginx_port }} && printf 'GET /nginx-health HTTP/1.0\\r\\n\\r\\n' >&3 && IFS= read -r -t 4 status <&3 && [[ $status == 'HTTP/1.1 200 '* ]]"]
# SIGQUIT: graceful shutdown (finish the requests in flight, then exit 0).
STOPSIGNAL SIGQUIT
CMD ["/usr/sbin/nginx", "-g", "daemon off;"]
