"""A test array type that refuses implicit conversion to NumPy, as CuPy's does: NumPy's
functions work on it, its namespace is NumPy's (every result wrapped again), and the host
reads it through DLPack."""
from __future__ import annotations

import operator

import array_api_compat.numpy as cnp
import numpy as np


def unwrap(x):
    if isinstance(x, Refusing):
        return x.a
    if isinstance(x, (list, tuple)):
        return type(x)(unwrap(v) for v in x)
    if isinstance(x, dict):
        return {k: unwrap(v) for k, v in x.items()}
    return x


def wrap(x):
    if isinstance(x, np.ndarray):  # also NumPy's 0-d results
        return Refusing(x)
    if isinstance(x, np.generic):
        return Refusing(np.asarray(x))
    if isinstance(x, (list, tuple)):
        return type(x)(wrap(v) for v in x)
    return x


class Namespace:
    def __getattr__(self, name):
        value = getattr(cnp, name)
        if not callable(value) or isinstance(value, type) or name in (
                "isdtype", "finfo", "iinfo", "__array_namespace_info__"):
            return value
        return lambda *args, **kwargs: wrap(value(*unwrap(args), **unwrap(kwargs)))


NAMESPACE = Namespace()


class Refusing:
    """Holds a NumPy array; NumPy's functions work on it (``__array_function__``), its
    namespace is NumPy's, but ``np.asarray`` of it raises."""

    __array_priority__ = 100

    def __init__(self, a):
        self.a = np.asarray(a)

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed.")

    def __array_namespace__(self, api_version=None):
        return NAMESPACE

    def __array_function__(self, func, types, args, kwargs):
        return wrap(func(*unwrap(args), **unwrap(kwargs)))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return wrap(getattr(ufunc, method)(*unwrap(inputs), **unwrap(kwargs)))

    def __dlpack__(self, **kwargs):
        return self.a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()

    def __getitem__(self, key):
        return wrap(self.a[unwrap(key)])

    def __setitem__(self, key, value):
        self.a[unwrap(key)] = unwrap(value)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(self.a, name)
        if callable(value):
            return lambda *args, **kwargs: wrap(value(*unwrap(args), **unwrap(kwargs)))
        return wrap(value)

    def __len__(self):
        return len(self.a)

    def __bool__(self):
        return bool(self.a)

    def __float__(self):
        return float(self.a)

    def __int__(self):
        return int(self.a)

    def __index__(self):
        return operator.index(self.a)

    def __repr__(self):
        return f"Refusing({self.a!r})"


def _binary(name):
    def method(self, other):
        return wrap(getattr(self.a, name)(unwrap(other)))
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
              "xor", "lt", "le", "gt", "ge", "eq", "ne", "lshift", "rshift"):
    for _prefix in ("__", "__r", "__i"):
        if _name in ("lt", "le", "gt", "ge", "eq", "ne") and _prefix != "__":
            continue
        setattr(Refusing, f"{_prefix}{_name}__", _binary(f"{_prefix}{_name}__"))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(Refusing, f"__{_name}__", lambda self, _n=_name: wrap(getattr(self.a, f"__{_n}__")()))
Refusing.__hash__ = None
