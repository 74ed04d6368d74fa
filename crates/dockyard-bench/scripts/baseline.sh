#!/usr/bin/env bash
# The hand-scripted baselines `cargo xtask bench` measures Dockyard against (issue #6): the same work done
# with tar, gzip, curl and the docker CLI, the way a person would script it. Dockyard itself never runs the
# docker CLI; this script exists only to be timed against it. Builds use the classic builder
# (DOCKER_BUILDKIT=0), as Dockyard's Engine API builds do. Everything it creates carries
# dev.dockyard.project=<prefix> and is removed by it or by the harness.
set -euo pipefail
export DOCKER_BUILDKIT=0
command=$1
shift

case "$command" in
tarball) # DIR OUT: figure 1's baseline, verbatim from the issue
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - -C "$1" . | gzip -6 >"$2"
    ;;
build) # CONTEXT_TARBALL TAG: `docker build` of a context Dockyard rendered (figure 3)
    docker build -q -t "$2" - <"$1" >/dev/null
    ;;
build-dir) # FOLDER TAG: `docker build` of a folder holding a Dockerfile
    docker build -q -t "$2" "$1" >/dev/null
    ;;
peer-prepare) # PEERS_DIR APP_DIR CA FOLDER: figure 7's peer folder: the sample app, nginx.conf, the CA
    rm -rf "$4" && mkdir -p "$4/docker"
    cp -a "$2" "$4/app"
    cp "$1/docker/nginx.conf" "$4/docker/nginx.conf"
    cp "$3" "$4/docker/build-ca.pem"
    ;;
peer-nonce) # DOCKERFILE NONCE FOLDER: the peer's Dockerfile with NONCE (a new one makes every stage cold)
    sed "s/__NONCE__/$2/g" "$1" >"$3/Dockerfile"
    ;;
peer-build) # FOLDER BUILDKIT(0|1) CA TAG_PREFIX TARGET...: figure 7's peers, each target in turn, with Debian's
    # docker.io CLI, which drives the engine's built-in BuildKit (the CA as a build secret) or the classic builder
    folder=$1 buildkit=$2 ca=$3 prefix=$4
    shift 4
    for target in "$@"; do
        secret=()
        if [ "$buildkit" = 1 ]; then secret=(--secret "id=pipca,src=$ca"); fi
        DOCKER_BUILDKIT=$buildkit /usr/bin/docker build -q "${secret[@]}" --target "$target" -t "$prefix:$target" "$folder" >/dev/null
    done
    ;;
peer-floor) # TAG: the app's own tests, then collectstatic, in a warm container of a peer's test stage
    docker run --rm "$1" sh -c 'python manage.py test --noinput -v 0 && DJANGO_SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --noinput -v 0' >/dev/null 2>&1
    ;;
layers) # TAG: the image's layer diff ids as JSON, `[]` when there is no such image
    docker image inspect -f '{{json .RootFS.Layers}}' "$1" 2>/dev/null || echo '[]'
    ;;
save) # TAG OUT: a docker save archive, to measure what a push sends
    docker save -o "$2" "$1"
    ;;
remove-images) # TAG...: only tags the harness made for its own bench project
    for tag in "$@"; do docker image rm -f "$tag" >/dev/null 2>&1 || true; done
    ;;
remove-volumes) # VOLUME...
    for volume in "$@"; do docker volume rm -f "$volume" >/dev/null 2>&1 || true; done
    ;;
naive-image) # APP_DIR CA_BUNDLE BASE_IMAGE TAG WORK: figure 5's naive single-stage image
    context=$5/naive-context
    rm -rf "$context" && mkdir -p "$context"
    cp -a "$1" "$context/app"
    rm -rf "$context/app/staticfiles" && find "$context/app" \( -name __pycache__ -o -name '*.sqlite3' \) -prune -exec rm -rf {} +
    cp "$2" "$context/ca.pem"
    cat >"$context/Dockerfile" <<DOCKERFILE
FROM $3
ENV PIP_CERT=/ca.pem PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
COPY ca.pem /ca.pem
COPY app /app
WORKDIR /app
RUN python3 -m venv /venv && /venv/bin/pip install --no-cache-dir -r requirements.txt
CMD ["/venv/bin/gunicorn", "sample.wsgi:application"]
DOCKERFILE
    docker build -q --label "dev.dockyard.project=$4" -t "$4" "$context" >/dev/null
    ;;
