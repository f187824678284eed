"""The engine on every supported Python: durable-rules' C engine through compliance.durable,
and the PyEval_CallObject shim that Python 3.13+ needs (docs/python-versions.md).

Some tests run another interpreter from pyenv. When it is missing they skip and say so;
under COMPLIANCE_CI=1 a missing supported interpreter fails instead. The whole fixture
scan on each interpreter, compared byte for byte, is .ci/pythons.sh.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from helpers import ROOT

SUPPORTED = ("3.11", "3.12", "3.13")     # what requires-python admits and CI must have
NEEDS_SHIM = ("3.13", "3.14")            # no PyEval_CallObject in their C API
SHIM_C = ROOT / "compliance" / "durable_shim.c"
SHIM_H = ROOT / "compliance" / "durable_shim.h"


def pyenv_root() -> Path:
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    if shutil.which("pyenv"):
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    return Path.home() / ".pyenv"


def pyenv_python(minor: str) -> Path | None:
    """The newest pyenv CPython `minor`.x (e.g. "3.13" -> .../3.13.0/bin/python3.13)."""
    found = []
    for d in (pyenv_root() / "versions").glob(f"{minor}.*"):
        m = re.fullmatch(rf"{re.escape(minor)}\.(\d+)", d.name)    # not 3.13.0t (free-threaded)
        exe = d / "bin" / f"python{minor}"
        if m and exe.is_file():
            found.append((int(m.group(1)), exe))
    return max(found)[1] if found else None


def need_python(minor: str) -> Path:
    exe = pyenv_python(minor)
    if exe is not None:
        return exe
    reason = f"Python {minor} is not installed under {pyenv_root()}/versions"
    if os.environ.get("COMPLIANCE_CI") == "1" and minor in SUPPORTED:
        pytest.fail(f"{reason}, and CI must test every supported Python ({', '.join(SUPPORTED)})")
    pytest.skip(reason)


def include_dir(python: Path) -> str:
    return subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"],
                          capture_output=True, text=True, check=True).stdout.strip()


def build_shim(python: Path, out: Path) -> Path:
    """Compile the shim for `python` the way setuptools would (a shared library)."""
    if not shutil.which("gcc"):
        pytest.skip("gcc is not installed")
    so = out / f"shim-{python.name}.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", f"-I{include_dir(python)}", str(SHIM_C), "-o", str(so)],
                   check=True, capture_output=True)
    return so


# --- what is supported ----------------------------------------------------------------------

def test_requires_python_admits_exactly_the_supported_versions():
    spec = SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
                        ["project"]["requires-python"])
    admitted = [f"3.{n}" for n in range(8, 17) if f"3.{n}.0" in spec]
    assert admitted == list(SUPPORTED)


# --- the engine on this interpreter ---------------------------------------------------------

def test_the_engine_loads_here_with_the_shim_exactly_when_this_python_needs_it():
    # A fresh process: whether the shim was needed is decided by its first import.
    code = textwrap.dedent("""
        from compliance import durable
        engine = durable.load_engine()
        print(durable.shim_used(), callable(engine.assert_facts),
              any(n.endswith("_callback") for n in vars(engine)))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(sys.version_info >= (3, 13)), "True", "False"]


def test_the_engine_decides_here_through_the_shim(scan):
    from helpers import ev
    result = scan([
        ev("a", "meeting.scheduled", "2025-03-04", meeting="M1", kind="sip", date="2025-03-31"),
        ev("b", "invitation.sent", "2025-03-20", meeting="M1", to="bup"),
    ])
    assert [(f["rule"], f["due"]) for f in result.findings] == [("invitation-notice", "2025-03-10")]
    assert not result.errors


# --- compliance.durable's decisions, with stand-ins for a broken C engine --------------------

@pytest.fixture
def fake_engine(tmp_path, monkeypatch):
    """Put a stand-in `durable_rules_engine` (Python source) first on sys.path."""
    from compliance import durable
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "durable_rules_engine", raising=False)
    monkeypatch.setattr(durable, "_shim_used", False)

    def write(source: str) -> None:
        (tmp_path / "durable_rules_engine.py").write_text(textwrap.dedent(source), encoding="utf-8")
    yield write
    sys.modules.pop("durable_rules_engine", None)


def test_an_engine_missing_a_symbol_gets_the_shim_and_one_more_try(fake_engine):
    from compliance import durable
    fake_engine("""
        import compliance.durable as d
        if not d.shim_used():    # what the dynamic linker says before the shim is loaded
            raise ImportError("durable_rules_engine.so: undefined symbol: PyEval_CallObject")
        def assert_facts(handle, facts): return (0, 0)
        def set_store_message_callback(handle, func): pass
    """)
    engine = durable.load_engine()
    assert durable.shim_used()
    assert engine.assert_facts(1, "[]") == (0, 0)
    assert not hasattr(engine, "set_store_message_callback")


