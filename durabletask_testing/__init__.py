"""Fake Durable Task sidecar: in-memory TaskHubSidecarService with a virtual clock."""
