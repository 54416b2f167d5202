#!/usr/bin/env bash
# Build the crm_management image with docker, or podman when docker is absent.
#
#   ./build_docker_image.sh [TAG]                         # default tag crm-management:latest
#   BASE_IMAGE=localhost/bookworm-python ./build_docker_image.sh   # another base (offline)
#   BUILD_ARGS="--isolation chroot" ./build_docker_image.sh       # extra flags for the builder
#   ENGINE=podman ./build_docker_image.sh                          # force an engine
#
# Nothing secret is passed to the build: settings are given at `docker run --env-file .env`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

TAG="${1:-crm-management:latest}"
BASE_IMAGE="${BASE_IMAGE:-python:3.11-slim}"
# ENGINE=docker|podman picks one; otherwise docker if its daemon answers, else podman.
if [[ -z "${ENGINE:-}" ]]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        ENGINE=docker
    elif command -v podman >/dev/null 2>&1; then
        ENGINE=podman
    else
        echo "no container engine: install docker (and start its daemon) or podman" >&2
        exit 2
    fi
fi
read -r -a EXTRA <<< "${BUILD_ARGS:-}"
"$ENGINE" build "${EXTRA[@]}" --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$TAG" .
echo "built $TAG with $ENGINE (base $BASE_IMAGE)"
echo "run:  $ENGINE run --rm --env-file .env -v \"\$PWD/data:/data\" $TAG run"
