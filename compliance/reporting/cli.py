"""`compliance report SCAN_DIR --out DIR [--units FILE]`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import NotAScanFolder, build_reports


@click.command("report")
@click.argument("scan_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the reports (default: SCAN_DIR).")
@click.option("--units", "units_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Unit register (units.toml/units.json); default: the one the scan used.")
@click.option("--no-docx", "no_docx", is_flag=True, help="Avvikelseutkasten bara som Markdown, inga Word-filer.")
def report(scan_dir: Path, out_dir: Path | None, units_path: Path | None, no_docx: bool) -> None:
    """Write the reports for people (Word, Excel/CSV, overview.html) from a scan folder."""
    progress = None
    if sys.stderr.isatty():
        from tqdm import tqdm
        progress = lambda total: tqdm(total=total, unit="fynd", file=sys.stderr,  # noqa: E731
                                      desc="Avvikelseutkast", leave=False)
    try:
        paths = build_reports(scan_dir, out_dir or scan_dir, units_path, docx=not no_docx,
                              progress=progress)
    except NotAScanFolder as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # one line for cron logs, never a traceback
        click.echo(f"error: could not write the reports: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{len(paths)} files written to {out_dir or scan_dir}", err=True)



if __name__ == "__main__":  # pragma: no cover
    report()
