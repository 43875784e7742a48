#!/usr/bin/env bash
# Runs every test file under test/ (or the files given) with node:test through tsx, and fails when
#  - a test failed,
#  - no test ran (Node 20's `node --test DIR` finds no .ts files and reports 0 tests with exit 0, so
#    the files are listed here),
#  - a test or suite was skipped, or marked todo, unless its "name # SKIP reason" line matches an
#    entry of SKIP_ALLOW below. A skipped describe() hides its tests from node's own "skipped"
#    count, so the TAP lines themselves are read. Policy: docs/testing.md.
set -uo pipefail
cd "$(dirname "$0")/.."

# Extended regexps matched against "<test name> # SKIP <reason>". Keep this empty or tiny: every
# entry is a test that can never fail. The environment may add one (TEST_SKIP_ALLOW) for a local run.
SKIP_ALLOW=()
if [ -n "${TEST_SKIP_ALLOW:-}" ]; then SKIP_ALLOW+=("$TEST_SKIP_ALLOW"); fi

shopt -s globstar nullglob
files=(test/**/*.test.ts)
if [ $# -gt 0 ]; then files=("$@"); fi
if [ ${#files[@]} -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
node --import tsx --test --test-concurrency=2 --test-timeout=300000 --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$out" "${files[@]}"
rc=$?
pass=$(awk '/^# pass /{print $3}' "$out"); fail=$(awk '/^# fail /{print $3}' "$out")
# a file that times out or crashes outside a test is a top-level "not ok" that "# fail" leaves out
top=$(grep -c '^not ok ' "$out"); if [ "$top" -gt "${fail:-0}" ]; then fail=$top; fi
# every skipped or todo test or suite, at any depth: "ok 3 - name # SKIP reason"
mapfile -t skipped < <(sed -nE 's/^ *(not )?ok [0-9]+ - (.* # (SKIP|TODO)( .*)?)$/\2/p' "$out")
echo "${pass:-0} passed, ${fail:-0} failed, ${#skipped[@]} skipped"
if [ "${pass:-0}" -eq 0 ]; then echo "no test ran" >&2; exit 1; fi
echo "skip allow-list (${#SKIP_ALLOW[@]}):"
for a in "${SKIP_ALLOW[@]}"; do echo "  $a"; done
bad=0
for s in "${skipped[@]}"; do
  ok=0
  for a in "${SKIP_ALLOW[@]}"; do if [[ "$s" =~ $a ]]; then ok=1; fi; done
  if [ $ok -eq 1 ]; then echo "allowed skip: $s"; else echo "skip not allowed: $s" >&2; bad=1; fi
done
if [ $rc -eq 0 ] && [ $bad -ne 0 ]; then rc=1; fi
exit $rc
