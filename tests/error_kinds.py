"""Shared assertion of the bad-input tests: an error is of the expected kind.

edp_ref's configuration errors are ``ConfigError`` (a ``ValueError``) for a value out of range and
``ConfigTypeError`` (a ``ConfigError`` and a ``TypeError``) for a value of the wrong type, so a test
that expects ``ValueError`` for a range error must also see that it is *not* a ``TypeError``.
"""

from __future__ import annotations


def assert_error_kind(raised: type[BaseException], expected: type[BaseException]) -> None:
    """``raised`` is ``expected`` or a subclass, and is a ``TypeError`` exactly when expected."""
    assert issubclass(raised, expected), (raised, expected)
    assert issubclass(raised, TypeError) == issubclass(expected, TypeError), (raised, expected)
