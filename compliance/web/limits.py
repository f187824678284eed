"""The sign-in attempt limit: after repeated failures, 429 for a while.

Counted from the store's sign-in trail (`compliance.state.users`), so the limit holds
across restarts and across several app processes on one store. Per user name: `per_user`
failures within `window` since the user's last successful sign-in; per address:
`per_address` failures within `window` (higher: many people may share an address). An
attempt refused by the limit is itself a failed attempt in the trail, so someone who
keeps trying stays locked out; the right password does not help meanwhile.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..state.store import Store
from ..state.users import SignIn, recent_sign_ins


@dataclass(frozen=True)
class AttemptLimit:
    per_user: int = 5
    per_address: int = 20
    window: float = 15 * 60          # seconds

    def blocked(self, store: Store, user_name: str, address: str | None,
                now: dt.datetime | None = None) -> float:
        """Seconds until the next attempt may be tried; 0 when it may be tried now."""
        now = now or dt.datetime.now(dt.timezone.utc)
        since = now - dt.timedelta(seconds=self.window)
        waits = [0.0]
        if user_name:
            attempts = []
            for s in recent_sign_ins(store, since, user_name=user_name):
                if s.success:
                    break                      # failures before a success are forgiven
                attempts.append(s)
            waits.append(self._wait(attempts, self.per_user, now))
        if address:
            failed = [s for s in recent_sign_ins(store, since, address=address) if not s.success]
            waits.append(self._wait(failed, self.per_address, now))
        return max(waits)

    def _wait(self, failures: list[SignIn], limit: int, now: dt.datetime) -> float:
        """Newest first: blocked until the limit-th newest failure leaves the window."""
        if len(failures) < limit:
            return 0.0
        until = failures[limit - 1].at + dt.timedelta(seconds=self.window)
        return max(0.0, (until - now).total_seconds())
