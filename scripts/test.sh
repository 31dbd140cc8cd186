#!/usr/bin/env bash
# The whole test run, from a clean clone: install, type-check, lint, then the
# unit/HTTP tests, the soaks (one process, and two replicas) and the real-browser tests.
#
# The unit/HTTP tests run twice, side by side: all of them as users run the IdP,
# and the suites that start an IdP once more with the sign-in fast path off
# (MOCK_IDP_FAST_PATH=0), whose answers must be the same. The two runs share
# nothing: every test listens on a free port (redis-server too) and keeps its
# data in a fresh temporary folder. Each run's output is kept apart and printed
# whole when both are done; the last lines count every test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
npm run build
npm run typecheck
npm run lint

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# Runs a command with its output in $logs/<id>.log; writes "<exit code> <seconds>" to $logs/<id>.status.
# Its exit code is the command's: `wait <pid>` of a suite run in the background gives it back.
suite() {
  local id=$1 start=$SECONDS rc=0
  shift
  "$@" >"$logs/$id.log" 2>&1 || rc=$?
  echo "$rc $((SECONDS - start))" >"$logs/$id.status"
  return "$rc"
}

# The second run leaves out two suites: the differential test compares the fast path
# with the app (with the fast path off it has nothing to compare), and test/crash is
# about the store surviving a killed process, not about answers (and takes the longest).
# Not test/replicas: replicas on Redis never take the fast path (it serves SQLite sessions only).
fast_path_off_tests=$(find test/http test/saml test/security test/faults test/library test/cli test/conformance -name '*.test.ts' |
  grep -v '^test/http/fast-path-differential\.test\.ts$' | sort)

echo "unit and HTTP tests: running, and the HTTP tests with MOCK_IDP_FAST_PATH=0 beside them"
suite unit npm run test:unit &
unit_pid=$!
# shellcheck disable=SC2086 # one argument per file
suite fast-path-off env MOCK_IDP_FAST_PATH=0 node --import tsx --test --test-concurrency=1 $fast_path_off_tests &
off_pid=$!
failed=0
wait "$unit_pid" || failed=1
wait "$off_pid" || failed=1

# Prints a run's output between headers, and adds its counts (node's test runner's "# pass", "# fail") to the summary.
summary=()
total_passed=0
total_failed=0
report() {
  local id=$1 title=$2 rc seconds passed failing
  read -r rc seconds <"$logs/$id.status"
  read -r passed failing < <(awk '/^# pass /{p=$3} /^# fail /{f=$3} END{print p+0, f+0}' "$logs/$id.log")
  if [ "${3:-}" != quiet ]; then
    echo
    echo "=============== $title ==============="
    cat "$logs/$id.log"
  fi
  echo "=============== $title: exit $rc, $passed passed, $failing failed, $seconds s ==============="
  summary+=("$title: $passed passed, $failing failed ($seconds s)")
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failing))
}

# A soak's output whole, and one line for the summary (a soak prints no test counts).
report_soak() {
  local id=$1 title=$2 rc seconds
  read -r rc seconds <"$logs/$id.status"
  echo
  echo "=============== $title ==============="
  cat "$logs/$id.log"
  echo "=============== $title: exit $rc, $seconds s ==============="
  summary+=("$title: $([ "$rc" -eq 0 ] && echo passed || echo FAILED) ($seconds s)")
  [ "$rc" -eq 0 ] || failed=1
}

report unit 'unit and HTTP tests'
report fast-path-off 'HTTP tests with the fast path off (MOCK_IDP_FAST_PATH=0)'
if [ "$failed" -eq 0 ]; then
  # The soak's short versions, side by side (free ports and temp folders of their own): 60 s of mixed
  # traffic on one IdP process, and 60 s over two replicas on one redis-server with every IdP request
  # to the next replica. Each fails on any 5xx, a dead IdP, an error logged, a flow that did not end
  # as expected, or RSS growth (of any replica) of 10% or more after the warm-up.
  echo "soaks: one process, and two replicas on Redis beside it (60 s each)"
  suite soak npm run soak -- --duration 60s &
  soak_pid=$!
  suite soak-replicas npm run soak -- --replicas 2 --duration 60s &
  soak_replicas_pid=$!
  wait "$soak_pid" || true
  wait "$soak_replicas_pid" || true
  report_soak soak 'soak, one process (60 s)'
  report_soak soak-replicas 'soak, two replicas on Redis (60 s)'
fi
if [ "$failed" -eq 0 ]; then
  start=$SECONDS
  rc=0
  npm run test:browser 2>&1 | tee "$logs/browser.log" || rc=$?
  echo "$rc $((SECONDS - start))" >"$logs/browser.status"
  [ "$rc" -eq 0 ] || failed=1
  report browser 'real-browser tests' quiet
fi

echo
printf '%s\n' "${summary[@]}"
echo "tests: $total_passed passed, $total_failed failed"
exit "$failed"
