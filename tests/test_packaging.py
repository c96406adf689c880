"""The wheel builds from the checkout, installs into a clean venv, and both commands run from it.

Everything is offline: the build uses the project venv's setuptools (`--no-build-isolation`),
installs take `--no-deps --no-index`, and the fresh venvs borrow the runtime dependencies from
the project venv through a .pth file. That .pth adds the project venv's site-packages as a plain
path, so the editable install of the checkout living there is never activated.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from dataclasses import dataclass
from importlib.metadata import PathDistribution, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from setuptools import find_packages

PROJECT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((PROJECT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
DIST_INFO = f"fleet_edge-{VERSION}.dist-info"
TOP_PACKAGES = ("edge", "firmware_protocol", "sim")
PACKAGE_DATA = (
    "firmware_protocol/can/*.dbc",
    "firmware_protocol/can/*.toml",
    "firmware_protocol/can/profiles/*.toml",
    "firmware_protocol/can/PROFILES.md",
    "firmware_protocol/slotboard/PROTOCOL.md",
)
COMMANDS = {"edge-agent": "edge.cli:main", "edge-sim": "sim.cli:main"}
# What only the tests and the demo use lives in testbed/, which the wheel must not ship: the
# broker fixture, the box rig, the process harness and the demo, under any package.
TEST_FIXTURES = "testbed"
FIXTURE_MODULES = ("broker", "rig", "processes", "harness", "demo")
EXAMPLES = sorted((PROJECT / "config").glob("*.example.toml"))
NOT_SOURCE = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)
TIMEOUT_S = 60


def _env() -> dict[str, str]:
    """This environment, minus whatever could put another tree on a child's sys.path."""
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV"}
    return {key: value for key, value in os.environ.items() if key not in drop}


