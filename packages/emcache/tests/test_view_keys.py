"""The key rule of the view: known answers that pin it, and the invariants it keeps.

The expected keys below are written out in full on purpose: services on
different versions of emcache share one cache only if this rule never changes.
A change that makes one of these tests fail is a breaking change of the stored
format, not a test to update.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emcache._keys import MAX_PREFIX_LENGTH, check_prefix, map_key
from emcache_protocol import validate_key

KNOWN_ANSWERS = [
    # (prefix, key, memcached key)
    (b"svc:", "user:42", b"svc:user:42"),
    (b"", b"plain", b"plain"),
    (b"svc:", "caf\u00e9", b"svc:caf\xc3\xa9"),
    (b"svc:", "x" * 246, b"svc:" + b"x" * 246),
    (
        b"svc:",
        "hello world",
        b"svc:hello_world~29ff4ab1f3c3029467038a932920561b522f346730f8049307372e1f7cf67945",
    ),
    (
        b"svc:",
        "caf\u00e9 cr\u00e8me",
        b"svc:caf\xc3\xa9_cr\xc3\xa8me~d697a2df6af0dafe0f61958fe3f652ea26a3fd7348ccc7bd5700d3ef0c822446",
    ),
    (b"", "a~b", b"a_b~941528e5e77c9a1f3e2fcbc95f20556f54f24d70d5782e4cf848b254885bc0e5"),
    (b"", b"k\x7f\n", b"k__~1f35ddab4bd348a59099c118dbf4c0b13631cedf245f3354d12823ef202f6c70"),
    (
        b"svc:",
        "x" * 300,
        b"svc:" + b"x" * 181 + b"~087ac129a5770f27153c630ae5adc55634427d2a8c1e70c492befbcf42c4bcf0",
    ),
    (
        b"",
        "x" * 251,
        b"x" * 185 + b"~90d738c31c5ee1241cbcd2ff3d4aa1257ba5b7d717c545c397d37dc060ecf7ff",
    ),
]


@pytest.mark.parametrize(("prefix", "key", "expected"), KNOWN_ANSWERS)
def test_map_key_gives_the_known_answer(prefix: bytes, key: str | bytes, expected: bytes) -> None:
    """Each key maps to the memcached key written out in the table, in every version."""
    assert map_key(prefix, key) == expected


def test_map_key_treats_str_as_its_utf8_bytes() -> None:
    """A str key and its UTF-8 bytes are the same key, mapped or not."""
    for key in ("user:42", "caf\u00e9 cr\u00e8me", "\u00e9" * 200):
        assert map_key(b"p:", key) == map_key(b"p:", key.encode("utf-8"))


def test_map_key_keeps_the_250_byte_boundary() -> None:
    """A full key of 250 bytes is sent as it is; one of 251 bytes is mapped to 250 bytes."""
    assert map_key(b"p:", "x" * 248) == b"p:" + b"x" * 248
    mapped = map_key(b"p:", "x" * 249)
    assert len(mapped) == 250
    assert mapped.startswith(b"p:" + b"x" * 183 + b"~")


def test_map_key_never_meets_a_key_sent_as_it_is() -> None:
    """A mapped key given as a key does not reach the item: it holds "~", so it is mapped too."""
    mapped = map_key(b"", "a b")
    assert map_key(b"", mapped) != mapped
    assert map_key(b"", "a b") != map_key(b"", "a_b")


def test_map_key_refuses_empty_and_other_types() -> None:
    """An empty key is a ValueError; a key of another type a TypeError."""
    with pytest.raises(ValueError, match="empty"):
        map_key(b"svc:", "")
    with pytest.raises(TypeError, match="str or bytes"):
        map_key(b"svc:", 42)  # type: ignore[arg-type]


def test_check_prefix_accepts_what_is_sent_unchanged() -> None:
    """A prefix is returned as bytes: a str as UTF-8, up to 185 bytes."""
    assert check_prefix("svc:") == b"svc:"
    assert check_prefix(b"") == b""
    assert check_prefix("\u00e9:") == b"\xc3\xa9:"
    assert check_prefix("p" * MAX_PREFIX_LENGTH) == b"p" * 185


@pytest.mark.parametrize("prefix", ["a b:", "a~", "tab\t", b"\x7f", "p" * 186])
def test_check_prefix_refuses_what_would_be_mapped(prefix: str | bytes) -> None:
    """A prefix that could not stay readable at the head of every key is a ValueError."""
    with pytest.raises(ValueError, match="prefix"):
        check_prefix(prefix)


@given(prefix=st.from_regex(rb"[!-}\x80-\xff]{0,20}", fullmatch=True), key=st.binary(min_size=1))
def test_map_key_always_gives_a_valid_memcached_key(prefix: bytes, key: bytes) -> None:
    """Whatever the key, the result is a key memcached accepts, starting with the prefix."""
    mapped = map_key(check_prefix(prefix), key)
    validate_key(mapped)
    assert mapped.startswith(prefix)
    full = prefix + key
    assert (mapped == full) is (b"~" not in mapped)


@given(
    keys=st.lists(
        st.text(st.characters(codec="utf-8"), min_size=1), min_size=2, max_size=2, unique=True
    )
)
def test_map_key_keeps_distinct_keys_distinct(keys: list[str]) -> None:
    """Two different keys never map to the same memcached key."""
    first, second = keys
    assert map_key(b"svc:", first) != map_key(b"svc:", second)
