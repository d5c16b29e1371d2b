"""The layering of genrec's packages (docs/architecture.md), enforced on every import in src/genrec.

Every ``import genrec.X`` / ``from genrec.X import ...`` counts, at module level or inside a function or an
``if TYPE_CHECKING:`` block alike: a lazy import is still a dependency. A package may import packages of
lower layers only; packages of one layer are independent of each other; ``decoding`` is model-agnostic
(it knows token ids and tries, never recommenders, tokenizers or training).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "genrec"

#: Bottom to top. Keep docs/architecture.md's picture in step with this list.
LAYERS: list[set[str]] = [
    {"errors"},
    {"assets", "config"},
    {"data"},
    {"io"},
    {"prompts", "decoding", "tokenizers"},
    {"training", "evaluation"},
    {"recommenders"},
    {"workflows"},
    {"serving"},
    {"cli"},
    {"__main__"},
]
#: Narrower than its layer allows: the beam search must work for any causal LM and any trie.
ONLY = {"decoding": {"errors"}}


def layer_of(package: str) -> int:
    for level, members in enumerate(LAYERS):
        if package in members:
            return level
    raise AssertionError(f"genrec.{package} is in no layer: add it to LAYERS and docs/architecture.md")


def package_of(path: Path) -> str:
    first = path.relative_to(SRC).parts[0]
    return first.removesuffix(".py")


def imported_packages(path: Path) -> dict[str, int]:
    """genrec packages (first component after ``genrec.``) imported by one file, with a line number each."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "genrec":  # from genrec import data
                names = [f"genrec.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "genrec" and len(parts) > 1:
                found.setdefault(parts[1], node.lineno)
    return found


def edges() -> dict[tuple[str, str], str]:
    """(importer, imported) package pairs, each with one place ("file:line") that makes it."""
    out: dict[tuple[str, str], str] = {}
    for path in sorted(SRC.rglob("*.py")):
        source = package_of(path)
        if source == "__init__":
            continue
        for target, line in imported_packages(path).items():
            if target != source:
                out.setdefault((source, target), f"{path.relative_to(SRC.parent)}:{line}")
    return out


def test_every_package_has_a_layer() -> None:
    packages = {package_of(p) for p in SRC.rglob("*.py")} - {"__init__"}
    for package in sorted(packages):
        layer_of(package)


def test_imports_only_point_down() -> None:
    wrong = []
    for (source, target), where in sorted(edges().items()):
        if source in ONLY and target not in ONLY[source]:
            wrong.append(f"{where}: genrec.{source} may import only {sorted(ONLY[source])}, not {target}")
        elif layer_of(target) >= layer_of(source):
            levels = f"(layer {layer_of(source)}) imports genrec.{target} (layer {layer_of(target)})"
            wrong.append(f"{where}: genrec.{source} {levels}")
    assert not wrong, "forbidden imports:\n" + "\n".join(wrong)


def test_no_package_level_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for source, target in edges():
        graph.setdefault(source, set()).add(target)

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    cycles = sorted(
        {" <-> ".join(sorted((a, b))) for a in graph for b in reachable(a) if a in reachable(b) and a != b}
    )
    assert not cycles, f"package-level import cycles: {cycles}"


def test_the_checker_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from genrec.serving import app\n"
        "def f():\n    import genrec.workflows.train\n    from genrec import data\n"
    )
    assert set(imported_packages(module)) == {"serving", "workflows", "data"}


@pytest.mark.parametrize("package", ["decoding"])
def test_model_agnostic_packages_import_no_model_code(package: str) -> None:
    targets = {t for (s, t) in edges() if s == package}
    assert targets <= ONLY[package], targets
