"""The state store (state.md): what each nightly scan saw, what changed since the night
before, and what people decided about the findings.

    store = open_store("state.db", create=True)          # or postgresql://…
    changes = record_scan(store, RunInfo(as_of, rules_digest, ...), findings, filings,
                          changes_path=out / "changes.jsonl")
    list_findings(store, units=["bup-farsta"])            # with review status
    record_decision(store, finding_id, "justified", reason="…", by="anna")

One module per concept: address (the --state value), store (opening, transactions,
locks), migrate (schema versions), schema (tables), runs (recording a scan), changes
(changes.jsonl), evidence (each case's evidence events and summary), filings (the log's
deviation.filed), decisions, review (status and queries), users (the review app's
users and sign-ins), cache (per-case results for incremental scans), cli (`compliance
review`). SQLAlchemy is imported by these modules, not by `compliance` itself: a scan
without --state never loads it.
"""

from importlib import import_module
from typing import Any

# Public name -> the module that defines it; imported on first use (PEP 562), so that
# `compliance --help` and a stateless scan never import SQLAlchemy.
_EXPORTS = {
    "CaseResult": "cache", "case_results_for": "cache", "context_digest": "cache",
    "DECISION_LABELS": "decisions", "Decision": "decisions", "record_decision": "decisions",
    "DecisionError": "errors", "NotAStore": "errors", "StateError": "errors", "StoreBusy": "errors",
    "StoreMissing": "errors", "StoreTooNew": "errors", "UnknownFinding": "errors", "UsageError": "errors",
    "CaseDetails": "evidence", "case_details": "evidence", "case_evidence": "evidence",
    "case_summary": "evidence", "evidence_of": "evidence", "finding_evidence": "evidence",
    "summary_of": "evidence",
    "DeviationFiling": "filings",
    "FindingHistory": "review", "Review": "review", "ReviewedFinding": "review",
    "deviation_references": "review", "finding_history": "review", "get_finding": "review",
    "list_findings": "review", "no_draft_ids": "review", "reviewed_findings": "review",
    "Recording": "runs", "RunChanges": "runs", "RunInfo": "runs", "record_scan": "runs", "recording": "runs",
    "Store": "store", "open_store": "store",
    "User": "users", "add_user": "users", "get_user": "users", "list_users": "users",
    "disable_user": "users", "set_password_hash": "users", "record_sign_in": "users",
    "failed_sign_ins": "users", "sign_in_history": "users", "recent_sign_ins": "users",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'compliance.state' has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
