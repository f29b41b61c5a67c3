"""The few ctypes pieces libc.py needs, built on the _ctypes extension
directly.

`import ctypes` defines some forty types and helpers at import (with
struct, types and ctypes._endian): 2-3 ms at every start of the runtime,
which needs five C types, function pointers, one structure and errno. The
classes here are the same as ctypes' own (subclasses of the same _ctypes
bases), so they behave identically."""

from __future__ import annotations

import _ctypes

get_errno = _ctypes.get_errno
byref = _ctypes.byref
addressof = _ctypes.addressof
Structure = _ctypes.Structure


class c_int(_ctypes._SimpleCData):
    _type_ = "i"


class c_uint(_ctypes._SimpleCData):
    _type_ = "I"


class c_long(_ctypes._SimpleCData):
    _type_ = "l"


class c_ulong(_ctypes._SimpleCData):
    _type_ = "L"


class c_ushort(_ctypes._SimpleCData):
    _type_ = "H"


class c_void_p(_ctypes._SimpleCData):
    _type_ = "P"


class c_char(_ctypes._SimpleCData):
    _type_ = "c"


class c_char_p(_ctypes._SimpleCData):
    _type_ = "z"


c_size_t = c_ulong
c_uint32 = c_uint


class _CFunction(_ctypes.CFuncPtr):
    """A C function with errno saved after each call (ctypes' use_errno)."""

    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = c_int


class Library:
    """dlopen(name); by default NULL: the process's own symbols, which include libc's."""

    def __init__(self, name: str | None = None) -> None:
        self._handle = _ctypes.dlopen(name, _ctypes.RTLD_GLOBAL)

    def function(self, name: str, argtypes: list | None, restype: type = c_int) -> _CFunction:
        f = _CFunction((name, self))
        if argtypes is not None:
            f.argtypes = argtypes
        f.restype = restype
        return f


def string_buffer(data: bytes) -> _ctypes.Array:
    """A writable, NUL-terminated char array holding data."""
    buf = (c_char * (len(data) + 1))()
    buf.value = data
    return buf
