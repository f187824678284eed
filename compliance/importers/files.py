"""Which files a command reads: files as given, folders expanded to the files it knows.

`compliance import DIR` and `compliance scan DIR` read the files with a known suffix
(`.csv`, `.xlsx`, `.xes`; the scan also `.jsonl`); any other file is listed as skipped,
not an error, so that a folder with a README or a script in it still imports. A name
that is not a regular file (a named pipe, a device, `-` for standard input) is refused
saying what it is: every reader needs to read a file more than once or seek in it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..privacy import redact

# What an import writes beside its log: never an input.
REJECTS_SUFFIX = ".rejects.jsonl"


@dataclass
class Sources:
    """The outcome of expanding the command line: the files to read (in a stable order),
    the files passed over with why, and one line for each name that cannot be read."""
    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def skipped_lines(self) -> list[str]:
        return [f"{display(p)}: hoppas över ({why})" for p, why in self.skipped]


def display(path: Path | str) -> str:
    """A path as messages show it (a personal number in a file name blanked)."""
    return redact(str(path))


def not_a_file(path: Path | str) -> str | None:
    """What a name is when it is not a regular file one can read, in Swedish; None for a
    regular file (following symbolic links)."""
    if str(path) == "-":
        return "standardinmatning ('-') stöds inte; spara exporten som en fil och ange filen"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "filen finns inte"
    except OSError as exc:
        return f"kan inte läsas ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "är en mapp"
    if stat.S_ISFIFO(mode):
        return "är en namngiven pipe (FIFO), ingen vanlig fil; spara exporten som en fil först"
    if stat.S_ISSOCK(mode):
        return "är en socket, ingen vanlig fil"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "är en enhetsfil, ingen vanlig fil"
    return "är ingen vanlig fil"


def expand_sources(paths: Iterable[Path | str], suffixes: Iterable[str]) -> Sources:
    """Files as given and folders walked (sorted, symbolic links to folders and hidden
    folders not followed),
    keeping the files whose suffix is in `suffixes` (lower case, with the dot). A file
    named twice (or also found in a named folder) is read once."""
    known = {s.lower() for s in suffixes}
    out = Sources()
    seen: set[str] = set()

    def take(p: Path, named: bool) -> None:
        if p.name.lower().endswith(REJECTS_SUFFIX):
            out.skipped.append((str(p), "avvisade rader från en import, ingen export"))
            return
        why = not_a_file(p)
        if why is not None:
            if named:
                out.problems.append(f"{display(p)}: {why}")
            else:
                out.skipped.append((str(p), why))
            return
        if p.suffix.lower() not in known:
            out.skipped.append((str(p), f"okänd filändelse {p.suffix or '(ingen)'!r}; "
                                        f"läses: {', '.join(sorted(known))}"))
            return
        real = os.path.realpath(p)
        if real in seen:
            out.skipped.append((str(p), "redan med"))
            return
        seen.add(real)
        out.files.append(p)

    for given in paths:
        p = Path(given)
        if str(given) != "-" and p.is_dir():
            for folder, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))   # .git, .cache, ...
                for n in sorted(names):
                    take(Path(folder) / n, named=False)
        else:
            take(p, named=True)
    return out
