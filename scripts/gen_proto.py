"""Regenerate the Python protobuf/gRPC bindings from our .proto.

Usage: python scripts/gen_proto.py [--check]

Writes orchestrator_service_pb2.py, orchestrator_service_pb2.pyi and
orchestrator_service_pb2_grpc.py next to durabletask/internal/orchestrator_service.proto.
With --check, generates into a temporary directory and exits 1 if the committed files differ.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = Path("durabletask/internal/orchestrator_service.proto")
OUTPUTS = ("orchestrator_service_pb2.py", "orchestrator_service_pb2.pyi", "orchestrator_service_pb2_grpc.py")


def generate(out_root: Path) -> None:
    """Run grpc_tools.protoc for our proto, writing under out_root (mirroring the package path)."""
    (out_root / PROTO.parent).mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "grpc_tools.protoc",
        f"-I{ROOT}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        str(PROTO),
    ]
    subprocess.run(cmd, check=True, cwd=ROOT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed bindings are stale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        stale = []
        for name in OUTPUTS:
            fresh = Path(tmp) / PROTO.parent / name
            committed = ROOT / PROTO.parent / name
            if args.check:
                if not committed.exists() or not filecmp.cmp(fresh, committed, shallow=False):
                    stale.append(str(committed.relative_to(ROOT)))
            else:
                shutil.copyfile(fresh, committed)
        if stale:
            print("stale generated protocol code (run python scripts/gen_proto.py):", *stale, sep="\n  ")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
