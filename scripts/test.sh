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
npm run test:browser
