"""The house rules of the source tree (DESIGN §2), checked on the code itself: imports point one
way, no import circles, no module over 500 lines."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# source folder -> installed package (setup.py package_dir)
ROOTS = {"midi_ddsp": REPO / "midi_ddsp", "midi_ddsp.cli": REPO / "cli",
         "midi_ddsp.data_pipeline": REPO / "data_pipeline"}
MAX_LINES = 500
OUTSIDE_LIBRARY = ("midi_ddsp.cli", "midi_ddsp.data_pipeline", "midi_ddsp.training")
# what the bottom layers may import (besides themselves)
BOTTOM = {"midi_ddsp.dsp": ("midi_ddsp.errors", "midi_ddsp.config", "midi_ddsp.synth_params"),
          "midi_ddsp.score": ("midi_ddsp.errors", "midi_ddsp.instruments", "midi_ddsp.midi_controls",
                              "midi_ddsp.synth_params")}


def _modules() -> dict[str, Path]:
    out = {}
    for package, root in ROOTS.items():
        for path in sorted(root.rglob("*.py")):
            parts = [p for p in path.relative_to(root).with_suffix("").parts if p != "__init__"]
            out[".".join([package, *parts])] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Project modules ``name`` imports anywhere in its file (function-level imports included)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:  # midi_ddsp.dsp.core.x -> midi_ddsp.dsp.core
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_walk_sees_the_package():
    assert {"midi_ddsp.pipeline", "midi_ddsp.dsp.core", "midi_ddsp.cli.synthesize",
            "midi_ddsp.training.loop", "midi_ddsp.data_pipeline.corpus"} <= set(MODULES)
    assert "midi_ddsp.dsp.core" in GRAPH["midi_ddsp.dsp.synths"]


@pytest.mark.parametrize("name", sorted(n for n in MODULES
                                        if not any(_inside(n, p) for p in OUTSIDE_LIBRARY)))
def test_library_never_imports_training_data_building_or_cli(name):
    bad = sorted(m for m in GRAPH[name] if any(_inside(m, p) for p in OUTSIDE_LIBRARY))
    assert not bad, f"{name} imports {bad}"
    if name != "midi_ddsp":
        assert "midi_ddsp" not in GRAPH[name], f"{name} imports the top-level package"


def test_training_never_imports_data_building_or_cli():
    for name in (n for n in MODULES if _inside(n, "midi_ddsp.training")):
        bad = sorted(m for m in GRAPH[name] if _inside(m, "midi_ddsp.cli")
                     or _inside(m, "midi_ddsp.data_pipeline"))
        assert not bad, f"{name} imports {bad}"


@pytest.mark.parametrize("layer", sorted(BOTTOM))
def test_bottom_layers_import_only_below_them(layer):
    for name in (n for n in MODULES if _inside(n, layer)):
        bad = sorted(m for m in GRAPH[name] if not _inside(m, layer) and m not in BOTTOM[layer])
        assert not bad, f"{name} imports {bad}"


def test_no_import_circles():
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(GRAPH[name]):
            if dep == "midi_ddsp":  # the top package only re-exports (lazily, by name)
                continue
            if state.get(dep) == 1:
                cycle = path[path.index(dep):] + [dep]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, path + [dep])
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])


def test_no_source_module_over_500_lines():
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_importing_the_package_and_reading_scores_does_not_load_torch():
    import subprocess
    import sys

    code = ("import sys, midi_ddsp, midi_ddsp.score, midi_ddsp.casting, midi_ddsp.dsp.units; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
