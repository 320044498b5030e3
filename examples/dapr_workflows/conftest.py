"""Test set-up for the Dapr example: its app module is importable by name, as ``python order_app.py`` does.

The tests need Dapr Workflow's SDK (``pip install dapr``), which the project's own venv does not have (its
``durabletask`` is our SDK); ``tests/interop/test_dapr_examples.py`` runs them in the Dapr 1.18 and 1.19 venvs.
Without the SDK they are not collected. (The folder is not named ``dapr``: on ``sys.path`` through
examples/conftest.py it would hide Dapr's own ``dapr`` package.)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

collect_ignore_glob = [] if importlib.util.find_spec("dapr") is not None else ["test_*.py"]
