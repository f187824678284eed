"""`compliance users …` and `compliance serve`'s refusals on the command line (SQLite and
PostgreSQL): one Swedish line and the exit status of every command."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from compliance.cli import main
from compliance.state import get_user, open_store, record_decision
from compliance.web.passwords import check_password
from web_support import filled_url, ids, new_store_url, store_url  # noqa: F401


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def test_users_are_added_listed_disabled_and_given_passwords(filled_url):
    added = run("users", "add", "cilla", "--role", "enhetschef", "--unit", "bup-farsta", "--unit", "skola-syd",
                "--password-stdin", "--state", filled_url, stdin="ett-långt-lösenord\n")
    assert added.exit_code == 0, added.output
    assert "Användaren cilla lades till som enhetschef för bup-farsta, skola-syd, med lösenord." in added.output
    with open_store(filled_url) as store:
        cilla = get_user(store, "cilla")
    assert cilla.password_hash.startswith("$argon2id$") and "ett-långt" not in cilla.password_hash
    assert check_password(cilla.password_hash, "ett-långt-lösenord")

    sso = run("users", "add", "dag", "--role", "revisor", "--state", filled_url)
    assert sso.exit_code == 0 and "utan lösenord (bara via inloggningsproxyn)" in sso.output

    listed = run("users", "list", "--state", filled_url)
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["namn", "roll", "enheter", "inloggning", "läge"]
    assert any(line.split()[:2] == ["cilla", "enhetschef"] and "bup-farsta, skola-syd" in line for line in lines)
    assert any(line.split() == ["dag", "revisor", "proxy", "aktiv"] for line in lines)

    assert run("users", "set-password", "cilla", "--password-stdin", "--state", filled_url,
               stdin="ett-annat-lösenord\n").exit_code == 0
    assert run("users", "disable", "cilla", "--state", filled_url).exit_code == 0
    with open_store(filled_url) as store:
        cilla = get_user(store, "cilla")
    assert cilla.disabled and check_password(cilla.password_hash, "ett-annat-lösenord")
    assert "avstängd" in run("users", "list", "--state", filled_url).stdout


def test_users_commands_refuse_with_one_line(filled_url, tmp_path):
    cases = [
        (["users", "add", "anna", "--role", "revisor", "--state", filled_url], 1, "finns redan"),
        (["users", "add", "x", "--role", "enhetschef", "--state", filled_url], 1, "minst en enhet"),
        (["users", "add", "x", "--role", "revisor", "--unit", "u", "--state", filled_url], 2, "bara rollen enhetschef"),
        (["users", "add", "x", "--role", "revisor", "--password-stdin", "--state", filled_url], 2, "inget lösenord"),
        (["users", "disable", "nobody", "--state", filled_url], 1, "ingen användare"),
        (["users", "set-password", "nobody", "--password-stdin", "--state", filled_url], 1, "ingen användare"),
        (["users", "list", "--state", str(tmp_path / "missing.db")], 1, "finns inte"),
    ]
    for args, code, words in cases:
        stdin = "ett-långt-lösenord\n" if args[1] == "set-password" else ""
        got = run(*args, stdin=stdin)
        assert got.exit_code == code, (args, got.output)
        if words:
            assert words in got.output and len(got.stderr.strip().splitlines()) == 1, got.output
    short = run("users", "set-password", "anna", "--password-stdin", "--state", filled_url, stdin="kort\n")
    assert short.exit_code == 2 and "minst 10 tecken" in short.output


def test_sign_ins_and_web_decisions_show_on_the_command_line(filled_url):
    from compliance.state import record_sign_in
    with open_store(filled_url) as store:
        record_sign_in(store, "anna", "10.0.0.7", False)
        record_sign_in(store, "anna", "10.0.0.7", True)
        record_decision(store, ids()["own"], "justified", by="anna", reason="Flyttat", source="web",
                        from_address="10.0.0.7")
    trail = run("users", "sign-ins", "--state", filled_url).stdout.splitlines()
    assert trail[0].endswith("anna  från 10.0.0.7  lyckades") and trail[1].endswith("misslyckades")
    history = run("review", "history", ids()["own"], "--state", filled_url).stdout
    assert "beslut av anna (web, från 10.0.0.7): motiverad" in history


def test_serve_refuses_what_it_cannot_serve(tmp_path, filled_url):
    def serve(*args):
        return subprocess.run([sys.executable, "-m", "compliance", "serve", *args], capture_output=True,
                              text=True, timeout=60)
    missing = serve("--state", str(tmp_path / "nothing.db"))
    assert missing.returncode == 1 and "finns inte" in missing.stderr and "Traceback" not in missing.stderr
    half = serve("--state", filled_url, "--trusted-header", "X-Remote-User")
    assert half.returncode == 2 and "tillsammans" in half.stderr
    bad = serve("--state", filled_url, "--trusted-header", "X-Remote-User", "--trusted-proxy", "proxy.lan")
    assert bad.returncode == 2 and "ingen IP-adress" in bad.stderr
    units = tmp_path / "units.toml"
    units.write_text("[[unit]\n", encoding="utf-8")
    broken = serve("--state", filled_url, "--units", str(units))
    assert broken.returncode == 1 and "enhetsregistret kan inte läsas" in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1
