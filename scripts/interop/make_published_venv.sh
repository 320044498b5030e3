#!/usr/bin/env bash
# Create <repo>/.interop/published-venv holding the published `durabletask` SDK from PyPI.
#
# Thin shell entry point over scripts/published_venv.py (which owns the venv location, the pinned
# version and the file lock that makes concurrent creation from pytest-xdist workers safe).
# Idempotent. Prints the venv's python executable on its last line.
#
# Environment:
#   PYTHON  interpreter used to run the helper and create the venv (default: python3)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "${PYTHON:-python3}" "${repo_root}/scripts/published_venv.py"
