"""The `compliance` command line (click).

Exit status: 0 when a command ran (whatever it found), 2 for a usage error, 1 when it could
not run, with a one-line reason on stderr and never a traceback.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
import pendulum

from . import __version__
from . import calendar as vardagar
from .rules import RuleError, load_rule, load_rules
from .units import UnitRegisterError


def _fail(message: str) -> None:
    click.echo(f"compliance: {message}", err=True)
    sys.exit(1)


def _today_stockholm() -> dt.date:
    return pendulum.now("Europe/Stockholm").date()


def _as_of(value: str | None) -> dt.date:
    if value is None:
        return _today_stockholm()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} är inget datum ÅÅÅÅ-MM-DD") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="compliance")
def main() -> None:
    """Granskar ärendeloggar mot BUS-överenskommelser och lagen om SIP."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--as-of", "as_of", help="Bedömningsdag ÅÅÅÅ-MM-DD (standard: i dag i Stockholm).")
@click.option("--rules", "rules_dir", type=click.Path(path_type=Path), help="Mapp med regelfiler.")
@click.option("--units", "units_path", type=click.Path(path_type=Path), help="Enhetsregister (units.toml/.json).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Utmapp.")
@click.option("--mapping", help="Mappning för CSV/Excel-exporter (namn eller fil); standard: standard-sv.")
@click.option("--workers", type=click.IntRange(1, 64), help="Antal arbetsprocesser (standard: 2).")
@click.option("--report", is_flag=True, help="Skriv även Word-, Excel- och HTML-rapporter.")
@click.option("--warn-days", type=click.IntRange(0, 365), default=5, show_default=True,
              help="Varna för det som förfaller inom så många vardagar.")
def scan(paths, as_of, rules_dir, units_path, out_dir, mapping, workers, report, warn_days):
    """Granska ärendeloggar och skriv brister, avvisade rader och avvikelseutkast."""
    from .scan import ScanError, run_scan, summary_lines
    as_of_date = _as_of(as_of)
    progress = None
    if sys.stderr.isatty():
        from tqdm import tqdm
        progress = lambda total: tqdm(total=total, unit="händelser", file=sys.stderr,  # noqa: E731
                                      desc="Granskar", leave=False)
    try:
        result = run_scan(paths, as_of_date, rules_dir=rules_dir, units_path=units_path,
                          out_dir=out_dir, workers=workers, mapping=mapping, report=report,
                          progress_factory=progress, warn_days=warn_days)
    except (ScanError, RuleError, UnitRegisterError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("avbruten; tidigare utdata är orörda")
    for line in summary_lines(result):
        click.echo(line, err=True)
    click.echo(f"Utdata: {out_dir}", err=True)
    if result.errors:
        _fail(f"{len(result.errors)} ärenden kunde inte bedömas (se {out_dir}/errors.jsonl)")


@main.command()
@click.argument("dates", nargs=-1)
@click.option("--year", type=int, help="Lista årets helgdagar och aftnar som inte är vardagar.")
def calendar(dates, year):
    """Vardagsfakta: är dagen en vardag, rulla framåt/bakåt, vardagar mellan två dagar."""
    try:
        if year is not None:
            for day, reason in vardagar.year_facts(year):
                click.echo(f"{day.isoformat()}  {reason}")
            return
        if not dates:
            raise click.UsageError("ange datum eller --year")
        parsed = [_as_of(d) for d in dates]
        for d in parsed:
            f = vardagar.day_facts(d)
            status = "vardag" if f["business_day"] else f"inte vardag ({f['reason']})"
            click.echo(f"{f['date']} {f['weekday']}: {status}; framåt {f['roll_forward']}, "
                       f"bakåt {f['roll_back']}")
        if len(parsed) == 2:
            a, b = parsed
            click.echo(f"vardagar efter {a} till och med {b}: {vardagar.business_days_between(a, b)}")
    except ValueError as exc:
        _fail(str(exc))


@main.group()
def rules():
    """Lista, visa och validera regelfiler."""


@rules.command("list")
@click.option("--rules", "rules_dir", type=click.Path(path_type=Path))
def rules_list(rules_dir):
    try:
        for r in load_rules(rules_dir):
            click.echo(f"{r.id:28} {r.version}  {r.title}")
    except RuleError as exc:
        _fail(str(exc))


@rules.command("show")
@click.argument("rule_id")
@click.option("--rules", "rules_dir", type=click.Path(path_type=Path))
def rules_show(rule_id, rules_dir):
    try:
        found = [r for r in load_rules(rules_dir) if r.id == rule_id]
    except RuleError as exc:
        _fail(str(exc))
    if not found:
        _fail(f"ingen regel med id {rule_id!r}")
    r = found[0]
    click.echo(f"{r.id} (version {r.version}): {r.title}")
    for s in r.sources:
        click.echo(f'  "{s.quote}" ({s.seed})')
    for k, v in r.params.items():
        click.echo(f"  {k} = {v}")
    for w in r.when:
        click.echo(f"  när {w.name}: " + " ; ".join(
            ("inget " if p.none else f"{p.alias}=") + p.fact + (f" [{', '.join(p.where)}]" if p.where else "")
            for p in w.facts))


@rules.command("validate")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--rules", "rules_dir", type=click.Path(path_type=Path))
def rules_validate(files, rules_dir):
    from .engine import compile_rules
    try:
        loaded = [load_rule(f) for f in files] if files else load_rules(rules_dir)
        compile_rules(loaded)
    except Exception as exc:  # noqa: BLE001 - a broken file (RuleError or other) is reported, not raised
        _fail(str(exc))
    click.echo(f"{len(loaded)} regelfiler är giltiga.")


def _add_subpackage_commands() -> None:
    """The commands of the importers and of the reports, defined beside their code."""
    from .importers.cli import export_cmd, import_cmd
    from .reporting.cli import report
    from .state.cli import review
    main.add_command(import_cmd, "import")
    main.add_command(export_cmd, "export")
    main.add_command(report, "report")
    main.add_command(review, "review")


_add_subpackage_commands()
