"""The scan folder (`--out`): written whole into a temporary folder, then swapped in.

A scan writes its outputs (outputs.md) into a fresh folder beside `--out` and renames it
into place at the end, so a scan killed part-way leaves the previous outputs whole. An
`--out` that is a symbolic link is written through: the folder it points to is the one
replaced (the temporary folder is made beside it, on its file system), and the link stays. The
files besides the contract's (`evidence.jsonl`, `cases.jsonl`) are what `compliance
report` needs to build the reports for people from the folder alone (docs/design.md).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import orjson

from . import __version__
from . import calendar as vardagar
from .reading import sha256_file
from .pool import signals_held
from .removal import remove_folder
from .resources import ResourceError

if TYPE_CHECKING:
    from .nightly import NightlyScan
    from .scan import ScanResult


class OutputError(Exception):
    """The outputs cannot be written (--out not usable, disk full); one line for stderr."""


def target(out: Path) -> Path:
    """The folder `--out` names: itself, or where it leads when it is a symbolic link."""
    if not out.is_symlink():
        return out
    try:
        return out.resolve(strict=False)
    except (OSError, RuntimeError):       # a loop of links
        raise OutputError(f"{out}: länken leder ingenstans (en slinga av länkar)") from None


def fresh_folder(out: Path) -> Path:
    """A new empty folder beside `out` (beside its target, when it is a link), where the
    outputs are written before the swap. It gets the permissions the umask allows, as any
    folder the user makes would."""
    check_out(out)
    real = target(out)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{real.name}.tmp-", dir=real.resolve().parent))
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)
        return tmp
    except OSError as exc:
        raise OutputError(f"{out}: kan inte skriva: {exc.strerror}") from None


def check_out(out: Path) -> None:
    real = target(out)
    if real.exists() and not real.is_dir():
        raise OutputError(f"{out}: --out är en fil, inte en mapp")
    if real.is_dir() and any(real.iterdir()) and not (real / "manifest.json").exists():
        raise OutputError(f"{out}: mappen är inte tom och är inte en tidigare skanning; välj en annan --out")
    parent = real.resolve().parent
    if not parent.exists():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{out}: mappen kan inte skapas: {exc.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{out}: ingen skrivrätt i {parent}")


def _lines(path: Path, chunks: list[bytes]) -> None:
    with path.open("wb") as fh:
        fh.writelines(chunks)


def _jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("wb") as fh:
        for row in rows:
            fh.write(orjson.dumps(row) + b"\n")


def manifest(result: "ScanResult", units_path: Path | str | None) -> dict[str, Any]:
    """The run record (outputs.md, "Run record"; audit.md, "Rule versions")."""
    return {
        "tool": {"name": "bus-compliance", "version": __version__},
        "as_of": result.as_of.isoformat(),
        "profile": result.selection.summary() if result.selection else None,
        "rules": [r.summary() for r in result.rules],
        "rules_digest": result.ruleset.digest() if result.ruleset else None,
        "calendar": vardagar.CALENDAR_SOURCE,
        "inputs": result.inputs,
        "units_file": ({"path": str(units_path), "sha256": sha256_file(Path(units_path))}
                       if units_path else None),
        "counts": result.counts,
        # duplicates, unknown_units (the overview's "Okända verksamheter"), birth-date
        # warnings, skipped and unreadable inputs (docs/imports.md)
        **result.input_report.manifest(),
        "engine_errors": result.errors,
    }


def write_outputs(result: "ScanResult", out: Path, tmp: Path, units_path: Path | str | None,
                  report: bool = False, docx: bool = True, register: Any = None,
                  workers: int = 2, progress: Any = None, clock: Any = None,
                  night: "NightlyScan | None" = None) -> None:
    """Write into the fresh folder `tmp`, then swap it in.

    The deviation drafts are rendered from the files just written, on the output side
    (`deviations.write_drafts`): Markdown always, Word too with `report` (unless not
    `docx`). `register` is the unit register (`units.load_units`). With a state store
    (`night`), the store records the night once the files are written, the drafts and
    reports follow what it says (finding id -> {"status", "new", "reference"}: decided
    findings get no draft, the reports show the status), and it commits before the swap
    (compliance/nightly.py)."""
    from .deviations import DraftWriteError, run_date, write_drafts
    try:
        _lines(tmp / "findings.jsonl", result.findings_lines)
        _jsonl(tmp / "rejects.jsonl", result.rejects)
        _lines(tmp / "evidence.jsonl", result.evidence_lines)
        _lines(tmp / "cases.jsonl", result.cases_lines)
        if result.errors:
            _jsonl(tmp / "errors.jsonl", result.errors)
        (tmp / "manifest.json").write_bytes(
            orjson.dumps(manifest(result, units_path), option=orjson.OPT_INDENT_2) + b"\n")
        with night.recording(result, tmp) if night is not None else nullcontext(None) as review:
            written = run_date()
            try:
                write_drafts(tmp, register, written, formats={"md", "docx"} if report and docx else {"md"},
                             decisions=review, workers=workers, progress=progress)
            except DraftWriteError as exc:
                raise OutputError(f"utkasten kan inte skrivas: {exc}") from None
            if clock is not None:
                clock("drafts")
            if report:
                from .reporting import build_reports
                build_reports(tmp, tmp, Path(units_path) if units_path else None, run_date=written,
                              drafts=False, review=review)
                if clock is not None:
                    clock("reports")
        swap_in(tmp, out)
    except ResourceError as exc:        # a missing or broken template
        raise OutputError(str(exc)) from None
    except OSError as exc:
        raise OutputError(f"{out}: kan inte skriva: {exc.strerror or exc}") from None


def swap_in(tmp: Path, out: Path) -> None:
    """Put the finished folder `tmp` in the place of `out` (which may not exist; when it
    is a symbolic link, in the place of the folder it leads to, and the link stays), then
    delete the previous outputs. No signal may stop it between the two renames."""
    from .nightly import checkpoint
    real = target(out)
    with signals_held():
        old = None
        if real.exists():
            old = real.resolve().parent / f".{real.name}.old-{os.getpid()}"
            real.rename(old)
            checkpoint("swapping")
        tmp.rename(real)
        if old is not None:
            remove_folder(old)
