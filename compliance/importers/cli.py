"""`compliance import` and `compliance export --format xes` (click commands).

The lead adds both to the CLI group in compliance/cli.py. Exit status: 0 when the
command ran (whatever it rejected), 1 with one line on stderr per input or output that
could not be read or written; never a traceback. A file that cannot be read (or stops
being readable part-way) is named on stderr, none of its rows count, and the other files
are imported; the command then exits 1 so that a nightly job notices.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any, Iterable, NoReturn

import click
import orjson

from ..duplicates import CONFLICT, KEEP, Merger, number_sv
from ..events import content_key, parse_at
from ..plausibility import BirthDates
from ..privacy import redact_raw
from ..records import Record
from ..units import UnitRegisterError, UnitResolver, load_register
from . import SUPPORTED_SUFFIXES, iter_source_records, load_mapping
from .files import display, expand_sources
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
    """The event model's judgement of a record: None, or the reason it is a reject."""
    from ..events import Reject, parse_record

    def check(rec: Record) -> str | None:
        got = parse_record(rec)
        return got.reason if isinstance(got, Reject) else None
    return check


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


class NothingImported(SourceError):
    """No input could be imported; every reason has been printed already."""


class OutputError(SourceError):
    """An output that cannot be written (a full disk, no permission); names the file the
    user asked for, not the temporary one."""


class _Output:
    """A file being written under a temporary name: write errors name the real one."""

    def __init__(self, tmp: Path, shown: Path, buffering: int) -> None:
        self.tmp, self.shown = tmp, shown
        try:
            self._f = open(tmp, "wb", buffering=buffering)
        except OSError as exc:
            raise self._error(exc) from None

    def _error(self, exc: OSError) -> OutputError:
        return OutputError(f"{display(self.shown)}: kan inte skrivas ({exc.strerror or exc})")

    def write(self, data: bytes) -> None:
        try:
            self._f.write(data)
        except OSError as exc:
            raise self._error(exc) from None

    def tell(self) -> int:
        try:
            self._f.flush()
        except OSError as exc:
            raise self._error(exc) from None
        return self._f.tell()

    def truncate(self, size: int) -> None:
        try:
            self._f.seek(size)
            self._f.truncate()
        except OSError as exc:
            raise self._error(exc) from None

    def close(self) -> None:
        try:
            self._f.close()
        except OSError as exc:
            raise self._error(exc) from None

    def discard(self) -> None:
        try:
            self._f.close()
        except OSError:
            pass
        self.tmp.unlink(missing_ok=True)


class ImportWriter:
    """Writes an import's events and rejects, file by file: every row becomes an event,
    a duplicate of an event already written (counted, not written), or a reject. A file
    that fails part-way is taken back whole (`forget_file`)."""

    def __init__(self, events_out: Any, rejects_out: Any, births: BirthDates) -> None:
        self.events_out, self.rejects_out = events_out, rejects_out
        self.merger = Merger()
        self.births = births
        self.counts: dict[str, int] = {}
        self.file_no = -1
        self._marks = (0, 0)

    def start(self, name: str) -> None:
        self.file_no = self.merger.file(name)
        self.counts = {"rows": 0, "events": 0, "rejects": 0}
        self._marks = (self.events_out.tell(), self.rejects_out.tell())

    def forget_file(self) -> None:
        self.merger.forget_file()
        self.events_out.truncate(self._marks[0])
        self.rejects_out.truncate(self._marks[1])

    def event(self, key: int, eid: str | None, case: str | None, line: int, payload: bytes,
              facts: tuple | None, file: str) -> None:
        """An accepted event (its content key, id and case; id and case None when the id is
        the content digest): written unless it was read before. `facts` = (type, local
        date, birth date) for the plausibility check, or None."""
        self.counts["rows"] += 1
        if eid is None:            # its id is its content digest (the readers made it)
            verdict, reason = self.merger.add_digest(key, self.file_no, lambda: orjson.loads(payload)["id"])
        else:
            verdict, reason = self.merger.add(key, eid, case, self.file_no, line)
        if verdict == CONFLICT:      # the event as read is its raw line (it passed the model)
            self.reject(file, line, reason or "", payload.decode("utf-8"), count_row=False)
            return
        if verdict != KEEP:
            return
        self.events_out.write(payload)
        self.events_out.write(b"\n")
        self.counts["events"] += 1
        if facts is not None:
            self.births.see(case, *facts)

    def reject(self, file: str, line: int, reason: str, raw: str | None, count_row: bool = True) -> None:
        if count_row:
            self.counts["rows"] += 1
        self.rejects_out.write(orjson.dumps({"file": file, "line": line, "reason": reason,
                                             "raw": redact_raw(raw) if raw is not None else ""}))
        self.rejects_out.write(b"\n")
        self.counts["rejects"] += 1

    def duplicates(self) -> int:
        return self.merger.counts[self.file_no].total


