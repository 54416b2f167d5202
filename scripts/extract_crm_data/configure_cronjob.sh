#!/usr/bin/env bash
# Install (or remove) the one crontab entry that runs the extraction on a schedule.
#
#   scripts/extract_crm_data/configure_cronjob.sh [--schedule "0 6 * * *"] [--log FILE] <OUTPUT PATH>
#   scripts/extract_crm_data/configure_cronjob.sh --remove
#
# The entry runs scripts/extract_crm_data/run_main_cli.sh <OUTPUT PATH> from the
# repo root under umask 077 (the log, the lock and what the run writes are the
# owner's only), appends its output to a log file (default logs/extract_crm_data.log)
# and holds a lock (flock) so a run that is still going makes the next one skip
# instead of overlapping. Running this again replaces the entry (never two);
# other crontab lines are kept. CRONTAB overrides the crontab command
# (e.g. CRONTAB="crontab -u crm").
set -euo pipefail

MARKER="# crm_management:extract_crm_data"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SCHEDULE="0 6 * * *"
LOG="$ROOT/logs/extract_crm_data.log"
LOCK="$ROOT/logs/extract_crm_data.lock"
REMOVE=0
OUT=""

usage() {
    echo "usage: $0 [--schedule \"MIN HOUR DOM MON DOW\"] [--log FILE] <OUTPUT PATH> | --remove" >&2
    exit 2
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --schedule) [[ $# -ge 2 ]] || usage; SCHEDULE="$2"; shift 2 ;;
        --log) [[ $# -ge 2 ]] || usage; LOG="$(realpath -m -- "$2")"; shift 2 ;;
        --remove) REMOVE=1; shift ;;
        -h|--help) usage ;;
        -*) echo "unknown option $1" >&2; usage ;;
        *) [[ -z "$OUT" ]] || usage; OUT="$(realpath -m -- "$1")"; shift ;;
    esac
done

read -r -a CRONTAB_CMD <<< "${CRONTAB:-crontab}"
if ! command -v "${CRONTAB_CMD[0]}" >/dev/null 2>&1; then
    echo "${CRONTAB_CMD[0]} not found; install cron (apt-get install cron) or set CRONTAB" >&2
    exit 2
fi

current_without_entry() {
    # `crontab -l` fails when there is no crontab yet: that is an empty one.
    { "${CRONTAB_CMD[@]}" -l 2>/dev/null || true; } | grep -vF -- "$MARKER" || true
}

if [[ $REMOVE -eq 1 ]]; then
    [[ -z "$OUT" ]] || usage
    REST="$(current_without_entry)"
    if [[ -z "${REST//[[:space:]]/}" ]]; then
        "${CRONTAB_CMD[@]}" -r 2>/dev/null || true
    else
        printf '%s\n' "$REST" | "${CRONTAB_CMD[@]}" -
    fi
    echo "removed the extract_crm_data entry (if there was one)"
    exit 0
fi

[[ -n "$OUT" ]] || usage
case "$SCHEDULE" in
    @hourly|@daily|@midnight|@weekly|@monthly|@yearly|@annually|@reboot) ;;
    *)
        read -r -a FIELDS <<< "$SCHEDULE"
        if [[ ${#FIELDS[@]} -ne 5 || "$SCHEDULE" == *%* ]]; then
            echo "--schedule needs 5 cron fields such as \"0 6 * * *\", got \"$SCHEDULE\"" >&2
            exit 2
        fi ;;
esac
for path in "$OUT" "$LOG" "$ROOT"; do
    if [[ "$path" == *[\'%]* ]]; then
        echo "paths with ' or % cannot go in a crontab line: $path" >&2
        exit 2
    fi
done
mkdir -p "$(dirname "$LOG")" "$(dirname "$LOCK")"

RUN="'$ROOT/scripts/extract_crm_data/run_main_cli.sh' '$OUT'"
SKIP="echo \"\$(date -u) skipped: the previous run still holds $LOCK\""
LINE="$SCHEDULE cd '$ROOT' && umask 077 && { flock -n -E 75 '$LOCK' $RUN; [ \$? -ne 75 ] || $SKIP; } >> '$LOG' 2>&1 $MARKER"

# Read the table completely before writing it back (never both at once).
REST="$(current_without_entry)"
if [[ -n "${REST//[[:space:]]/}" ]]; then
    printf '%s\n%s\n' "$REST" "$LINE" | "${CRONTAB_CMD[@]}" -
else
    printf '%s\n' "$LINE" | "${CRONTAB_CMD[@]}" -
fi
echo "installed: $LINE"
