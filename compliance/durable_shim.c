/* PyEval_CallObject for durable-rules 2.0.28 on Python 3.13 and later.
 *
 * durable-rules' C extension, durable_rules_engine, refers to PyEval_CallObject, which
 * Python 3.13 removed: the extension builds, but importing it fails with
 * "undefined symbol: PyEval_CallObject". This library defines that one symbol with the
 * meaning the 3.12 macro had, PyEval_CallObjectWithKeywords(callable, args, NULL):
 * `args` is a tuple, or NULL for no arguments; there are no keyword arguments.
 *
 * compliance/durable.py loads this library with global symbol visibility (RTLD_GLOBAL)
 * before it imports durable_rules_engine, so the dynamic linker finds the symbol here.
 * On Python 3.11 and 3.12 the macro still exists and this file defines nothing but an
 * empty module. Why a shim and not another way: docs/python-versions.md.
 */
#include "durable_shim.h"

#if PY_VERSION_HEX >= 0x030D0000
Py_EXPORTED_SYMBOL PyObject *
PyEval_CallObject(PyObject *callable, PyObject *args)
{
    if (args == NULL) {
        return PyObject_CallNoArgs(callable);
    }
    if (!PyTuple_Check(args)) {
        PyErr_SetString(PyExc_TypeError, "argument list must be a tuple");
        return NULL;
    }
    return PyObject_Call(callable, args, NULL);
}
#endif

/* An (empty) extension module, so that setuptools builds the library with the package
 * for each interpreter and importlib can say where it is. */
static struct PyModuleDef shim_module = {
    PyModuleDef_HEAD_INIT, "_durable_shim",
    "PyEval_CallObject for durable-rules on Python 3.13+ (see compliance/durable.py).",
    0, NULL,
};

PyMODINIT_FUNC
PyInit__durable_shim(void)
{
    return PyModule_Create(&shim_module);
}
