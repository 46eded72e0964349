#!/usr/bin/env bash
# Installs everything the toolkit and its tests need on a Debian machine, idempotently:
# PostgreSQL 15 with pg_cron, pgTAP and plpgsql_check from apt, then a virtualenv in .venv
# with the toolkit (editable) and its test dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_PACKAGES=(postgresql-15 postgresql-client-15 postgresql-15-cron postgresql-15-pgtap postgresql-15-plpgsql-check)

missing=()
for pkg in "${PG_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: missing Debian packages: ${missing[*]}" >&2
    echo "bootstrap: install them as root: apt-get install ${missing[*]}" >&2
    exit 2
  fi
  echo "bootstrap: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# compat mode: a plain path entry instead of an import hook, which would add ~15 ms to every
# toolkit start-up.
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' --config-settings editable_mode=compat

# The real Supabase CLI, pinned, for the tests that hold the toolkit to it (interop with the
# Management API stand-in, `db push` parity of the export). npm caches the download; without
# npm those tests are skipped and say why.
SUPABASE_CLI_VERSION=2.117.0
SUPABASE_CLI_DIR=.toolkit/tools/supabase-cli
if command -v npm >/dev/null 2>&1; then
  if [ "$("$SUPABASE_CLI_DIR/node_modules/.bin/supabase" --version 2>/dev/null)" != "$SUPABASE_CLI_VERSION" ]; then
    echo "bootstrap: installing the Supabase CLI $SUPABASE_CLI_VERSION (npm)" >&2
    mkdir -p "$SUPABASE_CLI_DIR"
    npm install --prefix "$SUPABASE_CLI_DIR" --no-audit --no-fund --silent -E "supabase@$SUPABASE_CLI_VERSION" >/dev/null
  fi
else
  echo "bootstrap: npm not found; the tests that need the Supabase CLI will be skipped" >&2
fi
