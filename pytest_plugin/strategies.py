"""Hypothesis strategies for property-style workflow tests (the public path of :mod:`.explore.strategies`)."""

from .explore.strategies import FailureBudget, clock_jumps, failure_budgets, schedules

__all__ = ["FailureBudget", "clock_jumps", "failure_budgets", "schedules"]
