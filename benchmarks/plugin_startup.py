"""What installing the testkit adds to pytest's start-up: an empty test file run with and without the plugin.

    python benchmarks/plugin_startup.py            # 15 alternating runs of each, medians
    python benchmarks/plugin_startup.py -n 30

Both runs use the interpreter this script runs under; "without" disables the plugin with ``-p no:durabletask``.
Target (issue 13): the plugin adds <= 100 ms. Heavy imports (gRPC, an SDK, the fake) happen only when a test asks
for a ``durable_*`` fixture, so the cost here is importing the plugin's small modules.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(folder: Path, extra: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, "test_empty.py"],
                   cwd=folder, check=True, capture_output=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=15)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_empty.py").write_text("def test_nothing():\n    pass\n")
        one_run(folder, [])  # warm the file system cache
        with_plugin, without_plugin = [], []
        for _ in range(args.runs):
            with_plugin.append(one_run(folder, []))
            without_plugin.append(one_run(folder, ["-p", "no:durabletask"]))
    added = statistics.median(with_plugin) - statistics.median(without_plugin)
    print(f"pytest start-up on an empty test file ({args.runs} runs each): with the plugin "
          f"{statistics.median(with_plugin) * 1000:.0f} ms, without {statistics.median(without_plugin) * 1000:.0f} ms: "
          f"the plugin adds {added * 1000:.0f} ms (target <= 100 ms): {'PASS' if added <= 0.100 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
