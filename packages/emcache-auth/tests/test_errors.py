"""The error hierarchy of emcache_auth."""

from __future__ import annotations

import pytest

from emcache_auth import (
    AuthenticationError,
    AuthError,
    AuthNotEnabledError,
    AuthRequiredError,
    TLSConfigError,
    errors,
)


@pytest.mark.parametrize(
    ("error", "bases"),
    [
        (AuthenticationError, (AuthError,)),
        (AuthNotEnabledError, (AuthenticationError, AuthError)),
        (AuthRequiredError, (AuthenticationError, AuthError)),
        (TLSConfigError, (AuthError, ValueError)),
    ],
)
def test_errors_derive_from_auth_error(error: type[Exception], bases: tuple[type, ...]) -> None:
    """Every error is an AuthError, and catching AuthenticationError covers every auth failure."""
    assert issubclass(error, bases)


def test_errors_module_exports_every_error() -> None:
    """The public errors module lists the same classes the package exports."""
    assert set(errors.__all__) == {
        "AuthError",
        "AuthNotEnabledError",
        "AuthRequiredError",
        "AuthenticationError",
        "TLSConfigError",
    }