def _run(args: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def _ok(args: list[str | Path], cwd: Path) -> str:
    done = _run(args, cwd)
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout


def _pip(*args: str | Path, cwd: Path) -> None:
    _ok([sys.executable, "-m", "pip", "--no-input", "--no-cache-dir", *args], cwd)


def _source_files(source: Path) -> set[str]:
    """Every file under the shipped packages, as a path relative to the tree."""
    return {
        path.relative_to(source).as_posix()
        for top in TOP_PACKAGES
        for path in (source / top).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout, so builds leave no build/ or egg-info in the working tree."""
    tree = tmp_path_factory.mktemp("source") / "fleet-edge"
    shutil.copytree(PROJECT, tree, ignore=NOT_SOURCE)
    return tree


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", out, source, cwd=out)
    (built,) = out.glob("*.whl")
    assert built.name == f"fleet_edge-{VERSION}-py3-none-any.whl"
    return built


@pytest.fixture(scope="module")
def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name for name in archive.namelist() if not name.endswith("/")}


@dataclass(frozen=True)
class Venv:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def command(self, name: str) -> Path:
        return self.root / "bin" / name


def _fresh_venv(root: Path) -> Venv:
    """A venv of its own that sees the project venv's packages but not the checkout."""
    _ok([sys.executable, "-m", "venv", "--without-pip", root], root.parent)
    venv = Venv(root)
    site_packages = _ok(
        [venv.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        root,
    ).strip()
    project_site_packages = sysconfig.get_paths()["purelib"]
    (Path(site_packages) / "project_venv.pth").write_text(project_site_packages + "\n")
    return venv


@pytest.fixture(scope="module", params=["wheel", "source"])
def installed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, source: Path
) -> Venv:
    """The package installed into a fresh venv: from the built wheel, or `pip install .`."""
    root = tmp_path_factory.mktemp(f"venv-{request.param}") / "venv"
    venv = _fresh_venv(root)
    if request.param == "wheel":
        target = request.getfixturevalue("wheel")
        options = ["--no-deps", "--no-index"]
    else:
        target = source
        options = ["--no-deps", "--no-index", "--no-build-isolation"]
    _pip("--python", venv.python, "install", *options, target, cwd=root.parent)
    return venv


def test_project_venv_has_the_build_backend_pyproject_asks_for() -> None:
    for requirement in map(Requirement, PYPROJECT["build-system"]["requires"]):
        installed = version(requirement.name)
        assert requirement.specifier.contains(installed), (
            f"the build runs without isolation on the project venv's {requirement.name} "
            f"{installed}, but pyproject.toml asks for {requirement}: bootstrap must install it"
        )


def test_wheel_ships_every_module_of_the_packages(source: Path, wheel_names: set[str]) -> None:
    packages = find_packages(where=str(source), include=[f"{top}*" for top in TOP_PACKAGES])
    assert set(TOP_PACKAGES) <= set(packages)
    inits = {package.replace(".", "/") + "/__init__.py" for package in packages}
    assert inits <= wheel_names, f"packages missing: {sorted(inits - wheel_names)}"
    modules = {name for name in _source_files(source) if name.endswith(".py")}
    assert modules <= wheel_names, f"modules missing: {sorted(modules - wheel_names)}"


def test_wheel_ships_the_package_data(source: Path, wheel_names: set[str]) -> None:
    for pattern in PACKAGE_DATA:
        files = {path.relative_to(source).as_posix() for path in source.glob(pattern)}
        assert files, f"nothing in the tree matches {pattern}"
        assert files <= wheel_names, f"{pattern} missing: {sorted(files - wheel_names)}"
    data = {name for name in _source_files(source) if not name.endswith(".py")}
    assert data <= wheel_names, f"data files missing: {sorted(data - wheel_names)}"


def test_wheel_holds_nothing_but_the_packages_and_its_metadata(wheel_names: set[str]) -> None:
    tops = {name.split("/", 1)[0] for name in wheel_names}
    assert tops == {*TOP_PACKAGES, DIST_INFO}
    assert not [name for name in wheel_names if name.startswith(("tests/", "bench/"))]


def test_wheel_ships_no_test_fixtures(source: Path, wheel_names: set[str]) -> None:
    assert sorted((source / TEST_FIXTURES).glob("*.py")), "the fixtures are in the checkout"
    shipped = [name for name in wheel_names if name.startswith(f"{TEST_FIXTURES}/")]
    assert not shipped, f"{TEST_FIXTURES}/ in the wheel: {sorted(shipped)}"
    fixtures = [
        name for name in wheel_names if name.endswith(".py") and Path(name).stem in FIXTURE_MODULES
    ]
    assert not fixtures, f"test fixtures in the wheel: {sorted(fixtures)}"


def test_wheel_declares_both_commands_and_the_version(wheel: Path) -> None:
    metadata = PathDistribution(zipfile.Path(wheel, f"{DIST_INFO}/"))
    scripts = metadata.entry_points.select(group="console_scripts")
    assert {script.name: script.value for script in scripts} == COMMANDS
    assert PYPROJECT["project"]["scripts"] == COMMANDS
    assert (metadata.name, metadata.version) == ("fleet-edge", VERSION)


def test_installed_packages_import_from_the_fresh_venv(installed: Venv) -> None:
    where = json.loads(
        _ok(
            [
                installed.python,
                "-c",
                "import json, edge, firmware_protocol, sim; "
                "print(json.dumps([m.__file__ for m in (edge, firmware_protocol, sim)]))",
            ],
            installed.root.parent,
        )
    )
    root = installed.root.resolve()
    for module_file in where:
        assert Path(module_file).resolve().is_relative_to(root), module_file
    for name in COMMANDS:
        assert installed.command(name).is_file()


def test_installed_edge_agent_reports_the_project_version(installed: Venv) -> None:
    out = _ok([installed.command("edge-agent"), "--version"], installed.root.parent)
    assert out.strip() == f"edge-agent {VERSION}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_installed_edge_agent_accepts_each_example_config(installed: Venv, example: Path) -> None:
    out = _ok([installed.command("edge-agent"), "check-config", example], installed.root.parent)
    assert len(out.strip().splitlines()) == 1


def test_examples_exist_for_every_kind() -> None:
    assert {path.name.split(".")[0] for path in EXAMPLES} == {"vehicle", "cabinet", "parking"}


@pytest.mark.parametrize("args", [["--help"], ["vehicle", "--help"]], ids=" ".join)
def test_installed_edge_sim_answers_help(installed: Venv, args: list[str]) -> None:
    out = _ok([installed.command("edge-sim"), *args], installed.root.parent)
    assert "usage:" in out
