"""Repository-wide pytest configuration."""

# pytester runs inner pytest sessions for the plugin and docs tests; it must be enabled here, at the root.
pytest_plugins = ["pytester"]
