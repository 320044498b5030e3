#!/usr/bin/env bash
# Build a real Dapr workflow runtime (daprd, placement, scheduler) into <repo>/.interop/dapr/<version>/bin
# (git-ignored), for the tests that compare the fake's Dapr dialect with the real thing.
#
# daprd is built from our own main package (scripts/interop/daprd-workflow/main.go), which registers only the
# in-memory state store and the nameformat name resolver: upstream's component list pulls in every cloud SDK,
# and its default name resolver (mDNS) multicasts on real interfaces. placement and scheduler are upstream's.
#
# Idempotent: when the three binaries exist for the requested version they are reused. All Go state (module
# cache, build cache) lives under .interop/dapr, so removing that folder is a clean cold start.
# Prints the absolute path of the bin folder on its last line.
#
# Why a wrapper module and not `go install github.com/dapr/dapr/cmd/...@VERSION`: the module proxy reachable here
# refuses the version-list request that `go install pkg@version` makes, while it serves the pinned version
# itself. v1.18.1 is the newest dapr whose pinned durabletask-go the proxy serves; its scheduler needs
# go-etcd-cron v0.12.7 (the v0.12.5 it pins does not build with it), so the wrapper requires that version.
#
# Environment:
#   DAPR_VERSION   github.com/dapr/dapr version to build (default v1.18.1)
#   GO             go executable (default: `go` on PATH, else /usr/local/go/bin/go)
set -euo pipefail

version="${DAPR_VERSION:-v1.18.1}"
etcd_cron_version="v0.12.7"
module="github.com/dapr/dapr"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dapr_dir="${repo_root}/.interop/dapr"
bin_dir="${dapr_dir}/${version}/bin"
build_dir="${dapr_dir}/${version}/build"
stamp="${bin_dir}/.complete"
binaries=(daprd placement scheduler)

complete() {
    [[ -f "${stamp}" ]] || return 1
    local name
    for name in "${binaries[@]}"; do
        [[ -x "${bin_dir}/${name}" ]] || return 1
    done
}

if complete; then
    echo "dapr ${version} already built in ${bin_dir}" >&2
    echo "${bin_dir}"
    exit 0
fi

# shellcheck source=go_toolchain.sh
source "$(dirname "${BASH_SOURCE[0]}")/go_toolchain.sh"
find_go "Go >= 1.26"

if ! "${go_bin}" version >/dev/null 2>&1; then
    echo "error: ${go_bin} is not a working Go toolchain (dapr v1.18.1 asks for Go >= 1.26.4; set GO=/path/to/go)" >&2
    exit 1
fi

mkdir -p "${bin_dir}" "${build_dir}/daprd"
export GOPATH="${dapr_dir}/go"
export GOCACHE="${dapr_dir}/gocache"
export GOMODCACHE="${dapr_dir}/go/pkg/mod"
export GOFLAGS="-buildvcs=false -modcacherw"
export CGO_ENABLED=0
export GOTOOLCHAIN=local

started=${SECONDS}
echo "building ${module}@${version} (daprd-workflow, placement, scheduler) with $("${go_bin}" version)" >&2
cat >"${build_dir}/go.mod" <<GOMOD
module interop/dapr-build

go 1.26

require (
	${module} ${version}
	github.com/diagridio/go-etcd-cron ${etcd_cron_version}
)
GOMOD
cp "${repo_root}/scripts/interop/daprd-workflow/main.go" "${build_dir}/daprd/main.go"
# placement and scheduler are main packages, which cannot be imported: pin their app packages instead, so
# `go mod tidy` records every module they need.
cat >"${build_dir}/tools.go" <<'GOSRC'
//go:build tools

// Package tools pins the modules of the control-plane services built beside daprd-workflow.
package tools

import (
	_ "github.com/dapr/dapr/cmd/placement/app"
	_ "github.com/dapr/dapr/cmd/scheduler/app"
)
GOSRC
rm -f "${build_dir}/go.sum" "${stamp}"

fail() {
    echo "error: $1 (Go output above; module cache in ${GOMODCACHE})" >&2
    exit 1
}

ldflags="-s -w -X ${module}/pkg/buildinfo.version=${version#v}"
(cd "${build_dir}" && "${go_bin}" mod tidy) || fail "resolving the modules of ${module}@${version} failed"
(cd "${build_dir}" && "${go_bin}" build -trimpath -ldflags "${ldflags}" -o "${bin_dir}/" \
    ./daprd "${module}/cmd/placement" "${module}/cmd/scheduler") || fail "building dapr ${version} failed"
complete_missing=()
for name in "${binaries[@]}"; do
    [[ -x "${bin_dir}/${name}" ]] || complete_missing+=("${name}")
done
if ((${#complete_missing[@]})); then
    fail "the build finished without ${complete_missing[*]}"
fi
touch "${stamp}"
echo "dapr ${version} built in $((SECONDS - started)) s" >&2
echo "${bin_dir}"
