#!/usr/bin/env bash
# Install the durabletask-go reference sidecar into <repo>/.interop/bin (git-ignored).
#
# Idempotent: when the binary already exists for the requested version it is reused.
# Every Go directory (GOPATH, GOBIN, GOCACHE, GOMODCACHE) lives under .interop so the
# script works the same for root on a fresh machine and for a developer's account.
# Prints the absolute path of the installed binary on its last line.
#
# Environment:
#   DURABLETASK_GO_VERSION  module version to install (default v0.6.0)
#   GO                      go executable (default: `go` on PATH, else /usr/local/go/bin/go)
set -euo pipefail

version="${DURABLETASK_GO_VERSION:-v0.6.0}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
interop_dir="${repo_root}/.interop"
bin_dir="${interop_dir}/bin"
binary="${bin_dir}/durabletask-go"
stamp="${bin_dir}/durabletask-go.version"

if [[ -x "${binary}" && -f "${stamp}" && "$(cat "${stamp}")" == "${version}" ]]; then
    echo "durabletask-go ${version} already installed" >&2
    echo "${binary}"
    exit 0
fi

go_bin="${GO:-}"
if [[ -z "${go_bin}" ]]; then
    if command -v go >/dev/null 2>&1; then
        go_bin="$(command -v go)"
    elif [[ -x /usr/local/go/bin/go ]]; then
        go_bin=/usr/local/go/bin/go
    else
        echo "error: no Go toolchain found (install Go or set GO=/path/to/go)" >&2
        exit 1
    fi
fi

mkdir -p "${bin_dir}" "${interop_dir}/go" "${interop_dir}/gocache"
export GOPATH="${interop_dir}/go"
export GOBIN="${bin_dir}"
export GOCACHE="${interop_dir}/gocache"
export GOMODCACHE="${interop_dir}/go/pkg/mod"
export GOFLAGS="-buildvcs=false -modcacherw"
export CGO_ENABLED=0
export GOTOOLCHAIN=local

echo "installing github.com/microsoft/durabletask-go@${version} with $("${go_bin}" version)" >&2
"${go_bin}" install "github.com/microsoft/durabletask-go@${version}"
echo "${version}" >"${stamp}"
echo "${binary}"
