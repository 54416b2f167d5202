#!/usr/bin/env bash
# Set one field on every CRM record that matches, from the command line.
# The original scripts/update_domain_value/run_main_cli.sh, same flags:
#
#   scripts/update_domain_value/run_main_cli.sh \
#       --domain deals --key deal_id --value 203 \
#       --key-to-update deal_size --update-value 24456 [--dry-run] [--yes]
#
# It runs `python -m extract update-value`; see its --help.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
exec "$CRM_PY" -m extract update-value "$@"
