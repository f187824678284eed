"""What can go wrong with a store, as one Swedish line each (the command line prints it
after "compliance: " and exits 1; the review app shows it)."""

from __future__ import annotations


class StateError(Exception):
    """The store cannot be used: missing, unreadable, not ours, newer, broken."""


class StoreMissing(StateError):
    """A command that reads a store was given one that does not exist (yet)."""


class StoreBusy(StateError):
    """Another scan (or writer) holds the store longer than we were willing to wait."""


class NotAStore(StateError):
    """The file or database exists but is not a compliance state store."""


class StoreTooNew(StateError):
    """The store was migrated by a newer version of the tool."""


class UnknownFinding(StateError):
    """No finding with that id in the store."""


class DecisionError(StateError):
    """A review decision that cannot be recorded (nothing was stored)."""


class UsageError(DecisionError):
    """A decision given the wrong way (unknown decision, missing reason): exit 2."""
