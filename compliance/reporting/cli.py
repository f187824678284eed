"""`compliance report SCAN_DIR [--out DIR] [--units FILE] [--no-docx] [--state URL]`.

The reports are written into a hidden folder inside DIR first and moved into place only
when all of them are done: a full disk or a killed run leaves DIR as it was (at most the
hidden folder of a killed run). The drafts' folder `deviations/` is moved whole (a large
scan has a hundred thousand drafts). Folders are made with the user's umask.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile
from pathlib import Path
from typing import Mapping

import click

from ..deviations import DraftWriteError, replace_folder
from ..removal import remove_folder
from ..resources import ResourceError
from ..units import UnitRegisterError
from . import NotAScanFolder, build_reports
from .scan_data import check_scan_folder, count_sv

STAGING_PREFIX = ".rapport-tmp-"
# What a previous `compliance report` leaves, so that a new one may replace it.
REPORT_MARKERS = ("overview.html", "manifest.json")
REPORT_FILES = ("overview.html", "upcoming.xlsx", "units/*.xlsx", "units/*.csv")
DRAFTS = "deviations"
OS_ERRORS_SV = {
    errno.ENOSPC: "disken är full",
    errno.EDQUOT: "diskkvoten är slut",
    errno.EACCES: "ingen skrivrätt",
    errno.EPERM: "ingen skrivrätt",
    errno.EROFS: "filsystemet är skrivskyddat",
    errno.ENOENT: "finns inte",
}


class ReportError(Exception):
    """The reports cannot be written; the message is one Swedish line."""


def os_error_sv(exc: OSError) -> str:
    return OS_ERRORS_SV.get(exc.errno) or exc.strerror or str(exc)


def check_out(out: Path, scan_dir: Path) -> None:
    """--out must be empty, new, the scan folder itself, or a previous scan or report."""
    if out.exists() and not out.is_dir():
        raise ReportError(f"{out}: --out är en fil, inte en mapp")
    if not out.is_dir() or out.resolve() == scan_dir.resolve():
        return
    visible = [p for p in out.iterdir() if not p.name.startswith(STAGING_PREFIX)]
    if visible and not any((out / m).is_file() for m in REPORT_MARKERS):
        raise ReportError(f"{out}: mappen är inte tom och är inte en tidigare skanning eller "
                          "rapport; välj en annan --out")


def write_reports(scan_dir: Path, out: Path, units_path: Path | None, docx: bool = True,
                  progress=None, review: Mapping[str, Mapping] | None = None) -> list[Path]:
    """Build every report in a hidden folder inside `out`, then move each into place and
    remove what a previous report wrote and this one did not (a unit with no findings
    left keeps no old list; the drafts' folder is replaced whole). Returns the paths in
    `out`."""
    check_scan_folder(scan_dir)
    check_out(out, scan_dir)
    if units_path is not None and not units_path.is_file():
        raise ReportError(f"{units_path}: enhetsregistret finns inte (--units)")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)   # with the umask, unlike mkdtemp's 0700
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
    except OSError as exc:
        raise ReportError(f"{out}: mappen kan inte skapas: {os_error_sv(exc)}") from None
    try:
        built = build_reports(scan_dir, staging, units_path, docx=docx, progress=progress, review=review)
        previous = {p for pattern in REPORT_FILES for p in out.glob(pattern)}
        replace_folder(staging / DRAFTS, out / DRAFTS)
        final = sorted((out / DRAFTS).iterdir())
        for path in built:
            if path.parent == staging / DRAFTS:
                continue
            target = out / path.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            final.append(target)
        for stale in sorted(previous - set(final)):
            stale.unlink()
        return final
    except OSError as exc:
        if created:
            remove_folder(out)
        raise ReportError(f"{out}: rapporterna kan inte skrivas: {os_error_sv(exc)}") from None
    except BaseException:                 # a broken template, Ctrl-C: no new empty folder left
        if created:
            remove_folder(out)
        raise
    finally:
        remove_folder(staging)


def _fail(message: str) -> None:
    click.echo(f"compliance: {message}", err=True)
    sys.exit(1)


@click.command("report")
@click.argument("scan_dir", metavar="SKANNINGSMAPP", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", metavar="MAPP", type=click.Path(path_type=Path), default=None,
              help="Mapp för rapporterna (standard: skanningsmappen). Måste vara tom, ny eller "
                   "en tidigare skanning eller rapport.")
@click.option("--units", "units_path", metavar="FIL", type=click.Path(path_type=Path), default=None,
              help="Enhetsregister (units.toml/units.json); standard: det som skanningen använde.")
@click.option("--no-docx", "no_docx", is_flag=True,
              help="Avvikelseutkasten bara som Markdown, inga Word-filer.")
@click.option("--state", "state", metavar="URL", default=None,
              help="Tillståndet (en fil, sqlite:///SÖKVÄG eller postgresql://…): listorna och översikten "
                   "visar granskningsstatus och vad som är nytt, utkasten följer besluten.")
def report(scan_dir: Path, out_dir: Path | None, units_path: Path | None, no_docx: bool,
           state: str | None) -> None:
    """Skriv rapporterna för människor ur en skanningsmapp: avvikelseutkast (Markdown och
    Word), enheternas listor (Excel och CSV), kommande tidsfrister och overview.html."""
    from ..progress import progress_bar
    from ..state.errors import StateError
    out = out_dir or scan_dir
    try:
        review = None
        if state is not None:
            from ..nightly import report_review
            review = report_review(state, scan_dir)
        paths = write_reports(scan_dir, out, units_path, docx=not no_docx,
                              progress=progress_bar("fynd", "Avvikelseutkast"), review=review)
    except DraftWriteError as exc:
        _fail(f"{exc.path}: {os_error_sv(exc.error)}" if exc.error else str(exc))
    except (NotAScanFolder, ReportError, UnitRegisterError, StateError, ResourceError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("avbruten; rapportmappen är som förut")
    except Exception as exc:  # one line for cron logs, never a traceback
        _fail(f"rapporterna kan inte skrivas: {type(exc).__name__}: {exc}")
    click.echo(f"Rapporter: {count_sv(len(paths), 'fil', 'filer')} i {out}", err=True)


if __name__ == "__main__":  # pragma: no cover
    report()
