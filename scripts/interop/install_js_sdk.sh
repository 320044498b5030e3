#!/usr/bin/env bash
# Install the JavaScript Durable Task SDK (@microsoft/durabletask-js) for the interop test
# tests/interop/test_js_sdk_on_fake.py, into tests/interop/js/node_modules (git-ignored).
#
# The version is pinned by tests/interop/js/package.json and every transitive dependency by the
# committed package-lock.json; `npm ci` installs exactly that lock file. Install scripts are not run
# (the SDK and its gRPC/protobuf dependencies are plain JavaScript and need none).
#
# Idempotent: when node_modules already holds what the lock file names, nothing is done.
# Prints the absolute path of the installed SDK package on its last line.
#
# Environment:
#   NPM   npm executable (default: `npm` on PATH)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
js_dir="${repo_root}/tests/interop/js"
package_dir="${js_dir}/node_modules/@microsoft/durabletask-js"
stamp="${js_dir}/node_modules/.interop-lock.sha256"

npm_bin="${NPM:-npm}"
if ! command -v "${npm_bin}" >/dev/null 2>&1; then
    echo "error: npm not found (install Node.js >= 20 with npm, or set NPM=/path/to/npm)" >&2
    exit 1
fi

lock_hash="$(sha256sum "${js_dir}/package-lock.json" | cut -d' ' -f1)"
if [[ -f "${package_dir}/package.json" && -f "${stamp}" && "$(cat "${stamp}")" == "${lock_hash}" ]]; then
    echo "@microsoft/durabletask-js already installed as locked" >&2
    echo "${package_dir}"
    exit 0
fi

echo "installing tests/interop/js/package-lock.json with $("${npm_bin}" --version 2>/dev/null | tail -1)" >&2
(cd "${js_dir}" && "${npm_bin}" ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
echo "${lock_hash}" >"${stamp}"
echo "${package_dir}"
