#!/usr/bin/env bash
# The programs the tests use besides Python: Debian's chromium (browser tests of the overview
# and the review app), LibreOffice and poppler (Word and Excel rendered as a reader sees
# them). PostgreSQL is installed by .ci/postgres.sh. Exits 1 with one line when a program
# cannot be had: CI must fail, not skip (the tests fail too, under COMPLIANCE_CI=1).
set -uo pipefail
say() { echo "install-tools.sh: $*" >&2; }
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v soffice >/dev/null 2>&1 || need+=(libreoffice-writer-nogui libreoffice-calc-nogui)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
[ ${#need[@]} -eq 0 ] && exit 0
command -v apt-get >/dev/null 2>&1 || { say "saknas: ${need[*]}, och apt-get finns inte"; exit 1; }
SUDO=""
if [ "$(id -u)" != "0" ]; then
    sudo -n true 2>/dev/null || { say "saknas: ${need[*]}; bara root kan installera"; exit 1; }
    SUDO="sudo -n"
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >"$log" 2>&1 \
   || ! $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}" >>"$log" 2>&1; then
    tail -n 3 "$log" >&2
    say "kunde inte installera: ${need[*]}"
    exit 1
fi
say "installerade: ${need[*]}"
