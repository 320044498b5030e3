"""pytest plugin for Durable Task workflow tests (import package durabletask_pytest)."""
