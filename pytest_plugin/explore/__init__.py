"""Exploration: a scenario or a test run under many schedules (delivery order, batching, crash points).

``explorer.py``: :class:`Explorer`, what ``durable_explore`` hands out; ``marker.py``:
``@pytest.mark.durabletask(explore=N)``, one test item per schedule; ``strategies.py``: Hypothesis strategies
(public as ``durabletask_pytest.strategies``).
"""

from .explorer import (
    DEFAULT_SCHEDULES,
    NEEDS_IN_PROCESS_FAKE_REASON,
    OPTION_SEED,
    OPTION_SEED_DEST,
    Exploration,
    ExplorationFailed,
    Explorer,
    ExploreRun,
    Outcome,
    Scenario,
    explore_list,
    skip_exploring,
)

__all__ = [
    "DEFAULT_SCHEDULES",
    "NEEDS_IN_PROCESS_FAKE_REASON",
    "OPTION_SEED",
    "OPTION_SEED_DEST",
    "Exploration",
    "ExplorationFailed",
    "ExploreRun",
    "Explorer",
    "Outcome",
    "Scenario",
    "explore_list",
    "skip_exploring",
]
