"""The `compliance` command line (click).

Exit status: 0 when a command ran (whatever it found), 2 for a usage error, 1 when it could
not run, with a one-line reason on stderr and never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import NoReturn

import click
import pendulum

from . import __version__
from . import calendar as vardagar
from .rules import RuleError
from .units import UnitRegisterError


RULES_DIR_HELP = "Mapp med regelfiler (standard: de medföljande reglerna)."


def _fail(message: str) -> NoReturn:
    click.echo(f"compliance: {message}", err=True)
    sys.exit(1)


def _usage_error(message: str) -> NoReturn:
    """Exit 2 with one Swedish line (click's own usage errors are English, several lines)."""
    click.echo(f"compliance: {message}", err=True)
    sys.exit(2)


def _today_stockholm() -> dt.date:
    return pendulum.now("Europe/Stockholm").date()


def _date(value: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        _usage_error(f"{what} {value!r} är inget datum ÅÅÅÅ-MM-DD")


def _calendar_years() -> str:
    return f"vardagskalendern omfattar åren {vardagar.MIN_YEAR}–{vardagar.MAX_YEAR}"


def _outside_calendar(what: str) -> NoReturn:
    _usage_error(f"{what} ligger utanför kalendern: {_calendar_years()}")


def _as_of(value: str | None, warn_days: int = 0) -> dt.date:
    """The as-of date, which every deadline and the warning horizon are counted from, so
    it and `warn_days` business days after it must lie inside the calendar."""
    day = _today_stockholm() if value is None else _date(value, "--as-of")
    if not vardagar.FIRST_DAY <= day <= vardagar.LAST_DAY:
        _outside_calendar(f"--as-of {day}")
    last = vardagar.last_as_of(warn_days)
    if day > last:
        _usage_error(f"--as-of {day}: varningshorisonten, {warn_days} vardagar framåt (--warn-days), går "
                     f"förbi kalenderns sista dag {vardagar.LAST_DAY}; senaste bedömningsdag med "
                     f"--warn-days {warn_days} är {last}")
    return day


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="compliance")
def main() -> None:
    """Granskar ärendeloggar mot BUS-överenskommelser och lagen om SIP."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--as-of", "as_of", help="Bedömningsdag ÅÅÅÅ-MM-DD (standard: i dag i Stockholm).")
@click.option("--rules", "rules_dir", metavar="MAPP", type=click.Path(path_type=Path), help=RULES_DIR_HELP)
@click.option("--units", "units_path", type=click.Path(path_type=Path), help="Enhetsregister (units.toml/.json).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Utmapp.")
@click.option("--mapping", help="Mappning för CSV/Excel-exporter (namn eller fil); standard: standard-sv.")
@click.option("--workers", type=click.IntRange(1, 64), help="Antal arbetsprocesser (standard: 2).")
@click.option("--report", is_flag=True, help="Skriv även Word-, Excel- och HTML-rapporter.")
@click.option("--warn-days", type=click.IntRange(0, 365), default=5, show_default=True,
              help="Varna för det som förfaller inom så många vardagar.")
@click.option("--profile", default="core", show_default=True,
              help="Överenskommelse (profil) att granska mot, t.ex. skarpnack-2018 eller gotland-2013.")
@click.option("--no-docx", "no_docx", is_flag=True,
              help="Med --report: avvikelseutkasten bara som Markdown, inga Word-filer.")
@click.option("--state", "state", metavar="URL",
              help="Tillstånd att spara körningen i (en fil, sqlite:///SÖKVÄG eller postgresql://…): "
                   "skriver changes.jsonl och låter utkasten och listorna följa granskningsbesluten.")
@click.option("--full", "full", is_flag=True,
              help="Med --state: bedöm alla ärenden på nytt, även de vars resultat från en tidigare "
                   "körning fortfarande gäller.")
@click.option("--strict-units", is_flag=True,
              help="Med --units: avvisa rader med en verksamhet som inte finns i enhetsregistret.")
def scan(paths, as_of, rules_dir, units_path, out_dir, mapping, workers, report, warn_days, profile,
         no_docx, state, full, strict_units):
    """Granska ärendeloggar och skriv brister, avvisade rader och avvikelseutkast."""
    from .durable import EngineUnavailable, load_engine
    from .progress import progress_bar
    from .scan import ScanError, ScanInterrupted, run_scan, summary_lines
    as_of_date = _as_of(as_of, warn_days)
    _check_profile(profile)
    if strict_units and units_path is None:
        _usage_error("--strict-units kräver --units")
    try:
        load_engine()    # here, so that a broken engine is one line, not a dead worker pool
    except EngineUnavailable as exc:
        _fail(f"regelmotorn fungerar inte: {exc}")
    try:
        result = run_scan(paths, as_of_date, rules_dir=rules_dir, units_path=units_path,
                          out_dir=out_dir, workers=workers, mapping=mapping, report=report,
                          progress_factory=progress_bar("händelser", "Granskar"), warn_days=warn_days,
                          profile=profile, docx=not no_docx,
                          drafts_progress=progress_bar("fynd", "Avvikelseutkast"), state=state,
                          full=full, strict_units=strict_units)
    except ScanError as exc:       # one line per file that could not be read, then why
        *first, last = str(exc).splitlines() or [""]
        for line in first:
            click.echo(f"compliance: {line}", err=True)
        _fail(last)
    except (RuleError, UnitRegisterError) as exc:
        _fail(str(exc))
    except ScanInterrupted as exc:      # SIGTERM, SIGHUP, Ctrl-C: 143, 129, 130
        click.echo(f"compliance: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("compliance: avbruten av Ctrl-C (SIGINT); inget skrevs, tidigare utdata är orörda", err=True)
        sys.exit(130)
    for line in summary_lines(result):
        click.echo(line, err=True)
    click.echo(f"Utdata: {out_dir}", err=True)
    if result.errors:
        _fail(f"{len(result.errors)} ärenden kunde inte bedömas (se {out_dir}/errors.jsonl)")
    failed = result.input_report.failed
    if failed:
        _fail(f"{len(failed)} {'fil' if len(failed) == 1 else 'filer'} kunde inte läsas; utdata bygger på de övriga")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="LOGG...")
@click.option("--case", "case", required=True, help="Ärendet (pseudonymen) att gå igenom.")
@click.option("--as-of", "as_of", help="Bedömningsdag ÅÅÅÅ-MM-DD (standard: i dag i Stockholm).")
@click.option("--profile", default="core", show_default=True, help="Överenskommelse (profil).")
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json"]), default="text", show_default=True,
              help="text på skärmen, md som bilaga till en rapport, json för system.")
@click.option("--rules", "rules_dir", metavar="MAPP", type=click.Path(path_type=Path), help=RULES_DIR_HELP)
@click.option("--units", "units_path", type=click.Path(path_type=Path), help="Enhetsregister (namn i stället för id).")
@click.option("--mapping", help="Mappning för CSV/Excel-exporter (namn eller fil).")
@click.option("--warn-days", type=click.IntRange(0, 365), default=5, show_default=True,
              help="Varna för det som förfaller inom så många vardagar.")
def replay(paths, case, as_of, profile, fmt, rules_dir, units_path, mapping, warn_days):
    """Gå igenom ett ärende steg för steg: händelser, frister med uträkning, bedömningar och fynd."""
    import json as _json
    from .reading import JSONL_SUFFIXES, ReadError, expand_paths
    from .replay import ReplayError, render_text, replay as run_replay
    from .units import load_register
    as_of_date = _as_of(as_of, warn_days)
    _check_profile(profile)
    try:
        from .importers import SUPPORTED_SUFFIXES
        files = expand_paths(paths, JSONL_SUFFIXES | set(SUPPORTED_SUFFIXES))
        register = load_register(units_path)
        data = run_replay(files, case, as_of_date, profile, rules_dir, mapping, warn_days, register.units,
                          register.resolver())
    except ReplayError as exc:
        if exc.usage:
            raise click.UsageError(str(exc)) from None
        _fail(str(exc))
    except (ReadError, RuleError, UnitRegisterError, OSError) as exc:
        _fail(str(exc))
    if fmt == "json":
        click.echo(_json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(render_text(data, markdown=fmt == "md"), nl=False)


@main.command()
@click.argument("dates", nargs=-1)
@click.option("--year", type=int, help="Lista årets helgdagar och aftnar som inte är vardagar.")
def calendar(dates, year):
    """Vardagsfakta: är dagen en vardag, rulla framåt/bakåt, vardagar mellan två dagar."""
    if year is not None and not vardagar.MIN_YEAR <= year <= vardagar.MAX_YEAR:
        _outside_calendar(f"--year {year}")
    parsed = [_date(d, "datumet") for d in dates]
    for d in parsed:
        if not vardagar.FIRST_DAY <= d <= vardagar.LAST_DAY:
            _outside_calendar(str(d))
    try:
        if year is not None:
            for day, reason in vardagar.year_facts(year):
                click.echo(f"{day.isoformat()}  {reason}")
            return
        if not dates:
            raise click.UsageError("ange datum eller --year")
        for d in parsed:
            f = vardagar.day_facts(d)
            status = "vardag" if f["business_day"] else f"inte vardag ({f['reason']})"
            click.echo(f"{f['date']} {f['weekday']}: {status}; framåt {f['roll_forward']}, "
                       f"bakåt {f['roll_back']}")
        if len(parsed) == 2:
            a, b = parsed
            click.echo(f"vardagar efter {a} till och med {b}: {vardagar.business_days_between(a, b)}")
    except ValueError:   # a roll past the first or last day of the calendar
        _fail(f"närmaste vardag framåt eller bakåt ligger utanför kalendern: {_calendar_years()}")


def _check_profile(name: str) -> None:
    """An unknown profile is a usage error (exit 2) naming the known ones."""
    from .profiles import ProfileError, load_profiles
    try:
        known = load_profiles()
    except ProfileError as exc:
        _fail(str(exc))
    if name not in known:
        raise click.BadParameter(f"okänd profil {name!r} (kända: {', '.join(sorted(known))})",
                                 param_hint="'--profile'")


@main.group()
def rules():
    """Lista, visa och validera regelfiler."""


def _version_line(v) -> str:
    period = f"{v.valid_from}–{v.valid_to}" if v.valid_to else f"från {v.valid_from}"
    return f"version {v.valid_from} (gäller {period})"


@rules.command("list")
@click.option("--rules", "rules_dir", metavar="MAPP", type=click.Path(path_type=Path), help=RULES_DIR_HELP)
@click.option("--profile", default="core", show_default=True, help="Profilen (överenskommelsen) att visa.")
@click.option("--on", "on_date", help="Visa bara det som gällde den dagen (ÅÅÅÅ-MM-DD).")
def rules_list(rules_dir, profile, on_date):
    """Lista profilens regler med versioner, giltighet och källor."""
    from .profiles import select
    from .rules import load_ruleset
    from .sources import citation_sv
    _check_profile(profile)
    day = _date(on_date, "--on") if on_date else None
    try:
        selection = select(load_ruleset(rules_dir), profile)
    except RuleError as exc:
        _fail(str(exc))
    p = selection.profile
    valid = (f", gäller {p.valid_from or '…'}–{p.valid_to or ''}" if p.valid_from or p.valid_to else "")
    click.echo(f"Profil {p.name}: {p.title}{valid}")
    if day is not None and not p.in_force(day):
        click.echo(f"  Profilen gällde inte {day}.")
        return
    for r in selection.rules:
        versions = [v for v in r.version if day is None or v.in_force(day)]
        if day is not None and not versions:
            click.echo(f"{r.id:28} {r.title} — regeln gällde inte {day}")
            continue
        click.echo(f"{r.id:28} {r.title}")
        for v in versions:
            click.echo(f"    {_version_line(v)}")
            for c in v.sources:
                click.echo(f"      källa: {citation_sv(c)}")
    if selection.outside:
        click.echo("Regler i mappen som profilen inte använder: " + ", ".join(selection.outside))


@rules.command("show")
@click.argument("rule_id", metavar="REGEL-ID")
@click.option("--rules", "rules_dir", metavar="MAPP", type=click.Path(path_type=Path), help=RULES_DIR_HELP)
def rules_show(rule_id, rules_dir):
    """Visa en regel: versioner, parametrar, källor med citat, och mönstren."""
    from .rules import load_ruleset
    from .sources import citation_sv
    try:
        rule = load_ruleset(rules_dir).by_id(rule_id)
    except RuleError as exc:
        _fail(str(exc))
    if rule is None:
        _fail(f"ingen regel med id {rule_id!r}")
    click.echo(f"{rule.id}: {rule.title}")
    click.echo(f"  profiler: {', '.join(rule.profiles)}; utkast: {rule.draft.affected}")
    for v in rule.version:
        click.echo(f"  {_version_line(v)}")
        for c in v.sources:
            click.echo(f"    källa: {citation_sv(c)}")
            if c.quote:
                click.echo(f'      "{c.quote}"')
        for k, value in v.params.items():
            click.echo(f"    {k} = {value}")
    for d in rule.derive:
        click.echo(f"  härleder {d.fact}{' (' + d.name + ')' if d.name else ''}: "
                   + ", ".join(f"{k} = {e}" for k, e in d.set.items()))
    for w in rule.when:
        click.echo(f"  när {w.name} ({w.status}): " + " ; ".join(
            (f"använd {p.use}({', '.join(f'{k}={v}' for k, v in p.args.items())})" if p.use else
             ("inget " if p.none else f"{p.alias}=") + (p.fact or "") + (f" [{', '.join(p.where)}]" if p.where else ""))
            for p in w.facts))


@rules.command("validate")
@click.option("--rules", "rules_dir", metavar="MAPP", type=click.Path(path_type=Path), help=RULES_DIR_HELP)
def rules_validate(rules_dir):
    """Kontrollera regelfilerna, de delade begreppen, källorna och profilerna, också mot
    regelmotorn (i en egen process)."""
    from .doctor import EngineBroken, RulesRejected, check
    from .profiles import load_profiles
    from .scan import prepare
    definitions = []
    for name in load_profiles():     # each profile compiles to its own ruleset
        try:
            ruleset, _, program = prepare(rules_dir, name)
        except RuleError as exc:
            _fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - a compiler fault is reported, not raised
            _fail(f"profilen {name} kunde inte översättas till regelmotorns regler: {type(exc).__name__}: {exc}")
        definitions.append(json.dumps(program.definition))
    try:
        check(definitions, decide=False)
    except RulesRejected as exc:
        _fail(str(exc))
    except EngineBroken as exc:
        _fail(f"regelfilerna kunde inte prövas, regelmotorn fungerar inte: {exc}")
    click.echo(f"{len(ruleset.rules)} regelfiler är giltiga.")


@main.command()
def doctor():
    """Kontrollera att regelmotorn laddas och bedömer ett provfall rätt på den här datorn."""
    from .doctor import EngineBroken, check
    try:
        health = check()
    except EngineBroken as exc:
        _fail(f"regelmotorn fungerar inte: {exc}")
    for line in health.lines():
        click.echo(line)


def _add_subpackage_commands() -> None:
    """The commands of the importers and of the reports, defined beside their code."""
    from .importers.cli import export_cmd, import_cmd
    from .reporting.cli import report
    from .state.cli import review
    from .web.cli import serve, users
    main.add_command(import_cmd, "import")
    main.add_command(export_cmd, "export")
    main.add_command(report, "report")
    main.add_command(review, "review")
    main.add_command(serve, "serve")
    main.add_command(users, "users")


_add_subpackage_commands()
