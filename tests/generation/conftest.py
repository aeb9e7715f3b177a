"""Fixtures and reporting for the generation room's tests."""

import sys


def pytest_terminal_summary(terminalreporter):
    """Say how many cases the property-based parser test really ran (for the issue's closing note)."""
    fuzz = sys.modules.get("tests.generation.test_protocol_fuzz")
    if fuzz is not None and fuzz.CASES:
        total = sum(fuzz.CASES.values())
        parts = ", ".join(f"{name}: {count:,}" for name, count in fuzz.CASES.items())
        terminalreporter.write_line(f"protocol fuzz: {total:,} generated answers parsed ({parts})")
