"""The one place that loads durable-rules' C engine (`durable_rules_engine`).

Everything else asks `load_engine()`, so that how the engine is loaded (and what is said
when it cannot be) is decided here.
"""

from __future__ import annotations

from types import ModuleType


class EngineUnavailable(Exception):
    """durable-rules cannot be loaded on this Python; the message is one Swedish line."""


def load_engine() -> ModuleType:
    try:
        import durable_rules_engine
    except ImportError as exc:
        raise EngineUnavailable(f"regelmotorn durable-rules kan inte laddas: {exc}") from None
    return durable_rules_engine
