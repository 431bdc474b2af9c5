"""The package's rooms: which subpackage may import which, read from the source (lazy imports too).

Data flows one way: command line -> study -> strategies / execution -> the trial being run, with
records, storage and the shared leaves below them all, and reports reading records only.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hpsearch"

# Each room and the rooms it may import ("root" is hpsearch/__init__.py: its version string).
LEAVES = {"records", "trial", "settings", "seeding", "exceptions"}
ALLOWED = {
    "records": set(),
    "exceptions": set(),
    # the objective's contract: the handle, its data, the rules for what it returns
    "trial": {"records", "exceptions"},
    "settings": set(),
    "seeding": set(),
    "space": set(),
    "storage": {"records", "trial", "exceptions"},
    "data": {"storage", "trial", "settings", "seeding", "exceptions"},
    "strategies": {"space", "records", "seeding", "exceptions", "root"},
    # The built-in network is one objective among others: it runs through the engine's runner,
    # and nothing of the engine imports it.
    "builtin": {"execution", "data", "space", "storage", "records", "trial", "settings", "seeding"}
    | {"exceptions", "root"},
    "execution": {"data", "records", "trial", "settings", "seeding", "exceptions"},
    "reports": {"space", "storage", "records", "exceptions"},
    "study": {
        "execution",
        "strategies",
        "space",
        "storage",
        "reports",
        "builtin",
        "data",
        "records",
        "trial",
        "settings",
        "seeding",
        "exceptions",
        "root",
    },
    # execution: a command that will run a user's objective on local processes starts their
    # fork server before the study's modules load (pool.start_early), nothing more
    "cli": {
        "execution",
        "study",
        "reports",
        "builtin",
        "data",
        "space",
        "storage",
        "strategies",
        "exceptions",
        "records",
        "settings",
        "root",
    },
    "model": {"builtin"},
    "__main__": {"cli", "execution"},
    # its public names are looked up by string on first use (PEP 562), never imported
    "root": set(),
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("hpsearch", *path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _room(module: str) -> str:
    parts = module.split(".")
    return "root" if len(parts) == 1 else parts[1]


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    name = getattr(test, "id", None) or getattr(test, "attr", "")  # TYPE_CHECKING, typing.TYPE_...
    return isinstance(node, ast.If) and name.endswith("TYPE_CHECKING")


def _run_time_nodes(path: Path) -> list[ast.AST]:
    """Every node of the module but those under ``if TYPE_CHECKING:`` (a type checker's imports
    only: nothing runs them)."""
    found: list[ast.AST] = []

    def visit(node: ast.AST) -> None:
        found.append(node)
        for child in ast.iter_child_nodes(node):
            if not _type_checking(child):
                visit(child)

    visit(ast.parse(path.read_text()))
    return found


def _imported(module: str, path: Path) -> set[str]:
    """The hpsearch modules that ``module`` imports anywhere in its body, when it runs."""
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _run_time_nodes(path):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def _room_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        room = _room(module)
        targets = {_room(t) for t in _imported(module, path)} - {room}
        graph.setdefault(room, set()).update(targets)
    return graph


def test_every_room_is_known():
    assert set(_room_graph()) == set(ALLOWED), "a new room needs its place in ALLOWED"


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_a_room_imports_only_the_rooms_below_it(room):
    graph = _room_graph()
    assert graph.get(room, set()) <= ALLOWED[room], (
        f"{room} imports {sorted(graph[room] - ALLOWED[room])}"
    )


def test_the_study_knows_the_network_only_where_it_chooses_the_default_objective():
    knowing = sorted(
        module
        for module, path in MODULES.items()
        if _room(module) == "study" and any(_room(t) == "builtin" for t in _imported(module, path))
    )
    assert knowing == ["hpsearch.study.objectives"]


def test_the_rooms_import_no_circle():
    graph = _room_graph()
    done: set[str] = set()

    def visit(room: str, path: tuple[str, ...]) -> None:
        assert room not in path, f"import circle: {' -> '.join((*path, room))}"
        if room in done:
            return
        for target in graph.get(room, ()):
            visit(target, (*path, room))
        done.add(room)

    for room in graph:
        visit(room, ())


def test_the_top_of_the_package_is_small_and_each_room_holds_few_modules():
    top = [p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")]
    assert len(top) <= 6, top
    for folder in (p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()):
        modules = [p for p in folder.glob("*.py") if p.stem != "__init__"]
        assert len(modules) <= 12, (folder.name, len(modules))


def test_subpackage_inits_import_nothing_of_their_own():
    """A subpackage's __init__ loads no module (its names load on first use), so that importing one
    module of a room, or the command line's parse-only path, does not load the whole room."""
    for module, path in MODULES.items():
        if path.name == "__init__.py" and module != "hpsearch":
            imports = [
                n for n in _run_time_nodes(path) if isinstance(n, (ast.Import, ast.ImportFrom))
            ]
            names = {(getattr(n, "module", None), tuple(a.name for a in n.names)) for n in imports}
            allowed = {
                ("__future__", ("annotations",)),
                ("hpsearch", ("lazy_exports",)),
                ("typing", ("TYPE_CHECKING",)),
            }
            assert names <= allowed, (
                module,
                names,
            )


