"""The package's layering, checked from the source (ARCHITECTURE.md, "Invariants"): the domain
imports no transport, no module imports a private name of another, and imports have no
cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mockcamb"
#: Libraries that carry requests or run servers: the domain never imports them.
TRANSPORTS = (
    "flask",
    "werkzeug",
    "waitress",
    "granian",
    "requests",
    "responses",
    "httpx",
    "urllib3",
    "aiohttp",
    "redis",
    "socket",
    "http.server",
    "wsgiref",
)
#: Layers above the domain: the domain never imports them either.
UPPER_LAYERS = (
    "mockcamb.http",
    "mockcamb.serve",
    "mockcamb.cli",
    "mockcamb.conformance",
    "mockcamb.record",
)


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def imports(path: Path, root: Path = PACKAGE) -> list[tuple[str, list[str], int]]:
    """(imported module, names, line) for every import outside ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path, root)
    package = here if is_package(path) else here.rpartition(".")[0]
    found: list[tuple[str, list[str], int]] = []

    def visit(node: ast.AST) -> None:
        if _type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, [], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((base, [a.name for a in node.names], node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


MODULES = modules()


def resolve(target: str, names: list[str], known: dict[str, Path]) -> list[str]:
    """The package's modules an import loads (a submodule named in ``from pkg import sub``)."""
    out = [f"{target}.{name}" for name in names if f"{target}.{name}" in known]
    if not out and target in known:
        out.append(target)
    return out


def private_imports(known: dict[str, Path], root: Path = PACKAGE) -> list[str]:
    top = root.name
    return [
        f"{name}:{line} imports {n} from {target}"
        for name, path in known.items()
        for target, names, line in imports(path, root)
        if (target == top or target.startswith(top + ".")) and target != name
        for n in names
        if n.startswith("_") and not n.startswith("__")
    ]


def find_cycle(known: dict[str, Path], root: Path = PACKAGE) -> list[str] | None:
    """The first import cycle among the package's modules, or ``None``. A package's
    ``__init__`` counts as a module: importing a name from it runs it."""
    graph = {
        name: {m for t, names, _ in imports(path, root) for m in resolve(t, names, known)} - {name}
        for name, path in known.items()
    }
    done: set[str] = set()
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        if node in stack:
            return [*stack[stack.index(node) :], node]
        if node in done:
            return None
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            cycle = walk(nxt)
            if cycle:
                return cycle
        stack.pop()
        done.add(node)
        return None

    for name in sorted(graph):
        cycle = walk(name)
        if cycle:
            return cycle
    return None


@pytest.mark.parametrize("name", [m for m in MODULES if m.startswith("mockcamb.core")])
def test_the_domain_imports_no_transport_and_no_upper_layer(name: str) -> None:
    for target, _, line in imports(MODULES[name]):
        assert not any(target == t or target.startswith(t + ".") for t in TRANSPORTS), (
            f"{name}:{line} imports {target}: the domain knows no transport"
        )
        assert not any(target == u or target.startswith(u + ".") for u in UPPER_LAYERS), (
            f"{name}:{line} imports {target}: the domain knows no upper layer"
        )


def test_no_module_imports_a_private_name_of_another() -> None:
    assert private_imports(MODULES) == []


def test_imports_have_no_cycles() -> None:
    cycle = find_cycle(MODULES)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or ())


def test_the_checks_find_a_cycle_and_a_private_import(tmp_path: Path) -> None:
    """The AST reading above is not vacuous: on a package made to break both rules (through
    a relative import, a package __init__ and a function-level import), it finds both."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .sub.b import thing\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from .sub.b import _hidden\n")
    (pkg / "sub" / "b.py").write_text("from .. import a\nthing = _hidden = 1\n")
    known = modules(pkg)
    cycle = find_cycle(known, pkg)
    assert cycle is not None and set(cycle) == {"pkg.a", "pkg.sub.b"}
    assert private_imports(known, pkg) == ["pkg.a:2 imports _hidden from pkg.sub.b"]
