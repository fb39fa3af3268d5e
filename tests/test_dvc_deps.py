"""Each stage of dvc.yaml depends on every project module its command imports.

DVC re-runs a stage only when a declared dependency changes. A module a stage imports but does
not declare (``code_tests`` calling ``augment_mutation.seed_inputs`` while verify listed only
``stages/verifiers``) can change the stage's output with DVC none the wiser: ``dvc status``
stays clean and the committed ``dvc.lock`` names outputs the code no longer makes. The check
follows imports (module level and inside functions) from each ``python -m`` command through
the ``stages`` and ``flows`` packages, and requires each file reached to be a dependency or
under a dependency folder.
"""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("stages", "flows")


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The project file of module ``name`` (relative to ``root``), or None if it is not one."""
    path = Path(*name.split("."))
    if (root / path / "__init__.py").exists():
        return path / "__init__.py"
    if (root / path.with_suffix(".py")).exists():
        return path.with_suffix(".py")
    return None


def imported_names(path: Path, root: Path = ROOT) -> set[str]:
    """Every module name an import statement in ``path`` may refer to (``from a import b``:
    both ``a`` and ``a.b``), relative imports resolved."""
    package = list(path.parent.parts)
    names: set[str] = set()
    for node in ast.walk(ast.parse((root / path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package[: len(package) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_closure(module: str, root: Path = ROOT) -> set[Path]:
    """The project files ``python -m module`` loads: the module, its packages, what they import."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        parts = todo.pop().split(".")
        if parts[0] not in PACKAGES:
            continue
        for i in range(1, len(parts) + 1):  # a module's parent packages run their __init__
            path = module_file(".".join(parts[:i]), root)
            if path is not None and path not in seen:
                seen.add(path)
                todo.extend(imported_names(path, root))
    return seen


def undeclared(root: Path = ROOT) -> dict[str, list[str]]:
    """Per stage: the imported project files that none of its deps covers."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    missing: dict[str, list[str]] = {}
    for name, stage in stages.items():
        words = stage["cmd"].split()
        if words[:2] != ["python", "-m"]:
            continue
        deps = [Path(d if isinstance(d, str) else next(iter(d))) for d in stage.get("deps", [])]
        files = import_closure(words[2], root)
        left = sorted(str(f) for f in files if not any(f == d or d in f.parents for d in deps))
        if left:
            missing[name] = left
    return missing


def test_every_stage_depends_on_the_modules_its_command_imports() -> None:
    missing = undeclared()
    assert not missing, "dvc.yaml: add to the stage's deps (then `dvc repro`): " + "; ".join(
        f"{stage}: {', '.join(files)}" for stage, files in missing.items())


def test_the_check_sees_an_import_the_stage_does_not_declare(tmp_path: Path) -> None:
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages/__init__.py").write_text("")
    (tmp_path / "stages/run.py").write_text("def main():\n    from .helper import f\n")
    (tmp_path / "stages/helper.py").write_text("from stages import other\n")
    (tmp_path / "stages/other.py").write_text("import json\n")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  s:\n    cmd: python -m stages.run\n    deps: [stages/run.py, stages/__init__.py]\n")
    assert undeclared(tmp_path) == {"s": ["stages/helper.py", "stages/other.py"]}
    (tmp_path / "dvc.yaml").write_text("stages:\n  s:\n    cmd: python -m stages.run\n    deps: [stages]\n")
    assert undeclared(tmp_path) == {}
