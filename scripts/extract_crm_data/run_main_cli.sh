#!/usr/bin/env bash
# Extract the CRM into raw, build the marts with dbt, export them to <OUTPUT PATH>.
# The original scripts/extract_crm_data/run_main_cli.sh, on the new pipeline.
#
#   scripts/extract_crm_data/run_main_cli.sh <OUTPUT PATH>
#
# Settings come from the environment or .env (CRM_BASE_URL, CRM_API_TOKEN,
# DBT_TARGET, DUCKDB_PATH, PG*); EXPORT_FORMATS (default json,csv) picks the
# file formats, DLT_PIPELINES_DIR dlt's working folder. Exits non-zero at the
# first failing step. What it writes (the DuckDB file, dbt's target/ and logs/,
# the exports) is its owner's only: files 0600, folders 0700.
set -euo pipefail
umask 077

if [[ $# -ne 1 || "$1" == -* ]]; then
    echo "usage: $0 <OUTPUT PATH>" >&2
    exit 2
fi
OUT="$(realpath -m -- "$1")"
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$CRM_ROOT"
if [[ -z "$CRM_DBT" ]]; then
    echo "dbt is not installed; run \`make setup\`" >&2
    exit 2
fi

if [[ ! -f profiles.yml && -z "${DBT_PROFILES_DIR:-}" ]]; then
    # No profiles.yml yet (fresh clone, container): use the example, which reads env only.
    DBT_PROFILES_DIR="$(mktemp -d)"
    export DBT_PROFILES_DIR
    trap 'rm -rf -- "$DBT_PROFILES_DIR"' EXIT
    cp profiles.example.yml "$DBT_PROFILES_DIR/profiles.yml"
fi

stamp() { date -u +"%Y-%m-%dT%H:%M:%SZ"; }
echo "$(stamp) extract_crm_data: start (output $OUT)"
"$CRM_PY" -m extract run ${DLT_PIPELINES_DIR:+--pipelines-dir "$DLT_PIPELINES_DIR"}
"$CRM_DBT" build --target "${DBT_TARGET:-duckdb}" --quiet
"$CRM_PY" -m extract export --out "$OUT" --format "${EXPORT_FORMATS:-json,csv}"
echo "$(stamp) extract_crm_data: done"