def event_facts(data: dict[str, Any]) -> tuple | None:
    """(type, local date, birth date) of an accepted event that matters to the
    plausibility check, or None. Made where the event was judged (its `at` parsed there
    already), so that the process that writes does not parse dates."""
    child = data.get("child")
    born = child.get("birth_date") if isinstance(child, dict) else None
    if born is None and data.get("type") != "case.opened":
        return None
    return data.get("type"), parse_at(data["at"])[0], born


def event_key(rec: Record) -> int:
    """An accepted record's content key (the readers compute it as they make the id)."""
    return rec.key if rec.key is not None else content_key(rec.data)


def write_records(records: Iterable[Record], writer: ImportWriter) -> None:
    """Each record (judged by the event model already) as an event, a duplicate or a
    reject line."""
    dumps = orjson.dumps
    for rec in records:
        if rec.error is None:
            data = rec.data
            writer.event(event_key(rec), data["id"], data["case"], rec.line, dumps(data), event_facts(data),
                         rec.file)
        else:
            writer.reject(rec.file, rec.line, rec.error, rec.raw)


def _parallel(src: Path, workers: int) -> bool:
    """Whether a file is imported on several processes (a large CSV file)."""
    from .parallel import PARALLEL_BYTES
    return workers > 1 and src.suffix.lower() == ".csv" and src.stat().st_size >= PARALLEL_BYTES


def _apply_renames(path: Path, renames: dict[str, str]) -> None:
    """Give kept events the smaller ids of copies read after them (rare: ids of their own)."""
    tmp = path.with_name(path.name + ".ids")
    with open(path, "rb") as src, open(tmp, "wb", buffering=1 << 20) as dst:
        for line in src:
            data = orjson.loads(line)
            new = renames.get(data.get("id"))
            if new is not None:
                data["id"] = new
                line = orjson.dumps(data) + b"\n"
            dst.write(line)
    os.replace(tmp, path)


def rejects_path_of(out: Path) -> Path:
    return out.with_name(out.name[:-6] + ".rejects.jsonl" if out.name.endswith(".jsonl")
                         else out.name + ".rejects.jsonl")


