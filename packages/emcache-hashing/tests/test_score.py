"""The emcache 1.x score, checked against vectors worked out by hand.

Each vector gives the first four bytes b0..b3 of the MurmurHash3 x64_128 digest
(seed 0) of the scored bytes, as mmh3 computes them, and the score derived by
hand from the formula

    score = (sx(b3) & 0xFF000000) | (sx(b2) & 0xFFFF0000) | (sx(b1) & 0xFFFFFF00) | sx(b0)

where sx sign-extends a byte to 32 bits as a C ``signed char`` does: a byte
below 0x80 stays as it is, a byte from 0x80 up gets 0xFFFFFF00 or-ed in. The
masks keep bits 8..31, 16..31 and 24..31 of sx(b1), sx(b2), sx(b3): all ones
if that byte is >= 0x80, all zeros otherwise; the bytes' own bits never show.
"""

from __future__ import annotations

import itertools

import mmh3
import pytest

from emcache_hashing import _score
from emcache_hashing._score import score


def _sx(byte: int) -> int:
    return byte | 0xFFFFFF00 if byte >= 0x80 else byte


def _formula(b0: int, b1: int, b2: int, b3: int) -> int:
    """The formula exactly as written, on 32-bit values."""
    return (_sx(b3) & 0xFF000000) | (_sx(b2) & 0xFFFF0000) | (_sx(b1) & 0xFFFFFF00) | _sx(b0)


# (scored bytes, b0..b3 of the digest, score worked out by hand, how)
VECTORS = [
    # b0 = 0x91 >= 0x80: sx(b0) = 0xFFFFFF91 already sets bits 8..31, so the
    # other terms cannot add anything.
    (b"key0127.0.0.111211", "9160014a", 0xFFFFFF91),
    # b0 = 0x2d stays 0x0000002d; b1 = 0xfd gives sx = 0xFFFFFFFD, masked to
    # 0xFFFFFF00; b2 = 0x8f gives 0xFFFF0000, b3 = 0xdb gives 0xFF000000, both
    # inside 0xFFFFFF00 already. 0xFFFFFF00 | 0x2d.
    (b"key8127.0.0.111211", "2dfd8fdb", 0xFFFFFF2D),
    # b0 = 0x50, b1 = 0x6d < 0x80 gives 0; b2 = 0xf0 gives 0xFFFF0000;
    # b3 = 0xf5 gives 0xFF000000 (inside it). 0xFFFF0000 | 0x50.
    (b"key3127.0.0.111211", "506df0f5", 0xFFFF0050),
    # b0 = 0x6f, b1 = 0x76 and b2 = 0x1d give 0; b3 = 0xbc gives 0xFF000000.
    (b"key37127.0.0.111211", "6f761dbc", 0xFF00006F),
    # Every byte below 0x80: only b0 = 0x54 remains.
    (b"key1127.0.0.111211", "540a5a1a", 0x54),
    # Node ids alone, as scored for the tie-break.
    (b"127.0.0.111211", "e6c478c6", 0xFFFFFFE6),
    (b"127.0.0.111212", "6b58e83f", 0xFFFF006B),
    (b"n2", "7c182dd5", 0xFF00007C),
]


@pytest.mark.parametrize(("data", "prefix", "expected"), VECTORS)
def test_score_matches_hand_computed_vectors(data: bytes, prefix: str, expected: int) -> None:
    """The digest starts with the listed bytes and the score is the one worked out by hand."""
    assert mmh3.hash_bytes(data)[:4] == bytes.fromhex(prefix)
    assert _formula(*bytes.fromhex(prefix)) == expected
    assert score(data) == expected


def test_score_equals_the_formula_for_every_sign_pattern(monkeypatch: pytest.MonkeyPatch) -> None:
    """For every b0 and every high/low choice of b1..b3 the shortcut equals the formula."""
    # Stand-in digests: the scored bytes are the first four digest bytes.
    monkeypatch.setattr(_score, "hash_bytes", lambda data: data + bytes(12))
    samples = (0x00, 0x01, 0x7F, 0x80, 0x81, 0xFF)
    for b0 in range(256):
        for b1, b2, b3 in itertools.product(samples, repeat=3):
            assert score(bytes([b0, b1, b2, b3])) == _formula(b0, b1, b2, b3), (b0, b1, b2, b3)


def test_score_is_an_unsigned_32_bit_int() -> None:
    """Scores of many inputs lie in 0 .. 2**32 - 1."""
    for i in range(1000):
        assert 0 <= score(b"%d" % i) < 2**32


def test_score_takes_few_distinct_values() -> None:
    """Only b0 and three sign bits matter: at most 640 distinct scores, hence frequent ties."""
    assert len({score(b"k%d" % i) for i in range(100_000)}) <= 640
