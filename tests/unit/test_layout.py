"""The layout holds: small modules, no import circles, and the rooms' borders (ARCHITECTURE.md):
api and worker use the engine only through dtq.queue's public names; queue never imports api or
worker; api and worker never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import dtq.queue

SRC = Path(__file__).resolve().parents[2] / "app"
PACKAGE = SRC / "dtq"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _top_level_imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of each import at module level (imports inside functions are lazy)."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def _resolve(target: str, names: list[str], modules: dict[str, Path]) -> set[str]:
    """The dtq modules an import loads: the module itself, and submodules imported by name."""
    out = {target} if target in modules else set()
    out |= {f"{target}.{n}" for n in names if f"{target}.{n}" in modules}
    return out


def test_no_module_is_over_400_lines() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_import_circle() -> None:
    modules = _modules()
    graph = {
        name: {
            dep
            for target, names in _top_level_imports(path)
            if target.startswith("dtq")
            for dep in _resolve(target, names, modules)
            if dep != name
        }
        for name, path in modules.items()
    }
    # A package's __init__ importing its own submodules is how re-exports work; a circle is a
    # module reaching back to one that is still loading it.
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        assert name not in visiting, " -> ".join([*visiting[visiting.index(name) :], name])
        visiting.append(name)
        for dep in graph[name]:
            if not name.startswith(dep + ".") and not dep.startswith(name + "."):
                visit(dep)
        visiting.pop()
        done.add(name)

    for name in graph:
        visit(name)


def test_api_and_worker_use_only_the_engines_public_names() -> None:
    public = set(dtq.queue.__all__)
    assert all(hasattr(dtq.queue, n) for n in public)
    offenders = []
    for name, path in _modules().items():
        if not name.startswith(("dtq.api", "dtq.worker")):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("dtq.queue")
            ):
                if node.module != "dtq.queue":
                    offenders.append(f"{name}: from {node.module} import ...")
                offenders += [f"{name}: {a.name}" for a in node.names if a.name not in public]
            elif isinstance(node, ast.Import):
                offenders += [
                    f"{name}: import {a.name}" for a in node.names if a.name.startswith("dtq.queue")
                ]
    assert offenders == []


def test_rooms_import_in_one_direction() -> None:
    forbidden = {
        "dtq.queue": ("dtq.api", "dtq.worker", "dtq.observability", "dtq.client"),
        "dtq.api": ("dtq.worker",),
        "dtq.worker": ("dtq.api",),
        "dtq.models": ("dtq.queue", "dtq.api", "dtq.worker"),
    }
    offenders = []
    for name, path in _modules().items():
        for room, banned in forbidden.items():
            if name == room or name.startswith(room + "."):
                for node in ast.walk(ast.parse(path.read_text())):
                    targets = (
                        [node.module]
                        if isinstance(node, ast.ImportFrom) and node.module
                        else [a.name for a in node.names]
                        if isinstance(node, ast.Import)
                        else []
                    )
                    offenders += [f"{name} imports {t}" for t in targets if t.startswith(banned)]
    assert offenders == []


def test_api_and_worker_never_reach_the_scripts() -> None:
    """Script faces are the engine's own: api/ and worker/ never touch `engine.lib`."""
    offenders = [
        name
        for name, path in _modules().items()
        if name.startswith(("dtq.api", "dtq.worker"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "lib"
    ]
    assert offenders == []
