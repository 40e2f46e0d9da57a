"""The one exception the testbed raises."""

from __future__ import annotations


class TestbedError(RuntimeError):
    """A test server could not be prepared, started or queried."""

    __test__ = False  # not a test class, despite the name
