# crm_management: the extractor, the dbt project and the tools in one image.
#
#   ./build_docker_image.sh                      # docker or podman, tag crm-management
#   docker run --rm --env-file .env -v "$PWD/data:/data" -e DUCKDB_PATH=/data/crm.duckdb \
#       crm-management run                       # python -m extract run
#   docker run --rm --env-file .env -v "$PWD/data:/data" -e DUCKDB_PATH=/data/crm.duckdb \
#       --entrypoint scripts/extract_crm_data/run_main_cli.sh crm-management /data/out
#
# Secrets (CRM_API_TOKEN, PGPASSWORD, DATABASE_URL) come only from the environment
# at `docker run` (--env-file / -e); .env and .dlt/secrets.toml are never copied in.
# The base is an argument so the build also works from a local image offline.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    RUNTIME__DLTHUB_TELEMETRY=false \
    DO_NOT_TRACK=1 \
    PATH=/opt/venv/bin:$PATH \
    DUCKDB_PATH=/data/crm.duckdb \
    AUDIT_LOG=/data/logs/audit.jsonl \
    CRM_PROJECT_DIR=/app

WORKDIR /app

# Dependencies first, so a code change does not reinstall them: every package at
# the version and hash of requirements.lock (`make lock`). A venv keeps pip away
# from the system Python (PEP 668 on Debian-based images).
COPY requirements.lock ./
RUN python3 -m venv /opt/venv && pip install --require-hashes -r requirements.lock

# The project: Python package, dbt project, scripts, docs. See .dockerignore.
# The package is installed too (the `crm` command); CRM_PROJECT_DIR=/app is its
# project folder (.dlt/, dbt_project.yml) from any working directory.
COPY . .
RUN pip install --no-deps --no-build-isolation --no-index . \
    && rm -rf build crm_management.egg-info
# Runs as an unprivileged user; it writes only /data, dbt's target/ and logs/,
# dlt's working folder and its own ~/.dbt (profiles.yml reads env vars only).
RUN useradd --create-home --uid 10001 --user-group crm \
    && mkdir -p /data /app/target /app/logs /app/.dlt/pipelines /home/crm/.dbt \
    && cp profiles.example.yml /home/crm/.dbt/profiles.yml \
    && chown -R crm:crm /data /app/target /app/logs /app/.dlt/pipelines /home/crm/.dbt

USER crm
VOLUME ["/data"]
ENTRYPOINT ["python3", "-m", "extract"]
CMD ["--help"]
