#!/usr/bin/env bash
# Install the durabletask-go reference sidecar into <repo>/.interop/bin (git-ignored).
#
# Idempotent: when the binary already exists for the requested version it is reused.
# Every Go directory (GOPATH, GOBIN, GOCACHE, GOMODCACHE) lives under .interop so the
# script works the same for root on a fresh machine and for a developer's account.
# Prints the absolute path of the installed binary on its last line.
#
# Why not plain `go install github.com/microsoft/durabletask-go@VERSION`: that command
# also asks the module proxy for the module's version list (to report deprecation), and
# the proxy reachable here refuses that one request (403) while serving the version
# itself. Building from a tiny wrapper module that pins the version avoids the list
# lookup; checksums are still verified against the checksum database.
#
# Environment:
#   DURABLETASK_GO_VERSION  module version to install (default v0.6.0)
#   GO                      go executable (default: `go` on PATH, else /usr/local/go/bin/go)
set -euo pipefail

version="${DURABLETASK_GO_VERSION:-v0.6.0}"
module="github.com/microsoft/durabletask-go"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
interop_dir="${repo_root}/.interop"
bin_dir="${interop_dir}/bin"
build_dir="${interop_dir}/build-durabletask-go"
binary="${bin_dir}/durabletask-go"
stamp="${bin_dir}/durabletask-go.version"

if [[ -x "${binary}" && -f "${stamp}" && "$(cat "${stamp}")" == "${version}" ]]; then
    echo "durabletask-go ${version} already installed" >&2
    echo "${binary}"
    exit 0
fi

# shellcheck source=go_toolchain.sh
source "$(dirname "${BASH_SOURCE[0]}")/go_toolchain.sh"
find_go "Go"

mkdir -p "${bin_dir}" "${build_dir}" "${interop_dir}/go" "${interop_dir}/gocache"
export GOPATH="${interop_dir}/go"
export GOBIN="${bin_dir}"
export GOCACHE="${interop_dir}/gocache"
export GOMODCACHE="${interop_dir}/go/pkg/mod"
export GOFLAGS="-buildvcs=false -modcacherw"
export CGO_ENABLED=0
export GOTOOLCHAIN=local

echo "building ${module}@${version} with $("${go_bin}" version)" >&2
cat >"${build_dir}/go.mod" <<GOMOD
module interop/durabletask-go-build

go 1.21

require ${module} ${version}
GOMOD
cat >"${build_dir}/tools.go" <<'GOSRC'
//go:build tools

// Package tools pins the sidecar module so `go mod tidy` records its dependencies.
package tools

import _ "github.com/microsoft/durabletask-go"
GOSRC
rm -f "${build_dir}/go.sum"
(cd "${build_dir}" && "${go_bin}" mod tidy && "${go_bin}" build -o "${binary}.tmp" "${module}")
mv "${binary}.tmp" "${binary}"
echo "${version}" >"${stamp}"
echo "${binary}"
