# Shared by the scripts: find the repo root and the Python/dbt to run,
# the project's .venv when present (local), else the ones on PATH (container).
# shellcheck shell=bash
CRM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -x "$CRM_ROOT/.venv/bin/python" ]]; then
    CRM_PY="$CRM_ROOT/.venv/bin/python"
    CRM_DBT="$CRM_ROOT/.venv/bin/dbt"
else
    CRM_PY="$(command -v python3 || command -v python)"
    CRM_DBT="$(command -v dbt || true)"
fi
export DBT_SEND_ANONYMOUS_USAGE_STATS="${DBT_SEND_ANONYMOUS_USAGE_STATS:-false}"
export RUNTIME__DLTHUB_TELEMETRY="${RUNTIME__DLTHUB_TELEMETRY:-false}"
export DO_NOT_TRACK="${DO_NOT_TRACK:-1}"
