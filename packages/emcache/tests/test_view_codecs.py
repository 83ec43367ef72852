"""The codecs of the view and the stored format: codec ids, flags layout, compression."""

from __future__ import annotations

import dataclasses
import json
import sys
import zlib
from typing import Any

import pytest

import emcache
from emcache import BytesCodec, CodecError, CodecMismatchError, JsonCodec, PickleCodec, StrCodec
from emcache._format import Compression, ValueFormat

KEY = b"svc:k"
LONG_JSON = {"items": list(range(500))}


@dataclasses.dataclass
class Point:
    x: int
    y: int

    @classmethod
    def from_json(cls, data: Any) -> Point:
        return cls(int(data["x"]), int(data["y"]))


class TestCodecs:
    """The codecs emcache ships."""

    def test_codec_ids_are_fixed(self) -> None:
        """The ids written in the flags never change: bytes 0, str 1, JSON 2, pickle 3."""
        codecs: list[emcache.Codec[Any]] = [BytesCodec(), StrCodec(), JsonCodec(), PickleCodec()]
        assert [codec.codec_id for codec in codecs] == [0, 1, 2, 3]

    def test_bytes_and_str_codecs_round_trip_and_refuse_other_types(self) -> None:
        """Bytes are stored as they are and str as UTF-8; a value of another type is a TypeError."""
        assert BytesCodec().encode(bytearray(b"ab")) == b"ab"  # type: ignore[arg-type]
        assert BytesCodec().decode(b"ab") == b"ab"
        assert StrCodec().encode("caf\u00e9") == b"caf\xc3\xa9"
        assert StrCodec().decode(b"caf\xc3\xa9") == "caf\u00e9"
        with pytest.raises(TypeError, match="BytesCodec stores bytes"):
            BytesCodec().encode("text")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="StrCodec stores str"):
            StrCodec().encode(b"bytes")  # type: ignore[arg-type]

    def test_json_codec_writes_compact_utf8_and_refuses_nan(self) -> None:
        """JSON is compact UTF-8 that any language reads; NaN is not JSON and is refused."""
        codec = JsonCodec()
        assert codec.encode({"name": "caf\u00e9", "n": [1, 2]}) == (
            b'{"name":"caf\xc3\xa9","n":[1,2]}'
        )
        assert codec.decode(b'{"a":[1,null]}') == {"a": [1, None]}
        with pytest.raises(ValueError, match="JSON"):
            codec.encode(float("nan"))

    def test_json_codec_converts_with_to_json_and_from_json(self) -> None:
        """to_json and from_json store and read back a type of the application."""
        codec = JsonCodec(to_json=dataclasses.asdict, from_json=Point.from_json)
        assert codec.encode(Point(1, 2)) == b'{"x":1,"y":2}'
        assert codec.decode(b'{"x":3,"y":4}') == Point(3, 4)

    def test_json_codec_takes_both_converters_or_neither(self) -> None:
        """Only one of to_json and from_json is a TypeError."""
        with pytest.raises(TypeError, match="both"):
            JsonCodec(to_json=dataclasses.asdict)  # type: ignore[call-overload]

    def test_pickle_codec_checks_the_class_it_was_given(self) -> None:
        """PickleCodec(cls) reads back instances of cls and refuses other objects."""
        codec = PickleCodec(Point)
        assert codec.decode(codec.encode(Point(1, 2))) == Point(1, 2)
        with pytest.raises(TypeError, match="not a Point"):
            codec.decode(PickleCodec().encode({"x": 1}))
        with pytest.raises(TypeError, match="a class"):
            PickleCodec("Point")  # type: ignore[call-overload]

    def test_pickle_codec_uses_protocol_5_by_default(self) -> None:
        """The default protocol is 5 whatever the Python version, so every reader loads it."""
        assert PickleCodec().encode(1)[:2] == b"\x80\x05"
        assert PickleCodec(protocol=4).encode(1)[:2] == b"\x80\x04"

    def test_codecs_have_a_repr_of_their_options(self) -> None:
        """A codec's repr says how it was made."""
        assert repr(JsonCodec()) == "JsonCodec()"
        assert repr(PickleCodec(Point)) == "PickleCodec(Point, protocol=5)"
        assert repr(BytesCodec()) == "BytesCodec()"
        assert repr(StrCodec()) == "StrCodec()"


def _format(codec_id: int = 2, over: int | None = 100, name: Any = "zlib") -> ValueFormat:
    return ValueFormat.of(codec_id, over, name)


