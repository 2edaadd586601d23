"""Which array libraries and devices are usable on this machine, and how to reach them.

Used by :func:`anykmeans.backends`, the command line, the benchmarks and the
tests. Listing the backends imports the libraries that are installed (that is
what being asked means); importing anykmeans imports none of them.
"""

from __future__ import annotations

import importlib
import importlib.util

from ._libraries import LIBRARIES as _LIBRARIES
from ._libraries import Backend, library_named, unusable

__all__ = ["LIBRARIES", "Backend", "backends"]

#: The import names of the libraries anykmeans supports, in the order they are listed.
LIBRARIES = tuple(library.name for library in _LIBRARIES)


def backends(libraries: tuple[str, ...] = LIBRARIES) -> list[Backend]:
    """List the array libraries and devices anykmeans can use here.

    Parameters
    ----------
    libraries : tuple of str
        Library names to probe, by default all that anykmeans supports.

    Returns
    -------
    list of Backend
        One entry per library and device, usable or not, with the reason.
    """
    found: list[Backend] = []
    for name in libraries:
        library = library_named(name)
        if importlib.util.find_spec(name) is None:
            found.append(unusable(name, "-", f"not installed ({library.install})"))
            continue
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # a broken install: report it, do not crash the listing
            found.append(unusable(name, "-", f"import failed: {exc}"))
            continue
        found.extend(library.backends(module))
    return found