def run_import(srcs: tuple[Path, ...], mapping: str | None, key: bytes | None, out: Path,
               echo=lambda s: click.echo(s, err=True), workers: int | None = None,
               units: UnitResolver | None = None, today: dt.date | None = None) -> dict:
    """Import `srcs` (files or folders) into `out` (canonical JSONL) and
    `<out>.rejects.jsonl`; the counts, with `failed` listing the files that could not be
    read (their rows are left out; the others are imported).

    A large CSV file is converted on `workers` processes (default: up to 2 CPUs); the
    output is the same as on one. Raises SourceError when nothing can be imported (no
    file, a broken mapping) or an output cannot be written.
    """
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    sources = expand_sources(srcs, SUPPORTED_SUFFIXES)
    for line in sources.skipped_lines():
        echo(line)
    failed = list(sources.problems)
    for line in failed:
        echo(f"compliance: {line}")
    if not sources.files:
        if failed:
            raise NothingImported("ingen fil kunde importeras")
        raise SourceError(f"inga filer att importera (läses: {', '.join(SUPPORTED_SUFFIXES)})")
    loaded = None
    if any(s.suffix.lower() in (".csv", ".xlsx") for s in sources.files):
        loaded = load_mapping(mapping)
    check = _validator()
    rejects_path = rejects_path_of(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{display(out.parent)}: mappen kan inte skapas ({exc.strerror or exc})") from None
    births = BirthDates(today)
    fo = _Output(_tmp(out), out, 1 << 20)
    try:
        fr = _Output(_tmp(rejects_path), rejects_path, 1 << 16)
    except OutputError:
        fo.discard()
        raise
    writer = ImportWriter(fo, fr, births)
    totals = {"rows": 0, "events": 0, "rejects": 0, "duplicates": 0, "personnummer": 0}
    imported = 0
    try:
        for src in sources.files:
            name = display(src)
            stats: dict = {"personnummer": 0}
            writer.start(name)
            try:
                if _parallel(src, workers):
                    from .parallel import import_csv
                    import_csv(src, loaded, key, units, stats, check, writer, workers)
                else:
                    write_records(iter_source_records(src, loaded, key, units=units, stats=stats,
                                                     check=check), writer)
            except OutputError:
                raise
            except (SourceError, OSError) as exc:
                read = writer.counts["rows"]
                writer.forget_file()
                why = str(exc) if isinstance(exc, SourceError) else f"{name}: kan inte läsas ({exc.strerror or exc})"
                echo(f"compliance: {why}" + (f" (de {read} rader som lästes före felet räknas inte)"
                                             if read else ""))
                failed.append(why)
                continue
            c = writer.counts
            dups = writer.merger.counts[writer.file_no]
            note = "" if c["events"] or dups.total or not c["rows"] else " (inga giltiga rader)"
            line = f"{name}: {c['rows']} rader, {c['events']} händelser, {c['rejects']} avvisade{note}"
            if dups.other_files:
                line += f"; dubbletter: {number_sv(dups.other_files)} (samma händelse i flera filer)"
            if dups.same_file:
                line += f"; dubbletter: {number_sv(dups.same_file)} (samma händelse på flera rader)"
            echo(line)
            imported += 1
            for k in ("rows", "events", "rejects"):
                totals[k] += c[k]
            totals["duplicates"] += dups.total
            totals["personnummer"] += stats.get("personnummer", 0)
        if not imported:
            raise NothingImported("ingen fil kunde importeras")
        fo.close()
        fr.close()
        renames = writer.merger.renames()
        if renames:
            try:
                _apply_renames(fo.tmp, renames)
            except OSError as exc:
                raise OutputError(f"{display(out)}: kan inte skrivas ({exc.strerror or exc})") from None
        try:
            os.replace(fo.tmp, out)
            os.replace(fr.tmp, rejects_path)
        except OSError as exc:
            raise OutputError(f"{display(out)}: kan inte skrivas ({exc.strerror or exc})") from None
    finally:
        fo.discard()
        fr.discard()
    if imported > 1:
        echo(f"totalt: {totals['rows']} rader, {totals['events']} händelser, {totals['rejects']} avvisade"
             + (f", {number_sv(totals['duplicates'])} dubbletter" if totals["duplicates"] else ""))
    if totals["rejects"]:
        echo(f"avvisade rader med skäl: {display(rejects_path)}")
    if totals["rows"] and not totals["events"] and not totals["duplicates"]:
        echo("importen gav inga händelser: alla rader avvisades")
    if units is not None and units.summary_line():
        echo(units.summary_line())
    for warning in births.warnings():
        echo(f"varning: {warning}")
    if key is None and totals["personnummer"]:
        echo(f"ingen pseudonymnyckel (--key-file eller {KEY_ENV}): personnumren validerades och "
             "togs bort, men ingen personpseudonym skapades")
    elif key is not None and totals["personnummer"]:
        echo("personpseudonymer: HMAC-SHA256 under den angivna nyckeln")
    totals["rejects_path"] = str(rejects_path)
    totals["failed"] = failed
    totals["unknown_units"] = units.unknown_units() if units is not None else []
    totals["warnings"] = births.warnings()
    return totals


@click.command("import")
@click.argument("src", nargs=-1, required=True, metavar="KÄLLA...", type=click.Path(path_type=Path))
@click.option("--mapping", "mapping", default=None, metavar="NAMN|FIL",
              help="Mappning för .csv/.xlsx: ett medföljande namn (standard-sv) eller en TOML-fil.")
@click.option("--key-file", type=click.Path(path_type=Path), default=None,
              help=f"Hemlig nyckel för personpseudonymer (HMAC-SHA256); annars ${KEY_ENV}.")
@click.option("--units", "units_path", type=click.Path(path_type=Path), default=None,
              help="Enhetsregister (units.toml/.json): namn och alias blir enhetens id.")
@click.option("--strict-units", is_flag=True,
              help="Avvisa rader med en verksamhet som inte finns i enhetsregistret.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Loggen som skrivs (.jsonl).")
def import_cmd(src: tuple[Path, ...], mapping: str | None, key_file: Path | None,
               units_path: Path | None, strict_units: bool, out: Path) -> None:
    """Importera exporter från verksamhetssystem (.csv, .xlsx, .xes, eller mappar med
    sådana) till en kanonisk händelselogg."""
    if strict_units and units_path is None:
        raise click.UsageError("--strict-units kräver --units")
    try:
        key = read_key(key_file)
        units = load_register(units_path).resolver(strict_units) if units_path is not None else None
        totals = run_import(src, mapping, key, out, units=units)
    except NothingImported:
        sys.exit(1)            # each file's reason is on stderr already
    except UnitRegisterError as exc:
        _fail(str(exc))
    except SourceError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{display(getattr(exc, 'filename', '') or out)}: {exc.strerror or exc}")
    except Exception as exc:  # never a traceback for the user
        _fail(f"importen avbröts: {type(exc).__name__}: {exc}")
    if totals["failed"]:
        sys.exit(1)


@click.command("export")
@click.argument("log", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["xes"]), default="xes", show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Filen som skrivs (.xes).")
def export_cmd(log: Path, fmt: str, out: Path) -> None:
    """Exportera en kanonisk händelselogg som IEEE 1849 XES (för PM4Py, ProM, ...)."""
    from .files import not_a_file
    from .xes import export_xes

    why = not_a_file(log)
    if why is not None:
        _fail(f"{display(log)}: {why}")
    check = _validator()
    rejects_path = out.with_name(out.name + ".rejects.jsonl")
    rejected: list[bytes] = []

    def validate(lineno: int, line: bytes, data: dict) -> str | None:
        return check(Record(str(log), lineno, line.decode("utf-8", "replace").rstrip("\n"), data, None))

    def on_reject(lineno: int, reason: str, raw: str) -> None:
        rejected.append(orjson.dumps({"file": display(log), "line": lineno, "reason": reason,
                                      "raw": redact_raw(raw)}))

    tmp = _tmp(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            n_events, n_traces = export_xes(log, tmp, validate=validate, on_reject=on_reject)
        except OSError as exc:
            if exc.filename is not None and Path(exc.filename) == log:
                raise
            _fail(f"{display(out)}: kan inte skrivas ({exc.strerror or exc})")
        os.replace(tmp, out)
        if rejected:
            rejects_path.write_bytes(b"\n".join(rejected) + b"\n")
    except OSError as exc:
        _fail(f"{display(getattr(exc, 'filename', '') or log)}: {exc.strerror or exc}")
    except Exception as exc:
        _fail(f"exporten avbröts: {type(exc).__name__}: {exc}")
    finally:
        if tmp.exists():
            tmp.unlink()
    click.echo(f"{display(log)}: {n_events} händelser i {n_traces} ärenden -> {display(out)}"
               + (f"; {len(rejected)} avvisade rader: {display(rejects_path)}" if rejected else ""), err=True)
