#!/usr/bin/env python3
"""Render the reports for people to PNG pictures, to look at them as their readers will.

    python docs/render.py                  # scan the fixtures, render the chosen reports
    python docs/render.py --out docs/png   # somewhere else than /tmp/compliance-render
    python docs/render.py FILE.docx ...    # given files (.docx, .xlsx: LibreOffice)

Without files, the shipped fixtures are scanned with `--report` (as-of 2025-12-31, the
drafts dated 2026-01-07 through COMPLIANCE_RUN_DATE) into a temporary folder, and the
files listed in SHOWN are rendered. Office files go through LibreOffice
(`soffice --headless --convert-to pdf`) and poppler (`pdftoppm -png -r 70`), one PNG a
page: `<name>-<page>.png`. Needs `apt-get install libreoffice-writer-nogui poppler-utils`
(and libreoffice-calc-nogui for .xlsx).

To show another report, add a line to SHOWN (its path in the scan folder); for a file
type that LibreOffice does not render (overview.html: Chromium), add a renderer to
RENDERERS keyed by its suffix.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
AS_OF, RUN_DATE = "2025-12-31", "2026-01-07"

# (what it is, its path in the scan folder)
SHOWN = [
    ("draft, samverkan, several findings",
     "deviations/F19__skola-bjorkhagen__från__soc-skarpnack.docx"),
    ("draft, intern", "deviations/F14__soc-skarpnack.docx"),
]


def office_to_png(path: Path, out: Path, dpi: int = 70) -> list[Path]:
    """A .docx/.xlsx/.odt → PDF (LibreOffice) → one PNG a page (pdftoppm)."""
    for tool in ("soffice", "pdftoppm"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} saknas: apt-get install libreoffice-writer-nogui poppler-utils")
    with tempfile.TemporaryDirectory() as work:
        # A profile of its own: no clash with a LibreOffice the user has open.
        profile = Path(work, "profile").as_uri()
        subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless",
                        "--convert-to", "pdf", "--outdir", work, str(path)],
                       check=True, capture_output=True, timeout=300)
        pdf = Path(work, path.stem + ".pdf")
        stem = out / _plain(path.stem)
        for old in out.glob(f"{stem.name}-*.png"):
            old.unlink()
        subprocess.run(["pdftoppm", "-png", "-r", str(dpi), str(pdf), str(stem)], check=True)
    return sorted(out.glob(f"{stem.name}-*.png"))


RENDERERS: dict[str, Callable[[Path, Path], list[Path]]] = {
    ".docx": office_to_png, ".xlsx": office_to_png, ".odt": office_to_png,
}


def _plain(stem: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in stem)


def scan_fixtures(folder: Path) -> Path:
    out = folder / "scan"
    env = dict(os.environ, COMPLIANCE_RUN_DATE=RUN_DATE)
    subprocess.run([sys.executable, "-m", "compliance", "scan", str(FIXTURES / "log"),
                    "--units", str(FIXTURES / "units.toml"), "--as-of", AS_OF, "--report",
                    "--out", str(out)], check=True, env=env, capture_output=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "compliance-render")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        if args.files:
            chosen = [(str(f), f) for f in args.files]
        else:
            scan = scan_fixtures(Path(work))
            chosen = [(what, scan / rel) for what, rel in SHOWN]
        for what, path in chosen:
            render = RENDERERS.get(path.suffix)
            if render is None:
                print(f"{path}: ingen renderare för {path.suffix}", file=sys.stderr)
                continue
            for png in render(path, args.out):
                print(f"{what}: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
