"""Run the published durabletask-python repository's end-to-end tests against our fake sidecar.

The tests are not part of this repository: fetch microsoft/durabletask-python yourself and point this script at
its ``tests/durabletask`` folder. The script copies the chosen test files into a scratch directory (outside the
repository), replaces the published package's in-memory test backend (``durabletask.testing``) with our fake
sidecar listening on the port the tests choose, and runs them with one or both SDKs:

* ``ours``: this repository's SDK (the ``.venv`` interpreter);
* ``published``: durabletask 1.12.0 from PyPI (``.interop/published-venv``, see scripts/published_venv.py).

Usage::

    python scripts/run_published_e2e.py PATH/TO/durabletask-python/tests/durabletask [--sdk ours|published|both]
        [--clock real|auto] [--scratch DIR] [FILE ...]

Prints passed/total per test file and SDK. Nothing is written inside the repository.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHONS = {"ours": ROOT / ".venv" / "bin" / "python",
           "published": ROOT / ".interop" / "published-venv" / "bin" / "python"}
DEFAULT_FILES = [
    "test_orchestration_e2e.py",
    "test_orchestration_versioning_e2e.py",
    "test_orchestration_async_e2e.py",
    "test_rewind_e2e.py",
    "test_work_item_filters_e2e.py",
    "test_batch_actions.py",
    "entities/test_delayed_signals_e2e.py",
]

# Installed as ``durabletask.testing`` before any test module imports it: a backend is our fake sidecar.
_SHIM = '''
import os
import sys
import types

from durabletask_testing import FakeSidecar


class _FakeBackend:
    def __init__(self, port):
        self._sidecar = FakeSidecar(clock=os.environ.get("FAKE_CLOCK", "real"), port=port)
        self._sidecar.start()

    def stop(self):
        self._sidecar.stop()

    def reset(self):
        pass


def create_test_backend(port=50051, **_ignored):
    return _FakeBackend(port)


shim = types.ModuleType("durabletask.testing")
shim.create_test_backend = create_test_backend
import durabletask  # noqa: E402

sys.modules["durabletask.testing"] = shim
durabletask.testing = shim


def pytest_pyfunc_call(pyfuncitem):
    """Run ``async def`` tests with asyncio.run (neither venv has an asyncio pytest plugin)."""
    import asyncio
    import inspect

    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True
'''


def prepare(tests_dir: Path, scratch: Path, files: list[str]) -> None:
    """Lay out ``scratch`` as ``tests/durabletask/...`` plus the shim and a path to our fake."""
    package = scratch / "tests" / "durabletask"
    package.mkdir(parents=True, exist_ok=True)
    (scratch / "tests" / "__init__.py").write_text("")
    for name in ["__init__.py", "_port_utils.py", *files]:
        target = package / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.parent != package and not (target.parent / "__init__.py").exists():
            (target.parent / "__init__.py").write_text("")
        shutil.copyfile(tests_dir / name, target)
    (scratch / "conftest.py").write_text(_SHIM)
    fake_path = scratch / "_fake"
    fake_path.mkdir(exist_ok=True)
    link = fake_path / "durabletask_testing"
    if not link.exists():
        link.symlink_to(ROOT / "durabletask_testing")


def run(sdk: str, scratch: Path, files: list[str], clock: str) -> dict[str, tuple[int, int]]:
    """(passed, total) per file for one SDK."""
    report = scratch / f"report-{sdk}.xml"
    env = dict(os.environ, PYTHONPATH=f"{scratch}{os.pathsep}{scratch / '_fake'}", FAKE_CLOCK=clock)
    command = [str(PYTHONS[sdk]), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:durabletask",
               "--timeout=120", f"--junitxml={report}", *[f"tests/durabletask/{f}" for f in files]]
    subprocess.run(command, cwd=scratch, env=env, check=False)
    counts: dict[str, tuple[int, int]] = {f: (0, 0) for f in files}
    for case in ElementTree.parse(report).iter("testcase"):
        module = case.get("classname", "").replace(".", "/")
        name = next((f for f in files if module.startswith(f"tests/durabletask/{f[:-3]}")), None)
        if name is None:
            continue
        passed, total = counts[name]
        failed = any(child.tag in ("failure", "error", "skipped") for child in case)
        counts[name] = (passed + (0 if failed else 1), total + 1)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tests_dir", type=Path, help="the fetched repository's tests/durabletask folder")
    parser.add_argument("files", nargs="*", default=DEFAULT_FILES)
    parser.add_argument("--sdk", choices=["ours", "published", "both"], default="both")
    parser.add_argument("--clock", choices=["real", "auto"], default="real")
    parser.add_argument("--scratch", type=Path, default=None)
    args = parser.parse_args()
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="published-e2e-"))
    if ROOT in scratch.resolve().parents:
        sys.exit("The scratch directory must be outside the repository.")
    prepare(args.tests_dir, scratch, args.files)
    sdks = ["ours", "published"] if args.sdk == "both" else [args.sdk]
    results = {sdk: run(sdk, scratch, args.files, args.clock) for sdk in sdks}
    print(f"\n{'file':45} " + " ".join(f"{sdk:>10}" for sdk in sdks))
    for f in args.files:
        print(f"{f:45} " + " ".join(f"{results[s][f][0]:>4}/{results[s][f][1]:<5}" for s in sdks))


if __name__ == "__main__":
    main()
