"""tests/ mirrors the source layout (docs/architecture.md §7, "Tests mirror the source"): the tests
of a module live in the folder of its package, tests/a/b <-> a/b/, so a reader finds them by path.

Data folders hold files that tests read, not tests, and are declared here. tests/events (AWS's
sample events) stays where it is rather than moving to tests/fixtures/events: the source
comments, docs and tests that cite tests/events/ keep their references unchanged.

pytest imports test and support modules by basename (prepend import mode, no __init__.py under
tests/), so two modules with one basename in different folders would clash: basenames are unique.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
# Folders of data read by tests, relative to tests/: their own files, no source package behind.
DATA_FOLDERS = frozenset({"events", "config/bad"})
# Module files pytest itself imports per folder, not by basename.
SHARED_BASENAMES = frozenset({"conftest.py"})


def _folders(tests: Path) -> Iterator[Path]:
    for folder in sorted(tests.rglob("*")):
        if folder.is_dir() and "__pycache__" not in folder.parts:
            yield folder.relative_to(tests)


def unmirrored_folders(repository: Path, data_folders: frozenset[str]) -> list[str]:
    """Folders under tests/ (data folders and their contents aside) with no source package
    (a folder holding __init__.py) at the same path under the repository root."""
    tests = repository / "tests"
    return [
        relative.as_posix()
        for relative in _folders(tests)
        if not any(relative.is_relative_to(data) for data in data_folders)
        and not (repository / relative / "__init__.py").is_file()
    ]


def clashing_basenames(tests: Path) -> dict[str, list[str]]:
    """Python module basenames that occur in more than one folder under tests/."""
    folders: defaultdict[str, list[str]] = defaultdict(list)
    for module in sorted(tests.rglob("*.py")):
        if "__pycache__" not in module.parts and module.name not in SHARED_BASENAMES:
            folders[module.name].append(module.parent.relative_to(tests).as_posix())
    return {name: where for name, where in folders.items() if len(where) > 1}


def test_every_test_folder_is_the_folder_of_a_source_package() -> None:
    assert unmirrored_folders(REPOSITORY, DATA_FOLDERS) == [], (
        "move these tests/ folders to the path of the package they test (tests/a/b <-> a/b/), "
        "or declare a folder of data in DATA_FOLDERS"
    )


@pytest.mark.parametrize("data", sorted(DATA_FOLDERS))
def test_declared_data_folders_exist_and_hold_no_python(data: str) -> None:
    folder = REPOSITORY / "tests" / data
    assert folder.is_dir(), f"tests/{data} is declared a data folder but does not exist"
    assert list(folder.rglob("*.py")) == [], f"tests/{data} is data: its tests belong elsewhere"


def test_module_basenames_are_unique_across_tests() -> None:
    assert clashing_basenames(REPOSITORY / "tests") == {}


def test_a_folder_named_by_role_is_reported(tmp_path: Path) -> None:
    """The check on a small tree: a role-named folder and a folder under a data folder."""
    for package in ("hub_stack", "hub_stack/runtime"):
        (tmp_path / package).mkdir(parents=True)
        (tmp_path / package / "__init__.py").touch()
    for folder in ("hub_stack/runtime", "hub_runtime", "events/nested", "hub_stack/store"):
        (tmp_path / "tests" / folder).mkdir(parents=True)
    (tmp_path / "tests" / "hub_runtime" / "support.py").touch()
    (tmp_path / "tests" / "hub_stack" / "support.py").touch()

    assert unmirrored_folders(tmp_path, frozenset({"events"})) == ["hub_runtime", "hub_stack/store"]
    assert clashing_basenames(tmp_path / "tests") == {"support.py": ["hub_runtime", "hub_stack"]}
