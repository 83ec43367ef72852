"""Codecs: how a view turns application values into the bytes memcached stores.

A codec is any object with a ``codec_id`` and an ``encode``/``decode`` pair
(:class:`Codec`, a structural protocol: the user's own classes need not
inherit from anything). The ``codec_id`` is written in the item's flags, so a
view reading an item written through another codec raises
:class:`~emcache.CodecMismatchError` instead of decoding garbage.

Ids 0..127 belong to emcache (the codecs below use 0..3); ids 128..255 are the
application's. The id names a *byte format*, not a Python type: two codecs
that read and write the same bytes (``JsonCodec()`` and a ``JsonCodec`` that
validates into a dataclass) share an id on purpose.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from typing import Any, Final, Generic, Protocol, TypeVar, overload

__all__ = ["BytesCodec", "Codec", "JsonCodec", "PickleCodec", "StrCodec"]

T = TypeVar("T")
_MISSING: Final[Any] = object()


class Codec(Protocol[T]):
    """What a view needs to store values of type ``T``.

    Attributes:
        codec_id: 0..255, written in the flags of every item the view stores.
            Use 128..255 for your own codecs; 0..127 are emcache's.
    """

    @property
    def codec_id(self) -> int: ...

    def encode(self, value: T, /) -> bytes:
        """The bytes to store for ``value``."""
        ...

    def decode(self, data: bytes, /) -> T:
        """The value stored as ``data``; raise any exception if it cannot be read."""
        ...


class BytesCodec:
    """Values are ``bytes``, stored as they are (codec id 0).

    Id 0 is also what the 1.x bytes API writes with its default ``flags=0``, so a
    view with this codec reads items stored by ``Client.set`` unchanged.
    """

    codec_id: Final = 0

    def encode(self, value: bytes, /) -> bytes:
        checked: object = value  # the annotation is not enforced at run time
        if isinstance(checked, bytes | bytearray | memoryview):
            return bytes(checked)
        msg = f"BytesCodec stores bytes, not {type(checked).__name__}"
        raise TypeError(msg)

    def decode(self, data: bytes, /) -> bytes:
        return data

    def __repr__(self) -> str:
        return "BytesCodec()"


class StrCodec:
    """Values are ``str``, stored as UTF-8 (codec id 1)."""

    codec_id: Final = 1

    def encode(self, value: str, /) -> bytes:
        checked: object = value  # the annotation is not enforced at run time
        if isinstance(checked, str):
            return checked.encode("utf-8")
        msg = f"StrCodec stores str, not {type(checked).__name__}"
        raise TypeError(msg)

    def decode(self, data: bytes, /) -> str:
        return data.decode("utf-8")

    def __repr__(self) -> str:
        return "StrCodec()"


class JsonCodec(Generic[T]):
    """Values are stored as UTF-8 JSON (codec id 2), readable from any language.

    ``JsonCodec()`` takes and returns what :func:`json.dumps` and :func:`json.loads`
    do, typed ``Any``. Give ``to_json`` and ``from_json`` to store a type of your
    own and get it back checked: ``from_json`` receives the parsed JSON and
    returns the value (a pydantic model's ``model_validate``, a dataclass
    constructor...), ``to_json`` turns a value into what :func:`json.dumps` takes.

    The JSON is compact and standard: ``NaN`` and infinities are refused.
    """

    codec_id: Final = 2

    @overload
    def __init__(self: JsonCodec[Any]) -> None: ...

    @overload
    def __init__(
        self, *, to_json: Callable[[T], object], from_json: Callable[[Any], T]
    ) -> None: ...

    def __init__(
        self,
        *,
        to_json: Callable[[T], object] = _MISSING,
        from_json: Callable[[Any], T] = _MISSING,
    ) -> None:
        if (to_json is _MISSING) is not (from_json is _MISSING):
            msg = "JsonCodec takes both to_json and from_json, or neither"
            raise TypeError(msg)
        self._to_json = None if to_json is _MISSING else to_json
        self._from_json = None if from_json is _MISSING else from_json

    def encode(self, value: T, /) -> bytes:
        data = value if self._to_json is None else self._to_json(value)
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8")

    def decode(self, data: bytes, /) -> T:
        parsed = json.loads(data)
        return parsed if self._from_json is None else self._from_json(parsed)

    def __repr__(self) -> str:
        if self._to_json is None:
            return "JsonCodec()"
        return f"JsonCodec(to_json={self._to_json!r}, from_json={self._from_json!r})"


class PickleCodec(Generic[T]):
    """Values are pickled (codec id 3). **Only for data that you trust.**

    Unpickling runs code chosen by whoever wrote the bytes: anyone able to write
    to the cache can then run code in every reader. Use it only on a cache that
    no other party can write to.

    ``PickleCodec()`` is typed ``Any``. ``PickleCodec(User)`` is typed ``User``
    and checks it: an unpickled object that is not a ``User`` raises
    :class:`~emcache.CodecError` (which protects from mistakes, not from attacks).

    Args:
        cls: The class of the values, checked on every read.
        protocol: The pickle protocol; 5 (Python 3.8+) by default, the same in
            every Python version, so that readers on other versions can load it.
    """

    codec_id: Final = 3

    @overload
    def __init__(self: PickleCodec[Any], *, protocol: int = 5) -> None: ...

    @overload
    def __init__(self, cls: type[T], *, protocol: int = 5) -> None: ...

    def __init__(self, cls: object = None, *, protocol: int = 5) -> None:
        if cls is not None and not isinstance(cls, type):
            msg = f"PickleCodec takes a class, not {cls!r}"
            raise TypeError(msg)
        self._cls: type | None = cls
        self._protocol = protocol

    def encode(self, value: T, /) -> bytes:
        return pickle.dumps(value, protocol=self._protocol)

    def decode(self, data: bytes, /) -> T:
        value = pickle.loads(data)
        if self._cls is not None and not isinstance(value, self._cls):
            msg = f"unpickled a {type(value).__name__}, not a {self._cls.__name__}"
            raise TypeError(msg)
        return value  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        cls = "" if self._cls is None else f"{self._cls.__qualname__}, "
        return f"PickleCodec({cls}protocol={self._protocol})"
