"""Interop tests against real peers: durabletask-go and the published durabletask SDK."""
