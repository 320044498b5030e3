#!/usr/bin/env bash
# Prepare the Java SDK interop test (tests/interop/java, run by tests/interop/test_java_sdk_on_fake.py):
# resolve com.microsoft:durabletask-client, JUnit and the Maven plugins its pom.xml names from Maven Central
# into <repo>/.interop/m2 (git-ignored) and compile the tests once, so the pytest wrapper can run
# `mvn --offline test` in a few seconds.
#
# Idempotent: when the stamp matches pom.xml and the repository still holds the SDK, nothing is done.
# Prints the stamp file's path on its last line.
#
# Environment:
#   MVN   mvn executable (default: `mvn` on PATH); it needs a JDK >= 17 (JAVA_HOME or java on PATH)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
interop_dir="${repo_root}/.interop"
project_dir="${repo_root}/tests/interop/java"
repository="${interop_dir}/m2"
stamp="${interop_dir}/java-sdk-test.sha256"
sdk_version="$(sed -n 's:.*<durabletask.version>\(.*\)</durabletask.version>.*:\1:p' "${project_dir}/pom.xml")"
sdk_jar="${repository}/com/microsoft/durabletask-client/${sdk_version}/durabletask-client-${sdk_version}.jar"

pom_hash="$(sha256sum "${project_dir}/pom.xml" | cut -d' ' -f1)"
if [[ -f "${stamp}" && "$(cat "${stamp}")" == "${pom_hash}" && -f "${sdk_jar}" ]]; then
    echo "Java SDK test dependencies already resolved (durabletask-client ${sdk_version})" >&2
    echo "${stamp}"
    exit 0
fi

mvn_bin="${MVN:-mvn}"
if ! command -v "${mvn_bin}" >/dev/null 2>&1; then
    echo "error: mvn not found (install Maven and a JDK >= 17, or set MVN=/path/to/mvn)" >&2
    exit 1
fi

mkdir -p "${repository}"
echo "resolving tests/interop/java/pom.xml (durabletask-client ${sdk_version}) into .interop/m2" >&2
# `test` of the one test that needs no fake: compiles every test and resolves Surefire's JUnit provider too,
# which dependency:go-offline would miss.
(cd "${project_dir}" && "${mvn_bin}" --batch-mode --quiet -Dstyle.color=never "-Dmaven.repo.local=${repository}" \
    -Dtest=ControlApiTest test) >&2
echo "${pom_hash}" >"${stamp}"
echo "${stamp}"
