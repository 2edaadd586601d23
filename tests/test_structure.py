"""The package's structure, drawn from its code: imports flow one way, every floor is documented.

Every import of one anykmeans module by another counts, at the top of a
module or inside a function. A module's floor is one more than the highest
floor it imports (0 for one that imports none of the package); docs/design.md
lists the modules floor by floor, and the list must be the code's.
"""

from __future__ import annotations

import ast
import re
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "anykmeans"
DESIGN = ROOT / "docs" / "design.md"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path, name: str) -> set[str]:
    """The anykmeans modules that the module ``name`` at ``path`` imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:  # a submodule by name, else a name the module holds
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in MODULES else target)
    return {module for module in found if module in MODULES and module != name}
GRAPH = {name: imported(path, name) for name, path in MODULES.items()}


def floors() -> dict[str, int]:
    """Each module's floor; raises if the imports make a circle."""
    floor: dict[str, int] = {}
    visiting: list[str] = []

    def visit(name: str) -> int:
        if name in floor:
            return floor[name]
        if name in visiting:
            circle = [*visiting[visiting.index(name):], name]
            raise AssertionError("import circle: " + " -> ".join(circle))
        visiting.append(name)
        floor[name] = 1 + max((visit(other) for other in GRAPH[name]), default=-1)
        visiting.pop()
        return floor[name]

    for name in GRAPH:
        visit(name)
    return floor


def test_no_import_circle():
    floors()


def test_a_package_imports_only_what_it_holds_or_below():
    """A subpackage's ``__init__`` may gather its own modules; nothing below the top imports
    the package itself (``from anykmeans import ...`` from inside it would reach up)."""
    for name, imports in GRAPH.items():
        if name != "anykmeans" and name.count(".") <= 1 and name not in ("anykmeans.cli",
                                                                           "anykmeans.__main__"):
            assert "anykmeans" not in imports, name


def documented_floors() -> dict[str, int]:
    """The floors docs/design.md lists: lines ``floor N: module, module, ...``, each module
    on one line only."""
    listed = {}
    for number, modules in re.findall(r"^floor (\d+): (.+)$", DESIGN.read_text(), flags=re.M):
        for module in modules.split(","):
            name = f"anykmeans.{module.strip()}".removesuffix(".__init__")
            assert name not in listed, f"docs/design.md lists {name} on two floors"
            listed[name] = int(number)
    return listed


@pytest.mark.parametrize("name", sorted(MODULES))
def test_design_lists_every_module_on_its_floor(name):
    assert documented_floors().get(name) == floors()[name], (
        f"docs/design.md should list {name} on floor {floors()[name]}")


def test_a_lloyd_iteration_on_numpy_walks_the_documented_route():
    """Every anykmeans function entered from the end of one Lloyd iteration to the end of the
    next, on NumPy with the fused path where Numba is installed, the chunk pool's threads
    included (a fresh pool, started under the profile): at most the files and functions
    docs/design.md states."""
    import numpy as np

    import anykmeans
    from anykmeans._libraries import _threads

    X = np.random.default_rng(0).normal(size=(200_000, 32))
    init = X[:16].copy()
    entered: set[tuple[str, str]] = set()
    tracing = threading.Event()  # the pool's threads keep the profile they started with

    def profile(frame, event, arg):
        if (event == "call" and tracing.is_set()
                and frame.f_code.co_filename.startswith(str(PACKAGE))):
            entered.add((frame.f_code.co_filename, frame.f_code.co_name))

    def hook(restart, iteration, inertia):
        if iteration == 0:
            _threads._thread_pool.cache_clear()  # the next pass starts the pool's threads
            tracing.set()
            sys.setprofile(profile)
            threading.setprofile(profile)
        elif iteration == 1:
            tracing.clear()
            sys.setprofile(None)
            threading.setprofile(None)

    try:
        anykmeans.KMeans(16, init=init, max_iter=3, tol=0).fit(X, on_iteration=hook)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    files = {path for path, _ in entered}
    assert len(files) <= 7 and len(entered) <= 20, sorted(entered)
