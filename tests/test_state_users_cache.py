"""The store's parts for the later steps: the review app's users and sign-in trail, and
each case's last result for incremental scans; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from compliance.state import (CaseResult, add_user, case_results_for, context_digest, disable_user,
                              failed_sign_ins, get_user, list_users, record_sign_in, recording,
                              set_password_hash, sign_in_history)
from compliance.state.cache import forget_cases_except
from compliance.state.users import UserError, set_units
from state_support import finding, new_store_url, run_info, store, store_url  # noqa: F401

UTC = dt.timezone.utc


def test_users_with_roles_and_units(store):
    anna = add_user(store, "anna", "enhetschef", ["bup-farsta", "bup-farsta", "skola"], password_hash="$argon2id$x")
    assert (anna.role, anna.units, anna.password_hash, anna.disabled) == (
        "enhetschef", ("bup-farsta", "skola"), "$argon2id$x", False)
    add_user(store, "rut", "revisor")
    assert [u.name for u in list_users(store)] == ["anna", "rut"]
    for name, role, units, words in [("anna", "revisor", (), "finns redan"), ("bo", "chef", (), "okänd roll"),
                                     ("bo", "enhetschef", (), "minst en enhet"),
                                     ("19121212-1212", "admin", (), "personnummer"), ("  ", "admin", (), "ange")]:
        with pytest.raises(UserError, match=words):
            add_user(store, name, role, units)
    set_units(store, "anna", ["soc"])
    set_password_hash(store, "anna", "$argon2id$y")
    disable_user(store, "anna")
    anna = get_user(store, "anna")
    assert (anna.units, anna.password_hash, anna.disabled) == (("soc",), "$argon2id$y", True)
    with pytest.raises(UserError, match="ingen användare"):
        disable_user(store, "nobody")
    assert get_user(store, "nobody") is None


def test_every_sign_in_attempt_is_kept_and_failures_can_be_counted(store):
    t0 = dt.datetime(2025, 3, 4, 8, 0, tzinfo=UTC)
    for minute, name, address, ok in [(0, "anna", "10.0.0.1", False), (1, "anna", "10.0.0.1", False),
                                      (2, "anna", "10.0.0.2", True), (3, "okänd", "10.0.0.1", False),
                                      (4, "19121212-1212", "10.0.0.9", False)]:
        record_sign_in(store, name, address, ok, at=t0 + dt.timedelta(minutes=minute))
    assert failed_sign_ins(store, t0, user_name="anna") == 2
    assert failed_sign_ins(store, t0, address="10.0.0.1") == 3
    assert failed_sign_ins(store, t0 + dt.timedelta(minutes=1, seconds=30), address="10.0.0.1") == 1
    trail = sign_in_history(store)
    assert [(s.user_name, s.success) for s in trail][:2] == [("[personnummer borttaget]", False), ("okänd", False)]
    assert trail[-1].at == t0 and trail[-1].address == "10.0.0.1"
    assert [s.success for s in sign_in_history(store, "anna")] == [True, False, False]


def _result(case: str, events: str, context: str, until: dt.date | None, n: int) -> CaseResult:
    return CaseResult(case, events, context, until, findings=f'{{"case":"{case}","n":{n}}}\n'.encode(),
                      evidence=b"", summary=f'{{"case":"{case}"}}\n'.encode())


def test_case_results_are_kept_with_the_run_and_reused_only_while_valid(store):
    context = context_digest("r" * 64, "core", "holidays 0.109", 5)
    assert context != context_digest("r" * 64, "core", "holidays 0.109", 6)
    with recording(store, run_info("2025-03-04")) as rec:
        rec.add_findings([finding()])
        rec.put_case_results([_result("K1", "e1", context, dt.date(2025, 3, 10), 1),
                              _result("K2", "e2", context, None, 1)])
    with recording(store, run_info("2025-03-05")) as rec:
        rec.add_findings([finding()])
        rec.put_case_results([_result("K1", "e1b", context, dt.date(2025, 3, 12), 2)])   # replaces K1
    with store.read() as conn:
        got = {r.case: r for r in case_results_for(conn, ["K1", "K2", "K3"])}
    assert set(got) == {"K1", "K2"} and got["K1"].findings == b'{"case":"K1","n":2}\n'
    k1 = got["K1"]
    assert k1.reusable("e1b", context, dt.date(2025, 3, 11))
    assert not k1.reusable("e1b", context, dt.date(2025, 3, 12))     # its stable-until day has come
    assert not k1.reusable("e1", context, dt.date(2025, 3, 11))      # its events changed
    assert not k1.reusable("e1b", "other", dt.date(2025, 3, 11))     # rules, profile, calendar or horizon
    assert got["K2"].reusable("e2", context, dt.date(2030, 1, 1))

    with pytest.raises(RuntimeError):                                  # a failed scan keeps the old results
        with recording(store, run_info("2025-03-06")) as rec:
            rec.put_case_results([_result("K2", "e2x", context, None, 9)])
            raise RuntimeError("died")
    with store.write() as conn:
        assert next(case_results_for(conn, ["K2"])).events_digest == "e2"
        forget_cases_except(conn, ["K2"])
        assert [r.case for r in case_results_for(conn, ["K1", "K2"])] == ["K2"]



def test_a_result_replaced_by_another_scan_meanwhile_is_not_taken_blindly(store):
    """An incremental scan first asks which results it may reuse and reads their lines
    later; a result another scan replaced in between is taken only if it still may be."""
    from compliance.incremental import Reuse, events_digest
    from compliance.state import StateError
    context = context_digest("r" * 64, "core", "holidays 0.109", 5)
    cases = {"K1": ['[1,"a"]'], "K2": ['[2,"b"]']}
    e1, e2 = events_digest(cases["K1"]), events_digest(cases["K2"])
    with recording(store, run_info("2025-03-04")) as rec:
        rec.add_findings([finding()])
        rec.put_case_results([_result("K1", e1, context, None, 1), _result("K2", e2, context, None, 1)])
    reuse = Reuse(store, context, dt.date(2025, 3, 5))
    assert reuse.to_decide(cases) == {} and reuse.reused == {"K1", "K2"}
    with recording(store, run_info("2025-03-05")) as rec:       # K1 stored again: may still be reused
        rec.add_findings([finding()])
        rec.put_case_results([_result("K1", e1, context, None, 2)])
    assert [r.findings for r in reuse._stored_lines(["K1", "K2"])] == \
        [b'{"case":"K1","n":2}\n', b'{"case":"K2","n":1}\n']
    with recording(store, run_info("2025-03-05")) as rec:       # K2 stored with other events meanwhile
        rec.add_findings([finding()])
        rec.put_case_results([_result("K2", "other", context, None, 3)])
    with pytest.raises(StateError, match="ändrades av en annan körning"):
        list(reuse._stored_lines(["K1", "K2"]))
