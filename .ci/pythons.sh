#!/usr/bin/env bash
# CI on every Python the machine has: for each pyenv CPython 3.11–3.14 present, a fresh
# venv (build/pythons/<version>/venv), `pip install -e '.[test]'`, `compliance doctor`, the
# fixture scan and the engine tests. Fails when any step fails on any interpreter, or when
# an interpreter's outputs of the fixture scan (findings.jsonl, rejects.jsonl, drafts, ...)
# are not byte-identical to those of 3.11. Why 3.13+ needs a shim: docs/python-versions.md.
#
#   .ci/pythons.sh            fresh venvs (pip's cache keeps it to about a minute each)
#   .ci/pythons.sh --reuse    keep existing venvs, only reinstall the package (seconds)
#
# Each interpreter's pip and pytest output goes to build/pythons/<version>/*.log; the
# console gets one line per step. COMPLIANCE_CI=1 is set for the tests: a supported
# interpreter they look for and miss is a failure, not a skip.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/build/pythons
REUSE=0
[[ "${1:-}" == "--reuse" ]] && REUSE=1
TESTS=(tests/test_engine.py tests/test_engine_vs_reference.py tests/test_python_versions.py tests/test_doctor.py)
export COMPLIANCE_CI=1 PIP_DISABLE_PIP_VERSION_CHECK=1

PYENV_ROOT=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}

# The newest pyenv CPython x.y.z of a minor version (not a free-threaded "t" build).
newest() {
    local minor=$1 dir best=""
    for dir in "$PYENV_ROOT"/versions/"$minor".*; do
        [[ "$(basename "$dir")" =~ ^${minor//./\\.}\.[0-9]+$ && -x "$dir/bin/python$minor" ]] || continue
        best=$(printf '%s\n%s\n' "$best" "$(basename "$dir")" | sort -V | tail -1)
    done
    [[ -n "$best" ]] && echo "$PYENV_ROOT/versions/$best/bin/python$minor"
}

failed=()
tested=()
step() {   # step <minor> <what> <log> <command...>: run, say ok or FEL with the log's tail
    local minor=$1 what=$2 log=$3; shift 3
    local t0=$SECONDS
    if "$@" >>"$log" 2>&1; then
        printf '  %-5s %-34s ok (%ds)\n' "$minor" "$what" $((SECONDS - t0))
        return 0
    fi
    printf '  %-5s %-34s FEL (%ds), se %s\n' "$minor" "$what" $((SECONDS - t0)) "${log#$ROOT/}"
    tail -n 15 "$log" | sed 's/^/        /'
    failed+=("$minor: $what")
    return 1
}

start=$SECONDS
for minor in 3.11 3.12 3.13 3.14; do
    python=$(newest "$minor") || { echo "  $minor  finns inte i $PYENV_ROOT/versions, hoppas över"; continue; }
    dir=$WORK/$minor
    mkdir -p "$dir"
    : >"$dir/pip.log"; : >"$dir/tests.log"; : >"$dir/scan.log"
    echo "Python $minor ($python)"
    if [[ $REUSE == 0 || ! -x "$dir/venv/bin/python" ]]; then
        rm -rf "$dir/venv"
        step "$minor" "venv" "$dir/pip.log" "$python" -m venv "$dir/venv" || continue
    fi
    py=$dir/venv/bin/python
    step "$minor" "pip install -e '.[test]'" "$dir/pip.log" "$py" -m pip install -q -e '.[test]' || continue
    step "$minor" "compliance doctor" "$dir/scan.log" "$dir/venv/bin/compliance" doctor || continue
    rm -rf "$dir/out"
    step "$minor" "skanning av fixtures/log" "$dir/scan.log" "$dir/venv/bin/compliance" scan fixtures/log \
        --units fixtures/units.toml --as-of 2025-12-31 --out "$dir/out" || continue
    step "$minor" "motorns tester" "$dir/tests.log" "$py" -m pytest -q -p no:cacheprovider "${TESTS[@]}"
    tested+=("$minor")
done

# The same decisions on every interpreter: findings, rejects, evidence, case summaries and
# drafts, byte for byte (the manifest describes the run, not the decisions).
if [[ ! -d "$WORK/3.11/out" ]]; then
    failed+=("3.11: ingen skanning att jämföra med")
else
    for minor in "${tested[@]}"; do
        [[ $minor == 3.11 ]] && continue
        if diff -r -q -x manifest.json "$WORK/3.11/out" "$WORK/$minor/out" >"$WORK/$minor/diff.log" 2>&1; then
            printf '  %-5s %-34s ok\n' "$minor" "samma utdata som 3.11"
        else
            printf '  %-5s %-34s FEL, se %s\n' "$minor" "samma utdata som 3.11" "build/pythons/$minor/diff.log"
            head -n 10 "$WORK/$minor/diff.log" | sed 's/^/        /'
            failed+=("$minor: utdata skiljer sig från 3.11")
        fi
    done
fi

echo "Tid: $((SECONDS - start)) s; testade: ${tested[*]:-inga}"
if ((${#failed[@]})); then
    printf 'FEL: %s\n' "${failed[@]}"
    exit 1
fi
