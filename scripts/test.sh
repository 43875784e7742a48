#!/usr/bin/env bash
# Runs every test file under test/ with node:test through tsx. Node 20's `node --test DIR` finds no
# .ts files and reports 0 tests with exit 0, so the files are listed here, and a run that executed
# no test fails.
set -uo pipefail
cd "$(dirname "$0")/.."
shopt -s globstar nullglob
files=(test/**/*.test.ts)
if [ $# -gt 0 ]; then files=("$@"); fi
if [ ${#files[@]} -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
out=$(mktemp)
node --import tsx --test --test-concurrency=2 --test-timeout=120000 --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$out" "${files[@]}"
rc=$?
pass=$(awk '/^# pass /{print $3}' "$out"); fail=$(awk '/^# fail /{print $3}' "$out"); skip=$(awk '/^# skipped /{print $3}' "$out")
rm -f "$out"
echo "${pass:-0} passed, ${fail:-0} failed, ${skip:-0} skipped"
if [ "${pass:-0}" -eq 0 ]; then echo "no test ran" >&2; exit 1; fi
exit $rc
