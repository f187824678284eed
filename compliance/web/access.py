"""Who may see and do what in the review app (review-app.md, "Who sees what").

| role         | case data                               | may change             |
|--------------|-----------------------------------------|------------------------|
| `enhetschef` | findings addressed to their units        | decisions on those     |
| `samordnare` | everything (read-only), the overview     | —                      |
| `revisor`    | everything (read-only), the audit trail  | —                      |
| `admin`      | none                                     | users                  |

Every handler asks these questions on every request, with the user as the store has
them now (a disabled user or a changed unit takes effect at once). What a user may not
see is answered 404, exactly as a finding that does not exist: a guessed id or URL tells
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..state.users import ROLE_LABELS, User

READ_ALL = frozenset({"samordnare", "revisor"})


class NotFound(Exception):
    """Answered 404: the thing does not exist, or this user may not know that it does."""


class Forbidden(Exception):
    """Answered 403: the user may see this page but not do this (or not use this page)."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in user, as the access rules see them."""

    user: User

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def reads_all(self) -> bool:
        return self.role in READ_ALL

    @property
    def sees_cases(self) -> bool:
        """Whether the user sees any case data at all (an administrator does not)."""
        return self.reads_all or (self.role == "enhetschef" and bool(self.user.units))

    @property
    def units(self) -> tuple[str, ...] | None:
        """The units whose findings the user sees; None for all."""
        if self.reads_all:
            return None
        return self.user.units if self.role == "enhetschef" else ()

    def sees_unit(self, unit: str | None) -> bool:
        if self.reads_all:
            return True
        return self.role == "enhetschef" and unit is not None and unit in self.user.units

    def sees_finding(self, finding: dict) -> bool:
        return self.sees_unit(finding.get("unit"))

    @property
    def may_decide(self) -> bool:
        return self.role == "enhetschef"

    @property
    def sees_overview(self) -> bool:
        return self.reads_all

    @property
    def sees_audit_trail(self) -> bool:
        return self.role == "revisor"

    @property
    def manages_users(self) -> bool:
        return self.role == "admin"

    # --- the checks handlers make ----------------------------------------------------------

    def require_cases(self) -> None:
        if not self.sees_cases:
            raise Forbidden("Ditt konto har ingen åtkomst till ärendeuppgifter.")

    def require_finding(self, finding: dict) -> None:
        if not self.sees_finding(finding):
            raise NotFound()

    def require_unit(self, unit: str) -> None:
        if not self.sees_unit(unit):
            raise NotFound()

    def require_decide(self) -> None:
        if not self.may_decide:
            raise Forbidden(f"Som {self.role_label} kan du läsa men inte fatta beslut.")

    def require_overview(self) -> None:
        if not self.sees_overview:
            raise Forbidden("Översikten är för samordnare och revisorer.")

    def require_audit_trail(self) -> None:
        if not self.sees_audit_trail:
            raise Forbidden("Revisionsspåret är för revisorer.")

    def require_admin(self) -> None:
        if not self.manages_users:
            raise Forbidden("Användarhanteringen är för administratörer.")
