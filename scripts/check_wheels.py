"""Check the two wheels this repository builds: their contents, and their tests as installed (not editable).

Usage:
    python scripts/check_wheels.py build DIST      # build both wheels from a clean copy of the sources, check them
    python scripts/check_wheels.py contents DIST   # every source module is in its wheel, nothing else leaks in
    python scripts/check_wheels.py test DIST       # fresh virtual environments, installed wheels, real tests

``test`` runs two jobs, each in a fresh virtual environment and a scratch directory outside the repository (so
no source folder shadows what was installed):

1. the published ``durabletask`` 1.12.0 plus the testkit wheel alone: the plugin's test suite passes (``-n 2``),
   and ``durabletask`` is still the published package afterwards;
2. our two wheels together: the examples' tests, the plugin's test suite and one example run end to end;
3. ``azure-functions-durable`` 1.7.0 and ``azure-functions`` plus the testkit wheel: the example Durable Functions
   app's tests pass, plain and with ``-n 2``.

Exits non-zero on the first problem, naming it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED_SDK = "durabletask==1.12.0"
TEST_TOOLS = ("pytest-xdist>=3.5", "pytest-timeout>=2.3")
FUNCTIONS_SDK = ("azure-functions-durable==1.7.0", "azure-functions", "pytest-asyncio>=0.23")
SHIPPED_SUFFIXES = {".py", ".pyi", ".proto", ".typed"}

# (wheel name prefix, {source folder: installed package folder})
WHEELS = {
    "testkit": (
        "durabletask_testkit-",
        {"durabletask_testing": "durabletask_testing", "pytest_plugin": "durabletask_pytest"},
    ),
    "sdk": ("durabletask_testkit_sdk-", {"durabletask": "durabletask"}),
}


class CheckFailed(Exception):
    """A check found a problem; the message names it."""


def find_wheel(dist: Path, kind: str) -> Path:
    prefix = WHEELS[kind][0]
    found = sorted(dist.glob(f"{prefix}[0-9]*.whl"))
    if len(found) != 1:
        raise CheckFailed(f"expected exactly one {prefix}*.whl in {dist}, found {[p.name for p in found]}")
    return found[0]


def expected_files(mapping: dict[str, str]) -> set[str]:
    """The files a wheel must hold: every shipped file of each source folder, at its installed path."""
    expected: set[str] = set()
    for source, installed in mapping.items():
        for path in (ROOT / source).rglob("*"):
            if path.is_file() and path.suffix in SHIPPED_SUFFIXES and "__pycache__" not in path.parts:
                expected.add(f"{installed}/{path.relative_to(ROOT / source).as_posix()}")
    return expected


BUILD_INPUTS = ("pyproject.toml", "README.md", "durabletask", "durabletask_testing", "pytest_plugin", "packaging")


def build(dist: Path) -> None:
    """Build both wheels into dist from a clean copy of the sources.

    A copy, because setuptools reuses build/ and *.egg-info left in the tree (an editable install writes them),
    which can put modules into a wheel that its package list leaves out.
    """
    if dist.exists():
        shutil.rmtree(dist)
    dist.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    with tempfile.TemporaryDirectory(prefix="dists-") as tmp:
        source = Path(tmp)
        for name in BUILD_INPUTS:
            origin = ROOT / name
            if origin.is_dir():
                shutil.copytree(origin, source / name, ignore=ignore)
            else:
                shutil.copy2(origin, source / name)
        pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps"]
        run([*pip, "--wheel-dir", str(dist), ".", "./packaging/sdk"], cwd=source)


def check_contents(dist: Path) -> None:
    for kind, (_, mapping) in WHEELS.items():
        wheel = find_wheel(dist, kind)
        with zipfile.ZipFile(wheel) as archive:
            names = {name for name in archive.namelist() if ".dist-info/" not in name}
        missing = sorted(expected_files(mapping) - names)
        if missing:
            raise CheckFailed(f"{wheel.name} lacks {len(missing)} source file(s): {', '.join(missing[:10])}")
        allowed_roots = {installed for installed in mapping.values()}
        strays = sorted(name for name in names if name.split("/", 1)[0] not in allowed_roots)
        if strays:
            raise CheckFailed(f"{wheel.name} holds files outside {sorted(allowed_roots)}: {', '.join(strays[:10])}")
        print(f"{wheel.name}: {len(names)} files, every source module present")


def run(cmd: list[str], cwd: Path) -> None:
    print("+", " ".join(cmd), flush=True)
    result = subprocess.run(cmd, cwd=cwd)
    if result.returncode != 0:
        raise CheckFailed(f"command failed with exit code {result.returncode}: {' '.join(cmd)}")


def fresh_venv(where: Path, packages: list[str]) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = where / "bin" / "python"
    run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages], cwd=where)
    return python


def copy_tests(scratch: Path, folders: list[str]) -> None:
    for folder in folders:
        shutil.copytree(ROOT / folder, scratch / Path(folder).name, ignore=shutil.ignore_patterns("__pycache__"))


PYTEST = ["-m", "pytest", "-p", "pytester", "-p", "no:cacheprovider", "-q", "-n", "2", "--timeout", "120"]

ASSERT_PUBLISHED = (
    "import importlib.metadata as m, durabletask, durabletask_testing, durabletask_pytest\n"
    "owners = m.packages_distributions()['durabletask']\n"
    "assert owners == ['durabletask'], owners\n"
    "assert m.version('durabletask') == '1.12.0', m.version('durabletask')\n"
    "print('durabletask is still the published package', m.version('durabletask'))\n"
)


def job_published_sdk_with_testkit(dist: Path, scratch: Path) -> None:
    print("== job 1: the published durabletask 1.12.0 + the testkit wheel ==", flush=True)
    python = fresh_venv(scratch / "venv", [PUBLISHED_SDK, str(find_wheel(dist, "testkit")), *TEST_TOOLS])
    copy_tests(scratch, ["tests/plugin"])
    run([str(python), "-c", ASSERT_PUBLISHED], cwd=scratch)
    run([str(python), *PYTEST, "plugin"], cwd=scratch)
    run([str(python), "-c", ASSERT_PUBLISHED], cwd=scratch)


def job_our_wheels(dist: Path, scratch: Path) -> None:
    print("== job 2: our SDK wheel + the testkit wheel ==", flush=True)
    wheels = [str(find_wheel(dist, "testkit")), str(find_wheel(dist, "sdk"))]
    python = fresh_venv(scratch / "venv", [*wheels, *TEST_TOOLS])
    copy_tests(scratch, ["tests/plugin", "examples"])
    run([str(python), "examples/human_interaction.py"], cwd=scratch)
    run([str(python), *PYTEST, "plugin", "examples"], cwd=scratch)


def job_functions_app(dist: Path, scratch: Path) -> None:
    print("== job 3: azure-functions-durable 1.7.0 + the testkit wheel ==", flush=True)
    python = fresh_venv(scratch / "venv", [str(find_wheel(dist, "testkit")), *FUNCTIONS_SDK, *TEST_TOOLS])
    copy_tests(scratch, ["examples/durable_functions_app"])
    app = scratch / "durable_functions_app"
    plain = [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q", "--timeout", "120"]
    run(plain, cwd=app)
    run([*plain, "-n", "2"], cwd=app)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["build", "contents", "test"])
    parser.add_argument("dist", type=Path)
    args = parser.parse_args()
    dist = args.dist.resolve()
    try:
        if args.what == "build":
            build(dist)
        check_contents(dist)
        if args.what == "test":
            for job in (job_published_sdk_with_testkit, job_our_wheels, job_functions_app):
                with tempfile.TemporaryDirectory(prefix="wheel-test-") as tmp:
                    job(dist, Path(tmp))
    except CheckFailed as problem:
        print(f"check_wheels: {problem}", file=sys.stderr)
        return 1
    print("check_wheels: OK")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
