#!/usr/bin/env bash
# The whole test run, from a clean clone: install, type-check, lint, then the
# unit/HTTP tests and the real-browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
npm run build
npm run typecheck
npm run lint
npm run test:unit
# The soak's short version: 60 s of mixed traffic on 127.0.0.1; fails on any 5xx, unhandled rejection or RSS growth.
npm run soak -- --duration 60s
npm run test:browser
