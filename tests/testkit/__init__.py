"""Helpers both test trees use (tests/stats_api and tests/stats_platform); fixtures live in tests/conftest.py."""
