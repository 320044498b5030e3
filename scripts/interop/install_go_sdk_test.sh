#!/usr/bin/env bash
# Prepare the Go SDK interop test (tests/interop/go, run by tests/interop/test_go_sdk_on_fake.py): download
# the modules its committed go.mod/go.sum name (durabletask-go's client, task and api packages, gRPC) into
# <repo>/.interop/go/pkg/mod and compile the test once, so the pytest wrapper can run `go test` offline
# (GOPROXY=off) in about a second.
#
# Idempotent: when the stamp matches go.sum and the module cache still holds durabletask-go, nothing is done.
# Every Go directory lives under .interop, as in install_durabletask_go.sh (same module cache).
# Prints the stamp file's path on its last line.
#
# Environment:
#   GO   go executable (default: `go` on PATH, else /usr/local/go/bin/go)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
interop_dir="${repo_root}/.interop"
module_dir="${repo_root}/tests/interop/go"
stamp="${interop_dir}/go-sdk-test.sha256"
sdk_version="$(sed -n 's/^[[:space:]]*github.com\/microsoft\/durabletask-go \(v[^ ]*\).*/\1/p' "${module_dir}/go.mod" | head -1)"

export GOPATH="${interop_dir}/go"
export GOCACHE="${interop_dir}/gocache"
export GOMODCACHE="${interop_dir}/go/pkg/mod"
export GOFLAGS="-buildvcs=false -modcacherw -mod=readonly"
export CGO_ENABLED=0
export GOTOOLCHAIN=local

sum_hash="$(cat "${module_dir}/go.mod" "${module_dir}/go.sum" | sha256sum | cut -d' ' -f1)"
if [[ -f "${stamp}" && "$(cat "${stamp}")" == "${sum_hash}" \
      && -d "${GOMODCACHE}/github.com/microsoft/durabletask-go@${sdk_version}" ]]; then
    echo "Go SDK test modules already downloaded (durabletask-go ${sdk_version})" >&2
    echo "${stamp}"
    exit 0
fi

# shellcheck source=go_toolchain.sh
source "$(dirname "${BASH_SOURCE[0]}")/go_toolchain.sh"
find_go "Go"

mkdir -p "${GOMODCACHE}" "${GOCACHE}"
echo "downloading the modules of tests/interop/go (durabletask-go ${sdk_version}) with $("${go_bin}" version)" >&2
(cd "${module_dir}" && "${go_bin}" mod download && "${go_bin}" mod verify >&2 \
    && "${go_bin}" test -count=1 -run '^$' ./... >&2)
echo "${sum_hash}" >"${stamp}"
echo "${stamp}"
