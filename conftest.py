"""Root conftest: the suite's fixtures live in the importable package."""

pytest_plugins = ["infralab.pytest_plugin"]
