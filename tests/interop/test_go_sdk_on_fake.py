"""The Go Durable Task SDK (durabletask-go's ``client`` and ``task`` packages) runs on our fake, started by its CLI.

``tests/interop/go`` is a small Go module (go.mod/go.sum committed) whose ``go test`` suite connects
durabletask-go's ``TaskHubGrpcClient`` (client and work-item listener in one) to a ``--clock manual`` CLI fake,
moves the clock 24 hours through the control API and injects faults (``fail_activity`` under a retry policy,
``lose_activity_result``). This wrapper starts the fake, hands both addresses to ``go test`` in the environment
and checks each Go test passed. Prerequisites: Go on PATH and ``bash scripts/interop/install_go_sdk_test.sh``
(downloads the modules into .interop/go/pkg/mod; the test itself then runs offline, GOPROXY=off).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest

from . import other_sdks
from .conftest import require
from .sidecars import INTEROP_DIR, SidecarProcess

pytestmark = pytest.mark.interop

GO_DIR = Path(__file__).resolve().parent / "go"
STAMP = INTEROP_DIR / "go-sdk-test.sha256"
INSTALL = "bash scripts/interop/install_go_sdk_test.sh"
SDK_VERSION = re.search(r"github\.com/microsoft/durabletask-go (v\S+)", (GO_DIR / "go.mod").read_text()).group(1)  # type: ignore[union-attr]
TIMER_TEST = "TestTimeoutFiresWhenTheClockMoves24Hours"
GO_TESTS = [TIMER_TEST, "TestInjectedActivityFailureIsRetried", "TestLostActivityResultIsDispatchedAgain"]


def go_executable() -> str | None:
    """The go command, found as install_go_sdk_test.sh finds it (GO, then PATH, then /usr/local/go/bin/go)."""
    for candidate in (os.environ.get("GO"), shutil.which("go"), "/usr/local/go/bin/go"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def go() -> str:
    """The go executable; skip/fail when it or the module downloads are missing or stale."""
    executable = go_executable()
    require(executable is not None, "Go not found (install Go, or set GO=/path/to/go)")
    sums = hashlib.sha256((GO_DIR / "go.mod").read_bytes() + (GO_DIR / "go.sum").read_bytes()).hexdigest()
    require(STAMP.is_file() and STAMP.read_text().strip() == sums,
            f"the modules of tests/interop/go are not downloaded for this go.sum; run: {INSTALL}")
    sdk_dir = INTEROP_DIR / "go" / "pkg" / "mod" / "github.com" / "microsoft" / f"durabletask-go@{SDK_VERSION}"
    require(sdk_dir.is_dir(),
            f"durabletask-go {SDK_VERSION} is missing from .interop/go/pkg/mod; run: {INSTALL}")
    assert executable is not None
    return executable


def go_env() -> dict[str, str]:
    """Offline: the module cache and build cache under .interop, no module proxy, go.sum must already fit."""
    return {
        "GOPATH": str(INTEROP_DIR / "go"),
        "GOCACHE": str(INTEROP_DIR / "gocache"),
        "GOMODCACHE": str(INTEROP_DIR / "go" / "pkg" / "mod"),
        "GOFLAGS": "-buildvcs=false -modcacherw -mod=readonly",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    }


def test_go_sdk_time_travel_and_faults_through_the_control_api(fake_cli_manual: SidecarProcess, go: str) -> None:
    argv = [go, "test", "-count=1", "-v", "./..."]
    run = other_sdks.run(argv, GO_DIR, other_sdks.sidecar_env(fake_cli_manual, go_env()), timeout=180,
                         parse=other_sdks.parse_go_test)
    other_sdks.check(run, GO_TESTS, TIMER_TEST, fake_cli_manual)
