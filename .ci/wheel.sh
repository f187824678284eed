#!/usr/bin/env bash
# The package works installed, not only from the checkout: build the wheel, install it into
# a fresh venv outside the checkout, and scan the shipped fixtures with --report from there
# (the rules, profiles, source register and templates load through importlib.resources).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip wheel -q --no-deps -w "$work/wheel" "$here" >/dev/null 2>&1 \
    || { python3 -m pip wheel --no-deps -w "$work/wheel" "$here" | tail -5; exit 1; }
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$work"/wheel/*.whl 2>&1 | grep -v "^WARNING" || true
"$work/venv/bin/compliance" --version >/dev/null
cd "$work"     # nothing of the checkout on the path
"$work/venv/bin/compliance" scan "$here/fixtures/log" --units "$here/fixtures/units.toml" \
    --as-of 2025-12-31 --report --out "$work/out" 2>"$work/scan.log" \
    || { cat "$work/scan.log" >&2; echo "wheel.sh: the installed wheel could not scan the fixtures" >&2; exit 1; }
for f in findings.jsonl manifest.json overview.html upcoming.xlsx; do
    [ -s "$work/out/$f" ] || { echo "wheel.sh: the installed wheel wrote no $f" >&2; exit 1; }
done
ls "$work/out/deviations/"*.docx >/dev/null 2>&1 || { echo "wheel.sh: no Word drafts from the installed wheel" >&2; exit 1; }
"$work/venv/bin/compliance" rules list --profile gotland-2013 >/dev/null
"$work/venv/bin/compliance" doctor >/dev/null
echo "wheel.sh: the installed wheel scanned the fixtures with --report ($(wc -l < "$work/out/findings.jsonl") findings)"
