#!/usr/bin/env bash
# Builds the Dockerfile and checks that the image serves, with the workplace's
# container-check (buildah against a local stand-in for node:<major>-bookworm-slim).
#
# better-sqlite3 is a native module: in a networked Docker build it downloads a
# prebuilt binary or builds against the official image's headers. Offline, the
# build needs Node's headers: when this machine's npm knows where they are
# (npm config nodedir), they are staged into the build context as .node-headers/
# for the duration of the build and removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

check=${CONTAINER_CHECK:-../shared/tools/container-check.sh}
[ -f "$check" ] || { echo "container-check: $check not found (set CONTAINER_CHECK)" >&2; exit 2; }

staged=""
cleanup() { if [ -n "$staged" ]; then rm -rf .node-headers; fi; }
trap cleanup EXIT
nodedir=$(npm config get nodedir 2>/dev/null || true)
if [ ! -e .node-headers ] && [ -n "$nodedir" ] && [ -f "$nodedir/include/node/node.h" ]; then
  mkdir -p .node-headers/include
  cp -a "$nodedir/include/node" .node-headers/include/
  staged=1
fi
bash "$check" "$@"