def _named_modules() -> set[str]:
    """Every string in the package that looks like a dotted hpsearch module path."""
    found = set()
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.update(re.findall(r"^hpsearch(?:\.[a-z_]+)+$", node.value))
    return found


def test_module_names_written_as_strings_exist():
    """A module named in a string (a package whose data files are read by name, say) must exist:
    a rename must not leave such a string behind."""
    names = _named_modules()
    for name in sorted(names):
        assert importlib.util.find_spec(name) is not None, name


@pytest.mark.parametrize("package", ["hpsearch", "hpsearch.strategies", "hpsearch.builtin.nn"])
def test_public_names_load_from_where_users_import_them(package):
    module = importlib.import_module(package)
    assert len(module.__all__) > 5
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_the_short_model_path_users_import_still_loads():
    from hpsearch.model import load_model

    assert load_model is importlib.import_module("hpsearch.builtin.model").load_model


def test_the_package_lists_every_public_name_it_loads():
    import hpsearch

    exports = importlib.import_module("hpsearch")._EXPORTS
    assert sorted(hpsearch.__all__) == sorted([*exports, "__version__"])
    nn = importlib.import_module("hpsearch.builtin.nn")
    assert sorted(nn.__all__) == sorted(nn._EXPORTS)
    for name in ("Study", "Trial", "TrialResult", "RepeatResult", "Settings", "TrainConfig"):
        assert name in hpsearch.__all__, name


def test_the_readme_shows_every_public_name():
    """``hpsearch.__all__`` is what the README says the package offers: none left unsaid."""
    import hpsearch

    readme = (PACKAGE.parent / "README.md").read_text()
    unsaid = [n for n in hpsearch.__all__ if n != "__version__" and f"`{n}" not in readme]
    assert not unsaid, f"exported but not in the README: {unsaid}"


def test_a_type_checker_sees_the_classes_a_user_imports(tmp_path):
    """mypy on a user's file: ``Study``, ``Trial`` and the dimensions are their classes (not
    Any, as the lazy ``__getattr__`` alone would give), so a misspelt method is flagged, and so
    is a name the package does not have (the ``__getattr__`` is hidden from the checker)."""
    pytest.importorskip("mypy")
    import subprocess
    import sys

    user = tmp_path / "mine.py"
    user.write_text(
        "from hpsearch import LogUniform, Study, Trial\n"
        "from hpsearch import Choice\n"
        "from hpsearch.builtin.nn import MultiLayerNet\n"
        "reveal_type(MultiLayerNet)\n"
        "study = Study('t', space={'lr': LogUniform(1e-3, 1.0)})\n"
        "reveal_type(study)\n"
        "reveal_type(LogUniform(1e-3, 1.0))\n"
        "def objective(trial: Trial) -> float:\n"
        "    reveal_type(trial)\n"
        "    return 0.5\n"
        "study.optimise()\n"
    )
    env = {**__import__("os").environ, "MYPYPATH": str(PACKAGE.parent)}
    # hpsearch from this checkout (MYPYPATH); its libraries (NumPy, pandas, matplotlib, ...)
    # left out as Any: what is checked is hpsearch's own names, and analysing the libraries'
    # stubs from an empty cache is most of mypy's time (15 s against 2.6 s).
    quick = ["--no-site-packages", "--ignore-missing-imports"]
    out = subprocess.run(
        [sys.executable, "-m", "mypy", *quick, "--cache-dir", str(tmp_path / "cache"), str(user)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    ).stdout
    mine = [line for line in out.splitlines() if line.startswith("mine.py")]
    assert any('Revealed type is "hpsearch.study.study.Study"' in line for line in mine), out
    assert any("hpsearch.space.dimensions.LogUniform" in line for line in mine), out
    assert any('Revealed type is "hpsearch.trial.Trial"' in line for line in mine), out
    assert any('has no attribute "optimise"' in line for line in mine), out
    assert any('Module "hpsearch" has no attribute "Choice"' in line for line in mine), out
    assert any("hpsearch.builtin.nn.net.MultiLayerNet" in line for line in mine), out