cold-pipeline) # PREFIX INPUTS WORK: figure 4's baseline, build + nginx + smoke by hand
    prefix=$1 inputs=$2 work=$3 run="baseline-$$"
    rm -rf "$work" && mkdir -p "$work/out" "$work/nginx"
    label="dev.dockyard.project=$prefix"
    cleanup() {
        docker rm -f "$prefix-builder-$run" "$prefix-migrate-$run" "$prefix-app-$run" "$prefix-nginx-$run" >/dev/null 2>&1 || true
        docker network rm "$prefix-net-$run" >/dev/null 2>&1 || true
        docker volume rm -f "$prefix-data-$run" >/dev/null 2>&1 || true
    }
    trap cleanup EXIT
    app_env=(-e DJANGO_ALLOWED_HOSTS=localhost,127.0.0.1 -e DATABASE_URL=sqlite:////data/dockyard-sample.sqlite3
        -e DJANGO_SECURE_SSL_REDIRECT=false -e DJANGO_SECRET_KEY=baseline-throwaway-key)
    # Builder image, builder container (wheels, tests, collectstatic), export of /out.
    docker build -q --label "$label" -t "$prefix-builder:latest" - <"$inputs/builder-context.tar.gz" >/dev/null
    docker volume create --label "$label" "$prefix-pip-cache" >/dev/null
    docker create --name "$prefix-builder-$run" --label "$label" -v "$prefix-pip-cache:/cache/pip" \
        --env-file "$inputs/builder.env" -e DOCKYARD_REQUIRE_HASHES=0 \
        -e DOCKYARD_REQUIREMENTS=app/requirements.txt -e DOCKYARD_TEST_REQUIREMENTS= -e DOCKYARD_STATIC_ROOT=staticfiles \
        -e DJANGO_SETTINGS_MODULE=sample.settings -e SOURCE_DATE_EPOCH=0 "${app_env[@]}" \
        -e PIP_CERT=/etc/dockyard/ca.pem -e SSL_CERT_FILE=/etc/dockyard/ca.pem -e REQUESTS_CA_BUNDLE=/etc/dockyard/ca.pem \
        "$prefix-builder:latest" python manage.py test --noinput -v 2 >/dev/null
    docker cp - "$prefix-builder-$run:/src" <"$inputs/source.tar.gz"
    docker cp "$inputs/kit/." "$prefix-builder-$run:/kit"
    docker cp "$inputs/deps/." "$prefix-builder-$run:/deps"
    docker cp "$inputs/ca.pem" "$prefix-builder-$run:/etc/dockyard/ca.pem"
    docker start -a "$prefix-builder-$run" >"$work/builder.log" 2>&1 || { tail -n 30 "$work/builder.log" >&2; exit 1; }
    docker cp "$prefix-builder-$run:/out/." - | tar -xf - -C "$work/out"
    docker rm -f "$prefix-builder-$run" >/dev/null
    # Production image from /out, nginx image from its static files, one after the other.
    docker build -q --label "$label" -t "$prefix:latest" "$work/out" >/dev/null
    cp -a "$work/out/staticfiles" "$work/nginx/static"
    cp "$inputs/nginx/Dockerfile" "$inputs/nginx/nginx.conf" "$work/nginx/"
    docker build -q --label "$label" -t "$prefix-nginx:latest" "$work/nginx" >/dev/null
    # Smoke: private network, migrations, app and nginx, health through nginx and the engine, a page, a stop.
    docker network create --label "$label" "$prefix-net-$run" >/dev/null
    docker volume create --label "$label" "$prefix-data-$run" >/dev/null
    docker run --rm --name "$prefix-migrate-$run" --label "$label" --network "$prefix-net-$run" \
        -v "$prefix-data-$run:/data" --read-only --tmpfs /tmp "${app_env[@]}" \
        "$prefix:latest" /opt/venv/bin/python manage.py migrate --noinput >/dev/null
    docker run -d --name "$prefix-app-$run" --label "$label" --network "$prefix-net-$run" --network-alias app \
        -v "$prefix-data-$run:/data" --read-only --tmpfs /tmp "${app_env[@]}" -p 127.0.0.1::8000 \
        --health-interval 500ms "$prefix:latest" >/dev/null
    docker run -d --name "$prefix-nginx-$run" --label "$label" --network "$prefix-net-$run" --network-alias nginx \
        --read-only --tmpfs /tmp -p 127.0.0.1::8080 "$prefix-nginx:latest" >/dev/null
    port=$(docker port "$prefix-nginx-$run" 8080/tcp | head -n 1 | sed 's/.*://')
    for _ in $(seq 1 900); do
        curl -fsS "http://127.0.0.1:$port/health/" >/dev/null 2>&1 && break
        sleep 0.1
    done
    for _ in $(seq 1 900); do
        [ "$(docker inspect -f '{{.State.Health.Status}}' "$prefix-app-$run")" = healthy ] && break
        sleep 0.1
    done
    curl -fsS "http://127.0.0.1:$port/" | grep -q "Welcome to Dockyard"
    docker stop -t 10 "$prefix-nginx-$run" "$prefix-app-$run" >/dev/null
    ;;
dev-serve) # PROJECT APP_DIR IMAGE ENV_FILE DEPS_DIR: figure 9's baseline, the compose-style dev container: the app
    # folder bind-mounted into the builder image with the dev session's dependencies and data volumes, runserver with
    # Django's own autoreloader; prints where it listens (host:port)
    project=$1 app=$2 image=$3 env_file=$4 deps_dir=$5
    deps=$(docker volume ls -q --filter "label=dev.dockyard.project=$project" \
        --filter label=dev.dockyard.cache=dependencies | head -n 1)
    docker rm -f "$project-baseline" >/dev/null 2>&1 || true
    docker run -d --name "$project-baseline" --label "dev.dockyard.project=$project" --entrypoint "" \
        -v "$app:/src" -v "$deps:$deps_dir" -v "$project-dev-data:/data" -w /src --env-file "$env_file" \
        -p 127.0.0.1::8000 "$image" python manage.py runserver 0.0.0.0:8000 >/dev/null
    docker port "$project-baseline" 8000/tcp | head -n 1
    ;;
dev-stop) # PROJECT: removes figure 9's baseline container
    docker rm -f "$1-baseline" >/dev/null
    ;;
*)
    echo "baseline.sh: unknown command $command" >&2
    exit 2
    ;;
esac
