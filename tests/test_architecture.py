"""The code base shows its pipeline: no import cycles, vendor-free engine, the sandbox imported only by the CLI."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from tests.helpers.paths import ENGINE


def _module_name(file: Path) -> str:
    parts = ["unimeter", *file.relative_to(ENGINE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(folder: Path, name: str) -> bool:
    return (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file()


def _top_level_imports(file: Path) -> set[str]:
    """Modules imported when ``file`` is imported (not inside functions, not under TYPE_CHECKING)."""
    tree = ast.parse(file.read_text(encoding="utf-8"))
    package = _module_name(file) if file.name == "__init__.py" else _module_name(file).rpartition(".")[0]
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.startswith("unimeter"):
                # ``from . import sibling`` (every name a module beside this one) names the module's own package,
                # which Python has initialised before running any module of it: only the siblings are imported. A
                # name the package's __init__ defines would need it complete, so that stays an edge to the package.
                siblings = node.level == 1 and node.module is None and file.name != "__init__.py"
                if not (siblings and all(_is_module(file.parent, alias.name) for alias in node.names)):
                    found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("unimeter"))
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(file): file for file in ENGINE.rglob("*.py")}
    graph = {
        name: {t for t in _top_level_imports(file) if t in modules and t != name} for name, file in modules.items()
    }
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_package_has_no_import_cycles() -> None:
    graph = _graph()
    assert len(graph) > 30
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph) or [])}"


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_only_the_cli_and_the_demo_import_the_sandbox() -> None:
    importers = set()
    for file in ENGINE.rglob("*.py"):
        text = file.read_text(encoding="utf-8")
        if "from .sandbox" in text or "unimeter.sandbox" in text or "from ..sandbox" in text:
            importers.add(file.relative_to(ENGINE).as_posix())
    assert importers == {"cli.py", "demo.py"}


def test_no_engine_signature_threads_a_bindings_dict() -> None:
    offenders = []
    for file in ENGINE.rglob("*.py"):
        if file.name == "jsonata.py":  # the JSONata adapter itself takes JSONata's bindings
            continue
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names = [a.arg for a in [*node.args.args, *node.args.kwonlyargs]]
                if "bindings" in names:
                    offenders.append(f"{file.relative_to(ENGINE)}:{node.lineno} {node.name}")
    assert offenders == []


def test_every_subpackage_is_built_into_the_wheel() -> None:
    """setuptools lists packages explicitly (pyproject.toml): a new engine/ or sandbox/ folder missing from the list
    works in the editable checkout and is absent from the installed wheel (unimeter.authoring once was)."""
    root = ENGINE.parent
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    for prefix, folder in config["package-dir"].items():
        base = root / folder
        for init in base.rglob("__init__.py"):
            relative = init.parent.relative_to(base)
            name = ".".join([prefix, *relative.parts])
            if "__pycache__" not in relative.parts:
                assert name in listed, f"{name} ({init.parent}) is not in pyproject.toml's packages"
