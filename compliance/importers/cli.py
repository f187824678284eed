"""`compliance import` and `compliance export --format xes` (click commands).

The lead adds both to the CLI group in compliance/cli.py. Exit status: 0 when the
command ran (whatever it rejected), 1 with one line on stderr when an input or the
mapping cannot be read; never a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

import click
import orjson

from ..records import Record
from . import SUPPORTED_SUFFIXES, iter_source_records, load_mapping
from .ids import IdAssigner
from .mapping import SourceError

KEY_ENV = "COMPLIANCE_PSEUDONYM_KEY"
MIN_KEY_BYTES = 16


def _fail(msg: str) -> NoReturn:
    click.echo(f"compliance: {' '.join(str(msg).split())}", err=True)
    sys.exit(1)


def read_key(key_file: Path | None) -> bytes | None:
    """The pseudonym key: --key-file, else $COMPLIANCE_PSEUDONYM_KEY, else None."""
    if key_file is not None:
        try:
            key = key_file.read_bytes().strip()
        except OSError as exc:
            raise SourceError(f"nyckelfilen {key_file} kan inte läsas ({exc.strerror or exc})") from None
        origin = str(key_file)
    else:
        env = os.environ.get(KEY_ENV)
        if not env:
            return None
        key = env.strip().encode("utf-8")
        origin = KEY_ENV
    if len(key) < MIN_KEY_BYTES:
        raise SourceError(f"pseudonymnyckeln i {origin} är för kort (minst {MIN_KEY_BYTES} byte)")
    return key


def _validator():
    """parse_record from the event model, or a minimal stand-in if it is missing."""
    try:
        from ..events import Reject, parse_record
    except ImportError:  # pragma: no cover - the event model is part of the project
        def check(rec: Record) -> str | None:
            return rec.error
        return check

    def check(rec: Record) -> str | None:
        got = parse_record(rec)
        return got.reason if isinstance(got, Reject) else None
    return check


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _check_sources(srcs: tuple[Path, ...]) -> None:
    for s in srcs:
        if s.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise SourceError(f"{s}: okänt filformat {s.suffix or '(inget)'!r} "
                              f"(stöds: {', '.join(SUPPORTED_SUFFIXES)})")
        if not s.is_file():
            raise SourceError(f"{s}: filen finns inte" if not s.exists() else f"{s}: är ingen fil")


def _write_records(records, check, events_out, rejects_out) -> tuple[int, int, int]:
    """Each record as an event line or a reject line; (rows, events, rejects)."""
    rows = events = rejects = 0
    dumps = orjson.dumps
    for rec in records:
        rows += 1
        reason = rec.error if rec.error is not None else check(rec)
        if reason is None:
            events_out.write(dumps(rec.data))
            events_out.write(b"\n")
            events += 1
        else:
            rejects_out.write(dumps({"file": rec.file, "line": rec.line, "reason": reason,
                                     "raw": rec.raw}))
            rejects_out.write(b"\n")
            rejects += 1
    return rows, events, rejects


def _parallel(src: Path, workers: int) -> bool:
    """Whether a file is imported on several processes (a large CSV file)."""
    from .parallel import PARALLEL_BYTES
    return workers > 1 and src.suffix.lower() == ".csv" and src.stat().st_size >= PARALLEL_BYTES


def run_import(srcs: tuple[Path, ...], mapping: str | None, key: bytes | None, out: Path,
               echo=lambda s: click.echo(s, err=True), workers: int | None = None) -> dict:
    """Import `srcs` into `out` (canonical JSONL) and `<out>.rejects.jsonl`; the counts.

    A large CSV file is converted on `workers` processes (default: up to 2 CPUs); the
    output is the same as on one.
    """
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    _check_sources(srcs)
    loaded = None
    if any(s.suffix.lower() in (".csv", ".xlsx") for s in srcs):
        loaded = load_mapping(mapping)
    check = _validator()
    rejects_path = out.with_name(out.name[:-6] + ".rejects.jsonl" if out.name.endswith(".jsonl")
                                 else out.name + ".rejects.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out, tmp_rej = _tmp(out), _tmp(rejects_path)
    ids = IdAssigner()
    totals = {"rows": 0, "events": 0, "rejects": 0, "personnummer": 0}
    try:
        with open(tmp_out, "wb", buffering=1 << 20) as fo, open(tmp_rej, "wb", buffering=1 << 16) as fr:
            for src in srcs:
                stats: dict = {"personnummer": 0}
                if _parallel(src, workers):
                    from .parallel import import_csv
                    rows, events, rejects = import_csv(src, loaded, key, ids, stats, check, fo, fr,
                                                       workers)
                else:
                    rows, events, rejects = _write_records(
                        iter_source_records(src, loaded, key, ids=ids, stats=stats), check, fo, fr)
                note = "" if events or not rows else " (inga giltiga rader)"
                echo(f"{src}: {rows} rader, {events} händelser, {rejects} avvisade{note}")
                totals["rows"] += rows
                totals["events"] += events
                totals["rejects"] += rejects
                totals["personnummer"] += stats.get("personnummer", 0)
        os.replace(tmp_out, out)
        os.replace(tmp_rej, rejects_path)
    finally:
        for t in (tmp_out, tmp_rej):
            if t.exists():
                t.unlink()
    if len(srcs) > 1:
        echo(f"totalt: {totals['rows']} rader, {totals['events']} händelser, {totals['rejects']} avvisade")
    if totals["rejects"]:
        echo(f"avvisade rader med skäl: {rejects_path}")
    if totals["rows"] and not totals["events"]:
        echo("importen gav inga händelser: alla rader avvisades")
    if key is None and totals["personnummer"]:
        echo(f"ingen pseudonymnyckel (--key-file eller {KEY_ENV}): personnumren validerades och "
             "togs bort, men ingen personpseudonym skapades")
    elif key is not None and totals["personnummer"]:
        echo("personpseudonymer: HMAC-SHA256 under den angivna nyckeln")
    totals["rejects_path"] = str(rejects_path)
    return totals


@click.command("import")
@click.argument("src", nargs=-1, required=True, metavar="KÄLLA...", type=click.Path(path_type=Path))
@click.option("--mapping", "mapping", default=None, metavar="NAMN|FIL",
              help="Mappning för .csv/.xlsx: en medföljande (standard-sv, förvald) eller en TOML-fil.")
@click.option("--key-file", metavar="FIL", type=click.Path(path_type=Path), default=None,
              help=f"Hemlig nyckel för personpseudonymer (HMAC-SHA256); annars ${KEY_ENV}.")
@click.option("--out", required=True, metavar="FIL", type=click.Path(path_type=Path),
              help="Händelseloggen som skrivs (.jsonl).")
def import_cmd(src: tuple[Path, ...], mapping: str | None, key_file: Path | None, out: Path) -> None:
    """Läs in exporter från ärendesystem (.csv, .xlsx, .xes) till en händelselogg (JSONL)."""
    try:
        key = read_key(key_file)
        run_import(src, mapping, key, out)
    except SourceError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{getattr(exc, 'filename', '') or ''}: {exc.strerror or exc}")
    except Exception as exc:  # never a traceback for the user
        _fail(f"importen avbröts: {type(exc).__name__}: {exc}")


@click.command("export")
@click.argument("log", metavar="LOGG", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["xes"]), default="xes", show_default=True,
              help="Format att skriva.")
@click.option("--out", required=True, metavar="FIL", type=click.Path(path_type=Path),
              help="Filen som skrivs (.xes).")
def export_cmd(log: Path, fmt: str, out: Path) -> None:
    """Exportera en händelselogg som IEEE 1849 XES (för processanalys i PM4Py, ProM m.fl.)."""
    from .xes import export_xes

    if not log.is_file():
        _fail(f"{log}: filen finns inte")
    check = _validator()
    rejects_path = out.with_name(out.name + ".rejects.jsonl")
    rejected: list[bytes] = []

    def validate(lineno: int, line: bytes, data: dict) -> str | None:
        return check(Record(str(log), lineno, line.decode("utf-8", "replace").rstrip("\n"), data, None))

    def on_reject(lineno: int, reason: str, raw: str) -> None:
        rejected.append(orjson.dumps({"file": str(log), "line": lineno, "reason": reason, "raw": raw}))

    tmp = _tmp(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        n_events, n_traces = export_xes(log, tmp, validate=validate, on_reject=on_reject)
        os.replace(tmp, out)
        if rejected:
            rejects_path.write_bytes(b"\n".join(rejected) + b"\n")
    except OSError as exc:
        _fail(f"{getattr(exc, 'filename', '') or log}: {exc.strerror or exc}")
    except Exception as exc:
        _fail(f"exporten avbröts: {type(exc).__name__}: {exc}")
    finally:
        if tmp.exists():
            tmp.unlink()
    click.echo(f"{log}: {n_events} händelser i {n_traces} ärenden -> {out}"
               + (f"; {len(rejected)} avvisade rader: {rejects_path}" if rejected else ""), err=True)
