#!/bin/sh
# Render the reports of the README's first command to the pictures in docs/, so that they
# cannot drift from the code:
#   docs/overview.png   overview.html in headless Chromium (1200 px wide, the first 2400 px)
#   docs/unit-list.png  units/soc-skarpnack.xlsx as LibreOffice prints it (PDF, page 1)
#   docs/draft-1.png, docs/draft-2.png  a deviation draft with two findings as LibreOffice
#                       prints it (pages 1 and 2 of deviations/F19__…docx)
# The drafts and lists are dated COMPLIANCE_RUN_DATE (fixed here), so the pictures change
# only when the reports do. Needs chromium, soffice (libreoffice-writer-nogui and
# libreoffice-calc-nogui) and pdftoppm (poppler-utils), and the package installed
# (`pip install -e .`). Run from anywhere: sh docs/render_reports.sh
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
export COMPLIANCE_RUN_DATE=2026-01-07
eval "${cmd% --out out} --out \"\$tmp/out\""

chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$tmp/chromium" \
    --screenshot=docs/overview.png --window-size=1200,2400 "file://$tmp/out/overview.html" 2>/dev/null

soffice -env:UserInstallation="file://$tmp/libreoffice" --headless --convert-to pdf \
    --outdir "$tmp" "$tmp/out/units/soc-skarpnack.xlsx" >/dev/null
pdftoppm -png -r 70 -f 1 -l 1 -singlefile "$tmp/soc-skarpnack.pdf" docs/unit-list

draft="F19__skola-bjorkhagen__från__soc-skarpnack"
cp "$tmp/out/deviations/$draft.docx" "$tmp/draft.docx"     # an ASCII name for the tools
soffice -env:UserInstallation="file://$tmp/libreoffice" --headless --convert-to pdf \
    --outdir "$tmp" "$tmp/draft.docx" >/dev/null
pdftoppm -png -r 70 -f 1 -l 2 "$tmp/draft.pdf" "$tmp/draft"
for n in 1 2; do mv "$tmp/draft-$n.png" "docs/draft-$n.png"; done
echo "docs/overview.png, docs/unit-list.png och docs/draft-1.png, -2.png är uppdaterade" >&2
