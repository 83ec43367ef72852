"""Key validation."""

import pytest

from emcache_protocol import MAX_KEY_LENGTH, ProtocolValidationError, validate_key


@pytest.mark.parametrize(
    "key", [b"k", b"a" * MAX_KEY_LENGTH, b"user:42", "clé".encode(), b"~!@#$%^&*()"]
)
def test_validate_key_accepts_valid_keys(key: bytes) -> None:
    """Keys of 1..250 printable or high bytes pass."""
    validate_key(key)


@pytest.mark.parametrize("key", ["text", bytearray(b"k"), memoryview(b"k"), 1, None])
def test_validate_key_refuses_non_bytes(key: object) -> None:
    """Anything but bytes is a TypeError naming the key."""
    with pytest.raises(TypeError, match="key must be bytes"):
        validate_key(key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (b"", "empty"),
        (b"a" * (MAX_KEY_LENGTH + 1), "at most 250"),
        (b"a b", "whitespace"),
        (b"a\r\nflush_all", "whitespace"),
        (b"a\x00", "control"),
        (b"a\x7f", "control"),
        (b"\t", "control"),
    ],
)
def test_validate_key_refuses_bad_values(key: bytes, reason: str) -> None:
    """Empty, too long, whitespace and control bytes raise a ValueError."""
    with pytest.raises(ProtocolValidationError, match=reason):
        validate_key(key)


def test_validation_error_is_a_value_error() -> None:
    """ProtocolValidationError can be caught as ValueError."""
    with pytest.raises(ValueError):
        validate_key(b"")