class TestFlagsLayout:
    """Bits 0..7 codec id, bits 8..11 compression, bits 12..31 reserved (0)."""

    def test_dump_flags_are_the_codec_id_when_not_compressed(self) -> None:
        """A value up to the threshold is stored as it is, its flags the codec id alone."""
        assert _format().dump(b"x" * 100) == (b"x" * 100, 0x0000_0002)
        assert _format(over=None).dump(b"x" * 10_000) == (b"x" * 10_000, 0x0000_0002)
        assert _format(codec_id=200).dump(b"v") == (b"v", 0x0000_00C8)

    def test_dump_compresses_over_the_threshold_with_zlib(self) -> None:
        """A longer value is zlib-compressed and the compression field is 1."""
        data = json.dumps(LONG_JSON).encode()
        stored, flags = _format().dump(data)
        assert flags == 0x0000_0102
        assert zlib.decompress(stored) == data

    def test_dump_stores_incompressible_data_plain(self) -> None:
        """Data that compression does not shorten is stored as it is, uncompressed."""
        data = bytes(range(256))
        assert _format(over=0).dump(data) == (data, 0x0000_0002)

    def test_load_returns_the_codec_bytes(self) -> None:
        """load undoes dump, compressed or not, and reads 1.x values (flags 0) as bytes."""
        value_format = _format()
        for data in (b"short", json.dumps(LONG_JSON).encode()):
            assert value_format.load(*value_format.dump(data), KEY) == data
        assert _format(codec_id=0).load(b"raw", 0, KEY) == b"raw"

    @pytest.mark.parametrize(
        ("flags", "found"),
        [
            (0x0000_0003, "codec id 3"),
            (0x0000_0000, "codec id 0"),
            (0x0001_0002, "does not know"),
            (0x0000_1002, "does not know"),
            (0x0000_0302, "does not know"),
        ],
    )
    def test_load_refuses_other_formats(self, flags: int, found: str) -> None:
        """Another codec id, reserved bits or an unknown compression raise CodecMismatchError."""
        with pytest.raises(CodecMismatchError, match=found) as caught:
            _format().load(b"data", flags, KEY)
        assert caught.value.key == KEY
        assert caught.value.flags == flags
        assert "this view reads codec id 2" in str(caught.value)

    def test_load_of_corrupt_compressed_data_is_a_codec_error(self) -> None:
        """Bytes flagged zlib that do not decompress raise CodecError, zlib's error chained."""
        with pytest.raises(CodecError, match="does not decompress") as caught:
            _format().load(b"not zlib", 0x0000_0102, KEY)
        assert isinstance(caught.value.__cause__, zlib.error)

    @pytest.mark.parametrize(
        ("codec_id", "over", "name"),
        [(256, 1, "zlib"), (-1, 1, "zlib"), ("2", 1, "zlib"), (2, -1, "zlib"), (2, 1, "lz4")],
    )
    def test_of_refuses_bad_options(self, codec_id: Any, over: Any, name: Any) -> None:
        """A codec id outside 0..255, a negative threshold or an unknown algorithm: ValueError."""
        with pytest.raises(ValueError):
            ValueFormat.of(codec_id, over, name)


class TestZstd:
    """zstd compression, with and without the optional zstandard package."""

    def test_zstd_round_trips_with_compression_field_2(self) -> None:
        """With zstandard installed, compression="zstd" stores zstd frames, flagged 2."""
        zstandard = pytest.importorskip("zstandard")
        data = json.dumps(LONG_JSON).encode()
        value_format = _format(name="zstd")
        assert value_format.compression is Compression.ZSTD
        stored, flags = value_format.dump(data)
        assert flags == 0x0000_0202
        assert zstandard.ZstdDecompressor().decompress(stored) == data
        # Any view of the codec reads it, whatever algorithm it writes with.
        assert _format(name="zlib").load(stored, flags, KEY) == data

    def test_without_zstandard_zstd_is_refused_at_creation(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """compression="zstd" without the package is an ImportError naming the extra."""
        monkeypatch.setitem(sys.modules, "zstandard", None)
        with pytest.raises(ImportError, match=r"emcache\[zstd\]"):
            _format(name="zstd")
        # Without a threshold nothing is compressed, so nothing is needed.
        assert _format(over=None, name="zstd").dump(b"x" * 500) == (b"x" * 500, 2)

    def test_without_zstandard_a_zstd_item_is_a_codec_error(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Reading an item flagged zstd without the package raises CodecError naming the extra."""
        monkeypatch.setitem(sys.modules, "zstandard", None)
        with pytest.raises(CodecError, match=r"emcache\[zstd\]") as caught:
            _format().load(b"frame", 0x0000_0202, KEY)
        assert not isinstance(caught.value, CodecMismatchError)
        assert emcache.CodecError is CodecError
