"""The library's import boundaries, checked from the source with `ast` (lazy imports included).

- Only the runner (`liftline/cli/run.py`) imports Airflow; the rest of the library runs without it.
- A stage package uses another stage only through its public API: `from liftline.forecast
  import load_spec` is fine; `from liftline.forecast.inputs import x` (a private module) or a
  name the package's `__init__` does not list in `__all__` is a violation.
- Every package's `__init__` declares `__all__`, and every name in it exists.

`ALLOWED` lists today's violations that cannot be fixed yet, each with why. It may only shrink:
an entry that is no longer a violation fails the test until it is removed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[1] / "include" / "liftline"
AIRFLOW_ALLOWED = {"liftline.cli.run"}  # the runner drives Airflow's dag.test()

# (importing module, what it reaches) -> why it is still allowed.
ALLOWED: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Imported:
    module: str  # the importing module
    line: int
    target: str  # the module imported, or imported from
    name: str | None = None  # for `from target import name`


def module_name(path: Path) -> str:
    parts = path.relative_to(LIBRARY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(LIBRARY.rglob("*.py"))}


def is_package(name: str) -> bool:
    return (LIBRARY.parent / name.replace(".", "/") / "__init__.py").is_file()


def imports_of(name: str, path: Path) -> list[Imported]:
    """Every import in the module, at any depth (lazy ones in functions too), absolute."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [Imported(name, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found += [Imported(name, node.lineno, base, alias.name) for alias in node.names]
    return found


def declared_all(path: Path) -> list[str] | None:
    """The module's literal `__all__`, or None when it declares none."""
    for node in ast.parse(path.read_text()).body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) and node.value else [])
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return list(ast.literal_eval(node.value))
    return None


def top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def stage_of(module: str) -> str | None:
    """The stage package a module belongs to (liftline.promo.inputs -> liftline.promo)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 and is_package(".".join(parts[:2])) else None


def is_module(name: str) -> bool:
    return is_package(name) or (LIBRARY.parent / f"{name.replace('.', '/')}.py").is_file()


def reach(imported: Imported) -> tuple[str, str] | None:
    """(what, why) when `imported` reaches into another stage's internals, else None."""
    target, name = imported.target, imported.name
    stage = stage_of(target)
    if stage is None or stage == stage_of(imported.module):
        return None
    if target != stage:
        return target, f"imports the private module {target}"
    if name is None or name in (declared_all(LIBRARY.parent / stage.replace(".", "/")
                                             / "__init__.py") or []):
        return None
    if is_module(f"{stage}.{name}"):
        return f"{stage}.{name}", f"imports the private module {stage}.{name}"
    return f"{stage}.{name}", f"imports {name!r}, which {stage}.__all__ does not list"


def all_imports() -> list[Imported]:
    return [i for name, path in library_modules().items() for i in imports_of(name, path)]


def violations() -> dict[tuple[str, str], list[str]]:
    """(importing module, what it reaches) -> where and why; one key per module reached."""
    found: dict[tuple[str, str], list[str]] = {}
    for imported in all_imports():
        reached = reach(imported)
        if reached:
            what, why = reached
            found.setdefault((imported.module, what), []).append(
                f"{imported.module} line {imported.line}: {why}")
    return found


def test_only_the_runner_imports_airflow():
    offending = [f"{i.module} line {i.line}: imports {i.target}" for i in all_imports()
                 if (i.target == "airflow" or i.target.startswith("airflow."))
                 and i.module not in AIRFLOW_ALLOWED]
    assert not offending, "the library must run without Airflow:\n" + "\n".join(offending)


def test_stages_use_each_others_public_api_only():
    found = violations()
    new = {key: lines for key, lines in found.items() if key not in ALLOWED}
    assert not new, ("import it from the stage package instead (export it in its __init__ "
                     "and __all__):\n" + "\n".join(line for lines in new.values()
                                                   for line in lines))


def test_the_allow_list_only_shrinks():
    stale = sorted(set(ALLOWED) - set(violations()))
    assert not stale, f"no longer violations, remove them from ALLOWED: {stale}"


@pytest.mark.parametrize("package", sorted(name for name in library_modules()
                                           if is_package(name)))
def test_every_package_declares_its_public_api(package):
    init = LIBRARY.parent / package.replace(".", "/") / "__init__.py"
    public = declared_all(init)
    assert public is not None, f"{init} declares no __all__: list the package's public API"
    missing = sorted(set(public) - top_level_names(init))
    assert not missing, f"{package}.__all__ lists names it does not define: {missing}"


def test_the_checker_sees_a_private_import_a_lazy_one_and_airflow(tmp_path):
    source = ("import airflow.sdk\n"
              "def later():\n"
              "    from liftline.forecast.inputs import store_days\n"
              "    from liftline.forecast import train_forecasts, _not_public\n"
              "from ..warehouse import read_frame\n")
    path = tmp_path / "fake.py"
    path.write_text(source)
    found = imports_of("liftline.promo.fake", path)
    assert [(i.target, i.name) for i in found] == [
        ("airflow.sdk", None), ("liftline.warehouse", "read_frame"),
        ("liftline.forecast.inputs", "store_days"), ("liftline.forecast", "train_forecasts"),
        ("liftline.forecast", "_not_public")]
    assert [reach(i) for i in found] == [
        None, None,
        ("liftline.forecast.inputs", "imports the private module liftline.forecast.inputs"),
        None,
        ("liftline.forecast._not_public",
         "imports '_not_public', which liftline.forecast.__all__ does not list")]
