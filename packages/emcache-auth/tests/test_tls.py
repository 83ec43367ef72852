"""TLSConfig and build_ssl_context, without a server."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from emcache_auth import AuthError, TLSConfig, TLSConfigError, build_ssl_context


@pytest.fixture(name="ca_file")
def _ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    trustme.CA(organization_name="emcache-auth test CA").cert_pem.write_to_path(str(path))
    return path


def _subjects(context: ssl.SSLContext) -> list[str]:
    return [str(cert["subject"]) for cert in context.get_ca_certs()]


def test_build_ssl_context_returns_none_without_ssl() -> None:
    """With ssl off there is no context, whatever the other settings say."""
    assert build_ssl_context(TLSConfig()) is None
    assert build_ssl_context(TLSConfig(ssl_verify=False, ssl_extra_ca="/no/such/ca.pem")) is None


def test_build_ssl_context_verifies_by_default() -> None:
    """The default context requires a valid chain and checks the hostname."""
    context = build_ssl_context(TLSConfig(ssl=True))
    assert context is not None
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_build_ssl_context_without_verification() -> None:
    """ssl_verify=False turns off both the chain and the hostname checks."""
    context = build_ssl_context(TLSConfig(ssl=True, ssl_verify=False))
    assert context is not None
    assert context.verify_mode is ssl.CERT_NONE
    assert context.check_hostname is False


def test_build_ssl_context_loads_extra_ca(ca_file: Path) -> None:
    """ssl_extra_ca adds its CA to the trusted ones and keeps verification on."""
    context = build_ssl_context(TLSConfig(ssl=True, ssl_extra_ca=str(ca_file)))
    assert context is not None
    assert any("emcache-auth test CA" in subject for subject in _subjects(context))
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_build_ssl_context_keeps_default_trust_store(ca_file: Path) -> None:
    """The extra CA is loaded on top of the system trust store, not instead of it."""
    default = build_ssl_context(TLSConfig(ssl=True))
    extended = build_ssl_context(TLSConfig(ssl=True, ssl_extra_ca=str(ca_file)))
    assert default is not None
    assert extended is not None
    assert set(_subjects(default)) <= set(_subjects(extended))
    assert extended.cert_store_stats()["x509_ca"] == default.cert_store_stats()["x509_ca"] + 1


def test_build_ssl_context_accepts_a_path_object(ca_file: Path) -> None:
    """ssl_extra_ca may be a path object as well as a str."""
    context = build_ssl_context(TLSConfig(ssl=True, ssl_extra_ca=ca_file))
    assert context is not None
    assert any("emcache-auth test CA" in subject for subject in _subjects(context))


def test_build_ssl_context_loads_extra_ca_without_verification(ca_file: Path) -> None:
    """ssl_verify=False still loads, and so checks, the extra CA file."""
    context = build_ssl_context(TLSConfig(ssl=True, ssl_verify=False, ssl_extra_ca=str(ca_file)))
    assert context is not None
    assert context.verify_mode is ssl.CERT_NONE
    with pytest.raises(TLSConfigError):
        build_ssl_context(TLSConfig(ssl=True, ssl_verify=False, ssl_extra_ca=str(ca_file) + "x"))


def test_build_ssl_context_missing_ca_file_raises(tmp_path: Path) -> None:
    """A missing CA file is reported when the context is built, naming the file."""
    missing = tmp_path / "missing.pem"
    with pytest.raises(TLSConfigError, match=r"missing\.pem") as info:
        build_ssl_context(TLSConfig(ssl=True, ssl_extra_ca=str(missing)))
    assert "ssl_extra_ca" in str(info.value)
    assert "No such file" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, AuthError)
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_build_ssl_context_ca_file_without_certificate_raises(tmp_path: Path) -> None:
    """A file that holds no PEM certificate is refused at build time."""
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(TLSConfigError, match=r"garbage\.pem"):
        build_ssl_context(TLSConfig(ssl=True, ssl_extra_ca=str(garbage)))


def test_build_ssl_context_ca_directory_raises(tmp_path: Path) -> None:
    """A directory given as the CA file is refused at build time."""
    with pytest.raises(TLSConfigError, match="ssl_extra_ca"):
        build_ssl_context(TLSConfig(ssl=True, ssl_extra_ca=str(tmp_path)))


def test_tls_config_defaults() -> None:
    """The defaults are no TLS, verification on, no extra CA."""
    config = TLSConfig()
    assert (config.ssl, config.ssl_verify, config.ssl_extra_ca) == (False, True, None)


def test_tls_config_is_keyword_only() -> None:
    """Settings are passed by name only."""
    with pytest.raises(TypeError):
        TLSConfig(True)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "kwargs",
    [{"ssl": "yes"}, {"ssl": 1}, {"ssl_verify": None}, {"ssl_extra_ca": b"/ca.pem"}],
)
def test_tls_config_rejects_wrong_types(kwargs: dict[str, object]) -> None:
    """A setting of the wrong type is refused when the config is created."""
    with pytest.raises(TypeError):
        TLSConfig(**kwargs)  # type: ignore[arg-type]


def test_tls_config_is_frozen() -> None:
    """A config cannot be changed after it is created."""
    config = TLSConfig(ssl=True)
    with pytest.raises(AttributeError):
        config.ssl = False  # type: ignore[misc]
