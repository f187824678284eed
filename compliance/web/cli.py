"""`compliance serve` and `compliance users`: the review app and its users. Registered on
the main command line by compliance/cli.py.

Exit status as everywhere: 0 ran, 2 usage, 1 could not (no store, a taken name, an
unknown user), with one Swedish line on stderr.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from ..state.cli import _open, _stockholm, state_option

T = TypeVar("T")


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"compliance: {message}", err=True)
    sys.exit(code)


@click.command("serve")
@state_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Adressen servern lyssnar på.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Porten.")
@click.option("--units", "units_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Enhetsregister (units.toml/.json): enheternas namn i stället för id.")
@click.option("--rules", "rules_dir", metavar="MAPP", type=click.Path(path_type=Path, file_okay=False),
              help="Mapp med regelfiler (standard: de medföljande), för regeltitlar och källor.")
@click.option("--trusted-header", metavar="NAMN",
              help="Inloggning via organisationens inloggningsproxy: rubriken som bär användarnamnet.")
@click.option("--trusted-proxy", metavar="ADRESS",
              help="Proxyns adress; rubriken godtas bara härifrån (krävs med --trusted-header).")
@click.option("--session-hours", type=click.FloatRange(0.1, 24), default=8.0, show_default=True,
              help="Hur länge en inloggning gäller som längst.")
def serve(state: str, host: str, port: int, units_path: Path | None, rules_dir: Path | None,
          trusted_header: str | None, trusted_proxy: str | None, session_hours: float) -> None:
    """Starta granskningsappen: enhetschefer loggar in, ser sina enheters brister och fattar beslut."""
    if bool(trusted_header) != bool(trusted_proxy):
        _fail("--trusted-header och --trusted-proxy anges tillsammans", 2)
    if trusted_proxy:
        try:
            trusted_proxy = str(ipaddress.ip_address(trusted_proxy))
        except ValueError:
            _fail(f"--trusted-proxy {trusted_proxy!r} är ingen IP-adress", 2)
    from ..deviations import check_templates
    from ..resources import ResourceError
    from ..state.errors import StateError
    from ..units import UnitRegisterError
    from .app import WebConfig, create_app
    from .server import serve as run

    config = WebConfig(state=state, units_path=units_path, rules_dir=rules_dir, trusted_header=trusted_header,
                       trusted_proxy=trusted_proxy, session_hours=session_hours)
    store = _open(state)
    try:
        app = create_app(config, store)
        app.state.review.rulebook.ruleset()          # a broken rules folder: one line now, not a 500 later
        check_templates(word=True, overview=False)    # so is a broken draft template
    except (StateError, UnitRegisterError, ResourceError) as exc:
        store.close()
        _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - a rule file's error, one line
        store.close()
        _fail(f"regelfilerna kan inte läsas: {exc}")
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Granskningsappen: http://{shown}:{port}/ ({store.display}); SIGTERM eller Ctrl-C stoppar.",
               err=True)
    try:
        run(app, host, port, trusted_proxy=trusted_proxy)
    except OSError as exc:
        _fail(f"kan inte lyssna på {host}:{port}: {exc.strerror or exc}")
    click.echo("Granskningsappen stoppad.", err=True)


@click.group("users")
def users() -> None:
    """Granskningsappens användare: lägg till, lista, stäng av, byt lösenord."""


def _in_store(state: str, action: Callable[[Any], T]) -> T:
    """Run `action(store)` on the store at `state`: its StateError is one line and exit 1."""
    from ..state.errors import StateError
    store = _open(state)
    try:
        return action(store)
    except StateError as exc:
        _fail(str(exc))
    finally:
        store.close()


def _password_from_stdin() -> str:
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        _fail("inget lösenord på standard in", 2)
    return password


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["enhetschef", "samordnare", "revisor", "admin"]),
              help="enhetschef (med --unit), samordnare, revisor eller admin.")
@click.option("--unit", "units", multiple=True, metavar="ENHET", help="En enhet som enhetschefen ansvarar för (kan upprepas).")
@click.option("--password-stdin", is_flag=True,
              help="Läs lösenordet från standard in (första raden). Utan: inloggning bara via proxyn.")
@state_option
def users_add(name: str, role: str, units: tuple[str, ...], password_stdin: bool, state: str) -> None:
    """Lägg till en användare."""
    from ..state.users import add_user
    from .passwords import WeakPassword, hash_password
    if units and role != "enhetschef":
        _fail("--unit gäller bara rollen enhetschef", 2)
    password_hash = None
    if password_stdin:
        try:
            password_hash = hash_password(_password_from_stdin())
        except WeakPassword as exc:
            _fail(str(exc), 2)
    user = _in_store(state, lambda s: add_user(s, name, role, units, password_hash=password_hash))
    how = "med lösenord" if password_hash else "utan lösenord (bara via inloggningsproxyn)"
    click.echo(f"Användaren {user.name} lades till som {user.role}"
               + (f" för {', '.join(user.units)}" if user.units else "") + f", {how}.", err=True)


@users.command("list")
@state_option
def users_list(state: str) -> None:
    """Lista användarna med roll, enheter och läge."""
    from ..state.users import list_users
    found = _in_store(state, list_users)
    rows = [(u.name, u.role, ", ".join(u.units), "lösenord" if u.password_hash else "proxy",
             "avstängd" if u.disabled else "aktiv") for u in found]
    head = ("namn", "roll", "enheter", "inloggning", "läge")
    widths = [max([len(head[i])] + [len(r[i]) for r in rows]) for i in range(len(head))]
    for r in [head, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    click.echo(f"{len(rows)} användare", err=True)


@users.command("disable")
@click.argument("name")
@state_option
def users_disable(name: str, state: str) -> None:
    """Stäng av en användare (kan inte logga in; besluten finns kvar)."""
    from ..state.users import disable_user
    _in_store(state, lambda s: disable_user(s, name))
    click.echo(f"Användaren {name} är avstängd.", err=True)


@users.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, required=True, help="Läs det nya lösenordet från standard in.")
@state_option
def users_set_password(name: str, password_stdin: bool, state: str) -> None:
    """Byt en användares lösenord."""
    from ..state.users import set_password_hash
    from .passwords import WeakPassword, hash_password
    try:
        password_hash = hash_password(_password_from_stdin())
    except WeakPassword as exc:
        _fail(str(exc), 2)
    _in_store(state, lambda s: set_password_hash(s, name, password_hash))
    click.echo(f"Lösenordet för {name} är bytt.", err=True)


@users.command("sign-ins")
@click.option("--user", "user_name", metavar="NAMN", help="Bara den här användarens försök.")
@click.option("--limit", type=click.IntRange(1, 100000), default=200, show_default=True, help="Hur många, senaste först.")
@state_option
def users_sign_ins(user_name: str | None, limit: int, state: str) -> None:
    """Visa inloggningsförsöken (revisionsspåret): vem, när, varifrån, utfall."""
    from ..privacy import clean_text
    from ..state.users import sign_in_history
    trail = _in_store(state, lambda s: sign_in_history(s, user_name, limit=limit))
    for s in trail:
        click.echo(f"{_stockholm(s.at)}  {clean_text(s.user_name)}  från {s.address or 'okänd'}  "
                   f"{'lyckades' if s.success else 'misslyckades'}")
