"""The key hashes of libmemcached: one-at-a-time and md5."""

from __future__ import annotations

import pytest

from emcache_hashing._digests import md5, md5_words, one_at_a_time

# Published values of Jenkins' one-at-a-time hash, then values libhashkit 1.1.4
# returned (libhashkit_one_at_a_time, libhashkit_md5) for the same bytes: bytes
# >= 0x80 enter one-at-a-time sign-extended, as a C char on x86-64.
VECTORS = [
    (b"", 0x00000000, 0xD98C1DD4),
    (b"a", 0xCA2E9442, 0xB975C10C),
    (b"The quick brown fox jumps over the lazy dog", 0x519E91F5, 0x9D7D109E),
    (b"foo", 0x238678DD, 0xDB18BDAC),
    (b"user:1", 0xA556FF4B, 0x10DDB1BD),
    ("clé".encode(), 0x754F6019, 0x72CA8CA2),
    (b"\x80", 0xC31D4E27, 0x7EDD398D),
    (b"\xff\xfe", 0xDB2CB862, 0x0157B2F3),
    ("日本".encode(), 0xB602689C, 0xE6D2BE4D),
]


@pytest.mark.parametrize(("data", "expected", "_md5"), VECTORS)
def test_one_at_a_time_matches_known_values(data: bytes, expected: int, _md5: int) -> None:
    """The published values and libhashkit's, high bytes sign-extended included."""
    assert one_at_a_time(data) == expected


@pytest.mark.parametrize(("data", "_oaat", "expected"), VECTORS)
def test_md5_is_the_first_little_endian_word_of_the_digest(
    data: bytes, _oaat: int, expected: int
) -> None:
    """libhashkit's md5 hash: digest bytes 0..3, byte 0 lowest."""
    assert md5(data) == expected
    assert md5_words(data)[0] == expected


def test_one_at_a_time_of_a_high_byte_is_not_that_of_the_unsigned_byte() -> None:
    """0x80 hashes as 0xFFFFFF80 would, not as 0x80: the signed char of the C code."""
    unsigned = 0
    for byte in b"\x80":
        unsigned = ((unsigned + byte) * 1025) & 0xFFFFFFFF
        unsigned ^= unsigned >> 6
    unsigned = (unsigned * 9) & 0xFFFFFFFF
    unsigned ^= unsigned >> 11
    unsigned = (unsigned * 32769) & 0xFFFFFFFF
    assert one_at_a_time(b"\x80") != unsigned