def test_an_engine_that_still_fails_with_the_shim_is_one_swedish_line(fake_engine):
    from compliance import durable
    fake_engine('raise ImportError("durable_rules_engine.so: undefined symbol: PyEval_CallObject")')
    with pytest.raises(durable.EngineUnavailable) as info:
        durable.load_engine()
    message = str(info.value)
    assert "\n" not in message and "kunde inte laddas" in message and "även med vår" in message


def test_a_missing_shim_is_named(fake_engine, monkeypatch):
    from compliance import durable
    fake_engine('raise ImportError("durable_rules_engine.so: undefined symbol: PyEval_CallObject")')
    monkeypatch.setattr(durable, "SHIM_MODULE", "compliance._no_such_shim")
    with pytest.raises(durable.EngineUnavailable, match="shimmen på Python 3.13 och senare, men den är inte byggd"):
        durable.load_engine()


def test_another_import_error_is_reported_without_the_shim(fake_engine):
    from compliance import durable
    fake_engine('raise ImportError("libfoo.so.1: cannot open shared object file")')
    with pytest.raises(durable.EngineUnavailable, match="kunde inte laddas: libfoo.so.1"):
        durable.load_engine()
    assert not durable.shim_used()


# --- the shim itself, on each interpreter that has it ---------------------------------------

@pytest.mark.parametrize("minor", NEEDS_SHIM)
def test_the_shim_calls_like_the_removed_macro(minor, tmp_path):
    """PyEval_CallObject(f, args) was PyEval_CallObjectWithKeywords(f, args, NULL): args a
    tuple or NULL (no arguments), no keywords; found through the global symbol table."""
    python = need_python(minor)
    so = build_shim(python, tmp_path)
    code = textwrap.dedent(f"""
        import ctypes, os
        ctypes.PyDLL({str(so)!r}, mode=os.RTLD_NOW | os.RTLD_GLOBAL)
        call = ctypes.PyDLL(None).PyEval_CallObject     # dlsym over every global library
        call.restype, call.argtypes = ctypes.py_object, [ctypes.py_object, ctypes.c_void_p]
        args = (2, 10)
        print(call(pow, id(args)))
        print(call(lambda *a, **kw: (a, kw), None))
        for bad in ([2, 10], {{"x": 1}}):
            try:
                call(pow, id(bad))
            except TypeError as exc:
                print(exc)
        try:
            call(lambda: 1 / 0, None)
        except ZeroDivisionError:
            print("raised")
    """)
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["1024", "((), {})", "argument list must be a tuple",
                                       "argument list must be a tuple", "raised"]


@pytest.mark.parametrize("minor", ("3.11", "3.12"))
def test_the_shim_defines_nothing_where_the_macro_still_exists(minor, tmp_path):
    python = need_python(minor)
    so = build_shim(python, tmp_path)
    code = (f"import ctypes, os; ctypes.PyDLL({str(so)!r}, mode=os.RTLD_GLOBAL); "
            "print(hasattr(ctypes.PyDLL(None), 'PyEval_CallObject'))")
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# --- building durable-rules on 3.13+ with GCC 14 (docs/python-versions.md) ------------------

# The shape of durable-rules' calls (src/rulespy/rules.c), and GCC 14's default errors.
_CALLER = "#include <Python.h>\nPyObject *call(PyObject *f, PyObject *a) { PyObject *r; r = PyEval_CallObject(f, a); return r; }\n"
_GCC14 = ["-Werror=implicit-function-declaration", "-Werror=int-conversion"]


@pytest.mark.parametrize("minor", NEEDS_SHIM)
def test_the_header_gives_durable_rules_call_its_prototype(minor, tmp_path):
    python = need_python(minor)
    if not shutil.which("gcc"):
        pytest.skip("gcc is not installed")
    src = tmp_path / "caller.c"
    src.write_text(_CALLER, encoding="ascii")
    compile_ = ["gcc", "-std=c99", "-fPIC", "-c", str(src), "-o", str(tmp_path / "caller.o"),
                f"-I{include_dir(python)}", *_GCC14]
    without = subprocess.run(compile_, capture_output=True, text=True)
    assert without.returncode != 0 and "PyEval_CallObject" in without.stderr
    with_header = subprocess.run([*compile_, "-include", str(SHIM_H)], capture_output=True, text=True)
    assert with_header.returncode == 0, with_header.stderr


def test_the_header_is_harmless_where_python_is_not_included(tmp_path):
    # durable-rules also compiles plain C files (its rules library) with the same flags.
    if not shutil.which("gcc"):
        pytest.skip("gcc is not installed")
    src = tmp_path / "plain.c"
    src.write_text("int answer(void) { return 42; }\n", encoding="ascii")
    out = subprocess.run(["gcc", "-std=c99", "-c", str(src), "-o", str(tmp_path / "plain.o"),
                          "-include", str(SHIM_H), *_GCC14], capture_output=True, text=True,
                         env={**os.environ, "CPATH": "", "C_INCLUDE_PATH": ""})
    assert out.returncode == 0, out.stderr
