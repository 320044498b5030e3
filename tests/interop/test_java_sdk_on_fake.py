"""The Java Durable Task SDK (``com.microsoft:durabletask-client`` from Maven Central) runs on our fake, started by
its CLI.

``tests/interop/java`` is a Maven project whose JUnit tests connect the SDK's ``DurableTaskGrpcWorker`` and
``DurableTaskClient`` to a ``--clock manual`` CLI fake, move the clock 24 hours through the control API
(``ControlApi.java``, on ``java.net.http``) and inject faults (``fail_activity`` under a retry policy,
``lose_activity_result``). This wrapper starts the fake, hands both addresses to ``mvn --offline test`` in the
environment and reads Surefire's reports. Prerequisites: Maven with a JDK >= 17 and
``bash scripts/interop/install_java_sdk_test.sh`` (resolves the artifacts into .interop/m2).
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

JAVA_DIR = Path(__file__).resolve().parent / "java"
POM = JAVA_DIR / "pom.xml"
REPORTS = JAVA_DIR / "target" / "surefire-reports"
REPOSITORY = INTEROP_DIR / "m2"
STAMP = INTEROP_DIR / "java-sdk-test.sha256"
INSTALL = "bash scripts/interop/install_java_sdk_test.sh"
SDK_VERSION = re.search(r"<durabletask.version>(.+?)</durabletask.version>", POM.read_text()).group(1)  # type: ignore[union-attr]
TIMER_TEST = "TimerTest.timeoutFiresWhenTheClockMoves24Hours"
JAVA_TESTS = [TIMER_TEST, "FaultTest.injectedActivityFailureIsRetried", "FaultTest.lostActivityResultIsDispatchedAgain",
              "ControlApiTest.countsTheEventsOfOneKind"]


@pytest.fixture(scope="module")
def mvn() -> str:
    """The mvn executable; skip/fail when it, a JDK or the resolved artifacts are missing or stale."""
    executable = os.environ.get("MVN") or shutil.which("mvn")
    require(executable is not None, "Maven not found (install Maven and a JDK >= 17, or set MVN=/path/to/mvn)")
    require(shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME")),
            "no JDK found (java on PATH or JAVA_HOME); install a JDK >= 17")
    require(STAMP.is_file() and STAMP.read_text().strip() == hashlib.sha256(POM.read_bytes()).hexdigest(),
            f"tests/interop/java/pom.xml's artifacts are not resolved into .interop/m2; run: {INSTALL}")
    sdk_dir = REPOSITORY / "com" / "microsoft" / "durabletask-client" / SDK_VERSION
    sdk_jar = sdk_dir / f"durabletask-client-{SDK_VERSION}.jar"
    require(sdk_jar.is_file(), f"durabletask-client {SDK_VERSION} is missing from .interop/m2; run: {INSTALL}")
    assert executable is not None
    return executable


def test_java_sdk_time_travel_and_faults_through_the_control_api(fake_cli_manual: SidecarProcess, mvn: str) -> None:
    shutil.rmtree(REPORTS, ignore_errors=True)  # never read an earlier run's reports
    argv = [mvn, "--batch-mode", "--offline", "--quiet", "-Dstyle.color=never", f"-Dmaven.repo.local={REPOSITORY}",
            "test"]
    run = other_sdks.run(argv, JAVA_DIR, other_sdks.sidecar_env(fake_cli_manual), timeout=180,
                         parse=lambda _output: other_sdks.parse_surefire(REPORTS))
    other_sdks.check(run, JAVA_TESTS, TIMER_TEST, fake_cli_manual)
