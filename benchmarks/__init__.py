"""Side-by-side benchmarks of our stack (SDK + fake sidecar) against the published package's stack.

Run ``python benchmarks/run.py`` (or ``make bench``); see benchmarks/README.md.
"""
