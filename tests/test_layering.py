"""The import structure of ``synth/`` and ``validation/``: layers, lowest first, and no import circles.

A module may import modules of its own layer or of a lower one, never of a higher one. Every import counts:
module level, inside a function, and under ``if TYPE_CHECKING:`` (a type-only import is still a dependency a
reader has to follow, and the one that hides a circle). The layers, lowest first (README "Layout" says the same):

1. kernel: ``synth.core`` (Sample, label ids, canonical_hash, DatasetPaths, taxonomy and DatasetContext),
   ``synth.errors``, ``synth.progress``, ``synth`` itself (the version). Imports nothing else of the project.
2. storage: ``synth.store`` (shards, codecs, records, object stores), ``synth.stats`` (per-sample statistics),
   ``synth.agreement`` (per-sample mask-image agreement),
   ``synth.realdata`` (real labeled images: Fashion-MNIST compositions).
3. execution: ``synth.backends`` (run per-shard callables locally or on Ray; never imports a stage).
4. generators: ``synth.generate``; segmenters: ``synth.segment`` (segmentation networks, their batching and
   the training loop that evaluate, mix, adapt and labelcheck share; below all of them so none stands on another).
5. implementations that consume samples: ``synth.decode``, ``synth.mix``, ``synth.adapt``, ``synth.evaluate``,
   ``synth.labelcheck`` (judges, cleanlab ranking, per-sample label flags).
   Layers 4 and 5 get their own config and a ``DatasetContext``, never the recipe.
6. recipe: ``synth.recipe`` (imports the implementations' configs), ``synth.splits``.
7. dataset-level checks, files and models: ``validation``, ``synth.card``, ``synth.publish``, ``synth.report``,
   ``synth.export``, ``synth.train_generator`` (trains a generator, measures it through a recipe).
8. stages: ``synth.stages`` (one function per DVC stage).
9. interfaces: ``synth.cli``, ``synth.catalog``, ``synth.__main__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("synth", "validation")

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("kernel", ("synth.core", "synth.errors", "synth.progress", "synth")),
    ("storage", ("synth.store", "synth.stats", "synth.agreement", "synth.realdata")),
    ("execution", ("synth.backends",)),
    ("generators and segmenters", ("synth.generate", "synth.segment")),
    ("implementations", ("synth.decode", "synth.mix", "synth.adapt", "synth.evaluate", "synth.labelcheck")),
    ("recipe", ("synth.recipe", "synth.splits")),
    (
        "dataset checks, files and models",
        ("validation", "synth.card", "synth.publish", "synth.report", "synth.export", "synth.train_generator"),
    ),
    ("stages", ("synth.stages",)),
    ("interfaces", ("synth.cli", "synth.catalog", "synth.__main__")),
]


def module_files() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module ``name`` refers to: itself, or the package of an imported attribute."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every project module ``module`` imports, wherever the import statement is."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for name in names:
            if name.split(".")[0] not in PACKAGES:
                continue
            target = _resolve(name, modules)
            if target is not None and target != module:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {module: imports_of(module, path, modules) for module, path in modules.items()}


def layer_of(module: str) -> int | None:
    """Index of the layer whose longest matching prefix names ``module``."""
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in module_files() if layer_of(m) is None)
    assert not unplaced, f"modules in no layer (add them to LAYERS and the README): {unplaced}"


def test_no_import_circles():
    found = circles(import_graph())
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_import_from_a_lower_layer_to_a_higher_one():
    graph = import_graph()
    upward = [
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if layer_of(target) is not None and layer_of(module) is not None and layer_of(target) > layer_of(module)
    ]
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_the_checks_see_every_kind_of_import(tmp_path):
    """The graph counts function-local and TYPE_CHECKING imports and finds a circle made only of them."""
    (tmp_path / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from synth.b import X\n")
    (tmp_path / "b.py").write_text("def f():\n    from synth.a import Y\n")
    modules = {"synth.a": tmp_path / "a.py", "synth.b": tmp_path / "b.py"}
    graph = {m: imports_of(m, p, modules) for m, p in modules.items()}
    assert graph == {"synth.a": {"synth.b"}, "synth.b": {"synth.a"}}
    assert circles(graph) == [["synth.a", "synth.b"]]
    assert (
        layer_of("synth.decode.datasetgan.ensemble") > layer_of("synth.generate.scenes") > layer_of("synth.core.paths")
    )
