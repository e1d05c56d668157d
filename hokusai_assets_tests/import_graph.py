"""The import graph of a package, read from its source (ast), and the circles in it.

Every import counts, wherever it is written: module level, inside a function (a
"lazy" import is still a dependency, only a later one), ``importlib.import_module``
with a literal name. Importing ``a.b.c`` also runs the ``__init__`` of ``a.b``, so
an import reaches the packages above its target too (those above the importer
itself are already running, and are left out).
"""

from __future__ import annotations

import ast
from pathlib import Path


def module_files(*package_dirs: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under each of ``package_dirs`` (a package's
    name is its folder; the portions of one namespace package, e.g. ``hokusai/`` and ``sdk/hokusai/``,
    make one package)."""
    modules = {}
    for package_dir in package_dirs:
        root = package_dir.parent
        for path in sorted(package_dir.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join(parts)
            if name in modules:
                raise ValueError(f"{name} is both {modules[name]} and {path}")
            modules[name] = path
    return modules


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _imported_names(module: str, path: Path) -> set[str]:
    """Every dotted name ``module`` imports (``from x import y`` gives ``x`` and ``x.y``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names.add(stem)
            names.update(f"{stem}.{alias.name}" for alias in node.names)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"):
            names.add(node.args[0].value)
    return names


def import_graph(*package_dirs: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (directly, or via their packages' ``__init__``)."""
    modules = module_files(*package_dirs)
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in _imported_names(module, path):
            while name and name not in modules:  # ``from a.b import SomeClass``: the module is ``a.b``
                name = name.rpartition(".")[0]
            if name:
                targets.add(name)
                targets.update(_ancestors(name))
        own = set(_ancestors(module)) | {module}
        graph[module] = {target for target in targets if target not in own}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (each is an import circle), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]  # iterative Tarjan: no recursion limit
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return sorted(cycles)


def describe_cycle(graph: dict[str, set[str]], cycle: list[str]) -> str:
    """Each member of a circle with the members it imports, for a failure message."""
    members = set(cycle)
    return "; ".join(f"{m} -> {sorted(graph[m] & members)}" for m in cycle)
