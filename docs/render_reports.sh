#!/bin/sh
# Render the reports of the README's first command to the pictures in docs/, so that they
# cannot drift from the code:
#   docs/overview.png   overview.html in headless Chromium (1200 px wide, the first 2400 px)
#   docs/unit-list.png  units/soc-skarpnack.xlsx as LibreOffice prints it (PDF, page 1)
# Needs chromium, soffice (libreoffice-calc-nogui) and pdftoppm (poppler-utils), and the
# package installed (`pip install -e .`). Run from anywhere: sh docs/render_reports.sh
set -eu
cd "$(dirname "$0")/.."
for tool in compliance chromium soffice pdftoppm; do
    command -v "$tool" >/dev/null || { echo "render_reports: $tool saknas" >&2; exit 1; }
done

# The scan command exactly as the README's first code block has it, with --out moved
# into a temporary folder.
cmd=$(sed -n 's/^.*&& \(compliance scan .*\)$/\1/p' README.md | head -n 1)
case "$cmd" in
    *" --out out") ;;
    *) echo "render_reports: README.md:s första kommando slutar inte med --out out: $cmd" >&2; exit 1 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
eval "${cmd% --out out} --out \"\$tmp/out\""

chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$tmp/chromium" \
    --screenshot=docs/overview.png --window-size=1200,2400 "file://$tmp/out/overview.html" 2>/dev/null

soffice -env:UserInstallation="file://$tmp/libreoffice" --headless --convert-to pdf \
    --outdir "$tmp" "$tmp/out/units/soc-skarpnack.xlsx" >/dev/null
pdftoppm -png -r 70 -f 1 -l 1 -singlefile "$tmp/soc-skarpnack.pdf" docs/unit-list
echo "docs/overview.png och docs/unit-list.png är uppdaterade" >&2
