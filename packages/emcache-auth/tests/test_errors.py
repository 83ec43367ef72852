"""The error hierarchy of emcache_auth."""

from __future__ import annotations

import pytest

from emcache_auth import (
    AuthError,
    AuthFailedError,
    AuthNotEnabledError,
    AuthRequiredError,
    TLSConfigError,
    errors,
)


@pytest.mark.parametrize(
    ("error", "bases"),
    [
        (AuthFailedError, (AuthError,)),
        (AuthNotEnabledError, (AuthFailedError, AuthError)),
        (AuthRequiredError, (AuthFailedError, AuthError)),
        (TLSConfigError, (AuthError, ValueError)),
    ],
)
def test_errors_derive_from_auth_error(error: type[Exception], bases: tuple[type, ...]) -> None:
    """Every error is an AuthError, and catching AuthFailedError covers every auth failure."""
    assert issubclass(error, bases)


def test_errors_module_exports_every_error() -> None:
    """The public errors module lists the same classes the package exports."""
    assert set(errors.__all__) == {
        "AuthError",
        "AuthFailedError",
        "AuthNotEnabledError",
        "AuthRequiredError",
        "TLSConfigError",
    }


def test_auth_failure_is_not_named_like_the_client_error() -> None:
    """No public name of emcache_auth is AuthenticationError, the facade's 1.x error class."""
    import emcache_auth

    assert "AuthenticationError" not in errors.__all__
    assert "AuthenticationError" not in emcache_auth.__all__
