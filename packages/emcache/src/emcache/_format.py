"""The stored form of a view's value: the bytes, and what the flags say about them.

Strategy: the codec's bytes are stored as they are, or compressed when longer
than the view's ``compress_over`` and compression makes them shorter. The 32
flags bits of the item record how to read them back::

    bit 31 ........... 12 | 11 ..... 8 | 7 ........ 0
         reserved (0)      compression    codec id

* codec id: the ``codec_id`` of the codec that wrote the bytes (0..255).
* compression: 0 none, 1 zlib, 2 zstd; 3..15 are reserved.
* reserved: always 0 today. A reader refuses an item with any of them set,
  as it refuses an unknown compression, so that a future format is never
  misread as this one.

Invariant: a reader decodes only bytes whose flags name its own codec and a
compression it knows; anything else is a :class:`~emcache.CodecMismatchError`
carrying the key and flags. ``flags == 0`` is "raw bytes, uncompressed", what
the 1.x bytes API stores by default.
"""

from __future__ import annotations

import enum
import zlib
from typing import Final, Literal

import attrs

from emcache.errors import CodecError, CodecMismatchError

__all__ = ["Compression", "CompressionName", "ValueFormat"]

CODEC_MASK: Final = 0x0000_00FF
COMPRESSION_SHIFT: Final = 8
COMPRESSION_MASK: Final = 0x0000_0F00
RESERVED_MASK: Final = 0xFFFF_F000
ZSTD_LEVEL: Final = 3
ZSTD_MISSING: Final = "zstd compression needs the zstandard package: pip install 'emcache[zstd]'"

CompressionName = Literal["zlib", "zstd"]


class Compression(enum.IntEnum):
    """The compression field of the flags (bits 8..11)."""

    NONE = 0
    ZLIB = 1
    ZSTD = 2


def _zstd_compress(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data)


def _zstd_decompress(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdDecompressor().decompress(data)


def check_zstd() -> None:
    """Raise ImportError, saying which extra to install, unless zstandard can be imported."""
    try:
        import zstandard  # noqa: F401
    except ImportError as exc:
        raise ImportError(ZSTD_MISSING) from exc


@attrs.frozen
class ValueFormat:
    """How one view stores its values: its codec id and when and how it compresses.

    Attributes:
        codec_id: The codec id written in the flags, 0..255.
        compress_over: Compress values longer than this many bytes; None never does.
        compression: The algorithm used to compress.
    """

    codec_id: int
    compress_over: int | None
    compression: Compression

    @classmethod
    def of(
        cls, codec_id: object, compress_over: int | None, compression: CompressionName
    ) -> ValueFormat:
        """Check the view's options and build its format.

        Raises:
            TypeError, ValueError: An option is out of range or of the wrong type.
            ImportError: ``compression="zstd"`` without the zstandard package.
        """
        if type(codec_id) is not int or not 0 <= codec_id <= CODEC_MASK:
            msg = f"a codec's codec_id must be an int in 0..255, got {codec_id!r}"
            raise ValueError(msg)
        if compress_over is not None and (type(compress_over) is not int or compress_over < 0):
            msg = f"compress_over must be None or an int >= 0, got {compress_over!r}"
            raise ValueError(msg)
        if compression not in ("zlib", "zstd"):
            msg = f"compression must be 'zlib' or 'zstd', got {compression!r}"
            raise ValueError(msg)
        if compression == "zstd" and compress_over is not None:
            check_zstd()
        chosen = Compression.ZSTD if compression == "zstd" else Compression.ZLIB
        return cls(codec_id, compress_over, chosen)

    def dump(self, data: bytes) -> tuple[bytes, int]:
        """The bytes to store for the codec's ``data``, and their flags."""
        if self.compress_over is None or len(data) <= self.compress_over:
            return data, self.codec_id
        if self.compression is Compression.ZSTD:
            packed = _zstd_compress(data)
        else:
            packed = zlib.compress(data)
        if len(packed) >= len(data):  # incompressible: store it plain, cheaper to read
            return data, self.codec_id
        return packed, self.codec_id | self.compression << COMPRESSION_SHIFT

    def load(self, stored: bytes, flags: int, key: bytes) -> bytes:
        """The codec's bytes of an item read with ``flags``.

        Raises:
            CodecMismatchError: The flags name another codec, an unknown compression,
                or set reserved bits.
            CodecError: The data does not decompress (or zstd is not installed).
        """
        if (flags & ~COMPRESSION_MASK) != self.codec_id:  # another codec, or reserved bits
            raise CodecMismatchError(self._mismatch(flags, key), key=key, flags=flags)
        compression = flags >> COMPRESSION_SHIFT
        if compression == Compression.NONE:
            return stored
        try:
            if compression == Compression.ZLIB:
                return zlib.decompress(stored)
            if compression == Compression.ZSTD:
                return _zstd_decompress(stored)
        except ImportError as exc:
            raise CodecError(f"{ZSTD_MISSING} (key {key!r})", key=key, flags=flags) from exc
        except Exception as exc:
            msg = f"the item under {key!r} does not decompress: {exc}"
            raise CodecError(msg, key=key, flags=flags) from exc
        raise CodecMismatchError(self._mismatch(flags, key), key=key, flags=flags)

    def _mismatch(self, flags: int, key: bytes) -> str:
        codec_id = flags & CODEC_MASK
        if flags & RESERVED_MASK or codec_id == self.codec_id:
            found = f"flags 0x{flags:08x}, a format this version of emcache does not know"
        else:
            found = f"codec id {codec_id} (flags 0x{flags:08x})"
        reads = f"this view reads codec id {self.codec_id}"
        return f"the item under {key!r} was written with {found}; {reads}"
