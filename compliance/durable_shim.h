/* The prototype of PyEval_CallObject, which Python 3.13 removed from its C API.
 *
 * durable-rules 2.0.28 calls PyEval_CallObject (src/rulespy/rules.c). Up to Python 3.12
 * it was a macro; built against 3.13's headers the call has no declaration, so the
 * compiler assumes a function returning int: GCC up to 13 warns and truncates the
 * returned pointer to 32 bits, GCC 14 refuses to compile. Building durable-rules with
 *     CPPFLAGS="-include /path/to/compliance/durable_shim.h"
 * gives the call its real prototype (docs/python-versions.md). durable_shim.c defines it.
 */
#ifndef COMPLIANCE_DURABLE_SHIM_H
#define COMPLIANCE_DURABLE_SHIM_H

/* durable-rules also compiles C files without Python's headers: declare nothing there. */
#if defined(__has_include)
#if __has_include(<Python.h>)
#include <Python.h>
#if PY_VERSION_HEX >= 0x030D0000
PyObject *PyEval_CallObject(PyObject *callable, PyObject *args);
#endif
#endif
#endif

#endif
