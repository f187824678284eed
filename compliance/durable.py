"""The one door to durable-rules' C engine (`durable_rules_engine`) on every Python we support.

durable-rules 2.0.28 (unmaintained since 2020) builds on Python 3.13 and later, but its
C extension refers to `PyEval_CallObject`, which 3.13 removed from the C API, so the import
fails with "undefined symbol". `load_engine` then loads our shim
(`compliance/durable_shim.c`, built with this package), which defines that one symbol,
with global symbol visibility, and imports the engine again. Nothing of durable-rules is
copied or patched. Why this way: docs/python-versions.md.

Whatever goes wrong is one Swedish line (`EngineUnavailable`): the scan, `compliance
doctor` and `compliance rules validate` show it as it is.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import os
import types
from importlib import metadata

ENGINE_MODULE = "durable_rules_engine"
SHIM_MODULE = "compliance._durable_shim"
MISSING_SYMBOL = "PyEval_CallObject"

_shim_used = False


class EngineUnavailable(Exception):
    """durable-rules' engine cannot be loaded; the message is one Swedish line."""


def load_engine() -> types.SimpleNamespace:
    """durable-rules' C functions (`create_ruleset`, `assert_facts`, ...), loaded once.

    The callback setters (`set_*_callback`, durable-rules' persistence hooks) are left
    out: the engine does not use them, and in a durable-rules built against Python 3.13+
    headers their calls to `PyEval_CallObject` lost the prototype, so the compiler cut
    the returned pointer to 32 bits (docs/python-versions.md). Not offered, not used.
    """
    module = _import_engine()
    return types.SimpleNamespace(**{
        name: getattr(module, name) for name in dir(module)
        if not name.startswith("_") and not (name.startswith("set_") and name.endswith("_callback"))
    })


def shim_used() -> bool:
    """Whether this process needed (and loaded) the PyEval_CallObject shim."""
    return _shim_used


def durable_version() -> str:
    """The installed durable-rules version, or "okänd" when its metadata is missing."""
    try:
        return metadata.version("durable-rules")
    except metadata.PackageNotFoundError:
        return "okänd"


def _import_engine() -> types.ModuleType:
    try:
        return importlib.import_module(ENGINE_MODULE)
    except ImportError as exc:
        if MISSING_SYMBOL not in str(exc):
            raise EngineUnavailable(_reason(exc)) from None
    _load_shim()
    try:
        return importlib.import_module(ENGINE_MODULE)
    except ImportError as exc:
        raise EngineUnavailable(_reason(exc) + " (även med vår PyEval_CallObject-shim)") from None


def _load_shim() -> None:
    """Load the shim's library so that its `PyEval_CallObject` is seen by later dlopens.

    `ctypes.CDLL` with RTLD_GLOBAL (not an import, which loads it RTLD_LOCAL): the
    dynamic linker then resolves durable_rules_engine's undefined symbol from it. Done
    again on an already-loaded library it only widens the visibility.
    """
    global _shim_used
    spec = importlib.util.find_spec(SHIM_MODULE)
    if spec is None or not spec.origin:
        raise EngineUnavailable(
            "durable-rules behöver PyEval_CallObject-shimmen på Python 3.13 och senare, men "
            "den är inte byggd: installera om paketet (pip install .)")
    try:
        ctypes.CDLL(spec.origin, mode=os.RTLD_NOW | os.RTLD_GLOBAL)
    except OSError as exc:
        raise EngineUnavailable(f"PyEval_CallObject-shimmen kunde inte laddas: {exc}") from None
    _shim_used = True


def _reason(exc: ImportError) -> str:
    """One Swedish line for a failed import of the C engine (the OS text kept as is)."""
    if isinstance(exc, ModuleNotFoundError) and exc.name == ENGINE_MODULE:
        return "durable-rules (durable_rules_engine) är inte installerat: pip install durable-rules==2.0.28"
    detail = " ".join(str(exc).split())
    return f"durable-rules (durable_rules_engine) kunde inte laddas: {detail}"
