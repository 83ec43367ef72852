"""The public surface of emcache_auth."""

import emcache_auth


def test_all_names_are_exported() -> None:
    """Every name in __all__ is an attribute of the package, listed once."""
    for name in emcache_auth.__all__:
        assert hasattr(emcache_auth, name), name
    assert len(set(emcache_auth.__all__)) == len(emcache_auth.__all__)


def test_version_is_a_string() -> None:
    """The package exposes its version from __about__."""
    assert isinstance(emcache_auth.__version__, str)
    assert emcache_auth.__version__.count(".") == 2


def test_contract_names_are_exported() -> None:
    """The names the facade and the pool are written against are all public."""
    expected = {
        "AuthError",
        "AuthFailedError",
        "AuthNotEnabledError",
        "AuthRequiredError",
        "CommandChannel",
        "Credentials",
        "TLSConfig",
        "TLSConfigError",
        "__version__",
        "auth_required_error",
        "authenticate",
        "build_ssl_context",
        "on_connect_step",
    }
    assert set(emcache_auth.__all__) == expected


def test_errors_are_importable_from_errors_module() -> None:
    """The errors are the same classes whether imported from the package or emcache_auth.errors."""
    from emcache_auth import errors

    assert errors.AuthFailedError is emcache_auth.AuthFailedError
    assert errors.AuthError is emcache_auth.AuthError
