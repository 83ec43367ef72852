"""The typed view of a client: str keys under a prefix, values through a codec.

Strategy: a :class:`CacheView` is a thin layer over the 1.x bytes API of its
:class:`~emcache.Client`. Each call maps the key (:mod:`emcache._keys`),
encodes and maybe compresses the value with flags naming the codec
(:mod:`emcache._format`), and calls the client. Nothing about connections,
routing, batching or errors of the cache is decided here, so the view behaves
as the client does: same timeouts, same ``CacheUnavailableError``.

What the view adds is the reading of normal outcomes as values: a missing key
is ``None`` or ``False``, an ``add`` of an existing key is ``False``, a
missing counter starts at ``initial``. Only failures raise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping
from typing import TYPE_CHECKING, Final, Generic, TypeVar

from emcache._codecs import Codec
from emcache._format import CompressionName, ValueFormat
from emcache._item import Item
from emcache._keys import check_prefix, map_key
from emcache.errors import CodecError, NotFoundCommandError, NotStoredStorageCommandError

if TYPE_CHECKING:
    from emcache._client import Client

__all__ = ["CacheView"]

T = TypeVar("T")
K = TypeVar("K", bound=str | bytes)

# A missing counter is created by ``add``; a racing delete can undo that, so retry a little.
_INCREMENT_ATTEMPTS: Final = 3
_U64_MAX: Final = 2**64 - 1
_NOT_KEY_ITERABLES = (str, bytes, bytearray, memoryview)


class CacheView(Generic[T]):
    """Values of type ``T`` under a key prefix. Made by :meth:`emcache.Client.view`.

    Keys are ``str`` (stored as UTF-8) or ``bytes``; keys memcached cannot
    store as they are are mapped by one stable rule (see :meth:`memcached_key`).
    Values go through the view's codec, whose id is stored in the item's flags:
    an item written in another format raises :class:`~emcache.CodecMismatchError`.
    """

    __slots__ = ("_client", "_codec", "_default_exptime", "_format", "_prefix")

    def __init__(
        self,
        client: Client,
        *,
        codec: Codec[T],
        prefix: str | bytes = "",
        default_exptime: int = 0,
        compress_over: int | None = None,
        compression: CompressionName = "zlib",
    ) -> None:
        if type(default_exptime) is not int or default_exptime < 0:
            msg = f"default_exptime must be an int >= 0, got {default_exptime!r}"
            raise ValueError(msg)
        self._client = client
        self._codec = codec
        self._prefix = check_prefix(prefix)
        self._default_exptime = default_exptime
        self._format = ValueFormat.of(codec.codec_id, compress_over, compression)

    def __repr__(self) -> str:
        return (
            f"CacheView(prefix={self._prefix!r}, codec={self._codec!r}, "
            f"default_exptime={self._default_exptime}, "
            f"compress_over={self._format.compress_over}, "
            f"compression={self._format.compression.name.lower()!r})"
        )

    @property
    def prefix(self) -> bytes:
        """The prefix of every key of the view, as bytes."""
        return self._prefix

    @property
    def codec(self) -> Codec[T]:
        """The codec of the view's values."""
        return self._codec

    def memcached_key(self, key: str | bytes) -> bytes:
        """The key memcached stores for ``key``: the one the 1.x bytes API would use.

        It is the prefix followed by the key (UTF-8 for a ``str``) when memcached
        accepts that as a key and it holds no ``~``. Otherwise it is its first 185
        bytes, each byte <= 0x20, 0x7f or ``~`` replaced by ``_``, then ``~`` and the
        SHA-256 hex digest of the whole: never longer than 250 bytes, and the same
        in every version of emcache.

        Raises:
            TypeError: ``key`` is neither ``str`` nor ``bytes``.
            ValueError: ``key`` is empty, or a ``str`` that is not valid Unicode.
        """
        return map_key(self._prefix, key)

    # -- reading -------------------------------------------------------------------------------
    async def get(self, key: str | bytes) -> T | None:
        """The value stored under ``key``, or None when it is missing.

        Raises:
            CodecMismatchError: The item was written with another codec or format.
            CodecError: The codec or the decompression failed on the stored bytes.
        """
        wire = map_key(self._prefix, key)
        item = await self._client.get(wire, return_flags=True)
        return None if item is None else self._decode(wire, item)

    async def get_many(self, keys: Iterable[K]) -> dict[K, T]:
        """The values of the keys that exist, keyed by the keys as given, in their order.

        Raises:
            TypeError: ``keys`` is a single ``str`` or ``bytes``.
            CodecMismatchError, CodecError: As for :meth:`get`, for any found item.
        """
        if isinstance(keys, _NOT_KEY_ITERABLES):
            msg = "keys must be an iterable of keys, not a single str or bytes"
            raise TypeError(msg)
        wanted = {key: map_key(self._prefix, key) for key in keys}
        if not wanted:
            return {}
        items = await self._client.get_many(list(dict.fromkeys(wanted.values())), return_flags=True)
        values = {wire: self._decode(wire, item) for wire, item in items.items()}
        return {key: values[wire] for key, wire in wanted.items() if wire in values}

    # -- writing -------------------------------------------------------------------------------
    async def set(self, key: str | bytes, value: T, *, exptime: int | None = None) -> None:
        """Store ``value`` under ``key``.

        Args:
            key: The key.
            value: The value, encoded by the view's codec.
            exptime: Seconds from now (up to 30 days) or a unix timestamp; 0 never
                expires; None uses the view's ``default_exptime``.

        Raises:
            StorageCommandError: The server did not store it (e.g. it is too large).
        """
        wire, data, flags = self._encode(key, value)
        await self._client.set(wire, data, flags=flags, exptime=self._exptime(exptime))

    async def add(self, key: str | bytes, value: T, *, exptime: int | None = None) -> bool:
        """Store ``value`` only if ``key`` is missing; whether it was stored."""
        wire, data, flags = self._encode(key, value)
        try:
            await self._client.add(wire, data, flags=flags, exptime=self._exptime(exptime))
        except NotStoredStorageCommandError:
            return False
        return True

    async def set_many(self, mapping: Mapping[K, T], *, exptime: int | None = None) -> None:
        """Store every value of ``mapping`` under its key, all at once.

        Every value is encoded before anything is sent. If one store fails, the
        others are cancelled and the error is raised; some may have been stored.
        """
        expires = self._exptime(exptime)
        stores: dict[bytes, tuple[bytes, int]] = {}
        for key, value in mapping.items():
            wire, data, flags = self._encode(key, value)
            stores[wire] = (data, flags)  # "k" and b"k" are one item: the last one wins
        await _all(
            self._client.set(wire, data, flags=flags, exptime=expires)
            for wire, (data, flags) in stores.items()
        )

    async def delete(self, key: str | bytes) -> bool:
        """Remove the item under ``key``; whether there was one."""
        try:
            await self._client.delete(map_key(self._prefix, key))
        except NotFoundCommandError:
            return False
        return True

    async def touch(self, key: str | bytes, exptime: int | None = None) -> bool:
        """Give the item a new expiration time (None: ``default_exptime``); whether it exists."""
        try:
            await self._client.touch(map_key(self._prefix, key), self._exptime(exptime))
        except NotFoundCommandError:
            return False
        return True

    async def increment(
        self, key: str | bytes, delta: int = 1, *, initial: int = 0, exptime: int | None = None
    ) -> int:
        """Add ``delta`` to the counter under ``key`` and return its new value.

        A missing counter is created as ``initial + delta`` with ``exptime`` (an
        existing one keeps its own). A counter is stored as its decimal digits, so
        ``get`` reads it through a ``JsonCodec``, ``StrCodec`` or ``BytesCodec`` view.

        Raises:
            ValueError: ``delta`` or ``initial`` is negative or over 64 bits.
            CommandError: The item under ``key`` is not a decimal number.
        """
        if type(initial) is not int or not 0 <= initial <= _U64_MAX:
            msg = f"initial must be an int in 0..2**64-1, got {initial!r}"
            raise ValueError(msg)
        wire = map_key(self._prefix, key)
        expires = self._exptime(exptime)
        for _ in range(_INCREMENT_ATTEMPTS):
            try:
                number = await self._client.increment(wire, delta)
            except NotFoundCommandError:
                # delta was checked by the incr request; memcached's counters are 64-bit.
                if initial + delta > _U64_MAX:
                    msg = f"initial + delta must be at most 2**64-1, got {initial + delta}"
                    raise ValueError(msg) from None
                created = b"%d" % (initial + delta)
                flags = self._format.codec_id
                try:
                    await self._client.add(wire, created, flags=flags, exptime=expires)
                except NotStoredStorageCommandError:
                    continue  # created by someone else meanwhile: increment theirs
                return initial + delta
            if number is not None:  # always, without noreply
                return number
        msg = f"increment: the counter under {wire!r} kept disappearing"
        raise NotFoundCommandError(msg)

    # -- plumbing ------------------------------------------------------------------------------
    def _exptime(self, exptime: int | None) -> int:
        return self._default_exptime if exptime is None else exptime

    def _encode(self, key: str | bytes, value: T) -> tuple[bytes, bytes, int]:
        wire = map_key(self._prefix, key)
        data, flags = self._format.dump(self._codec.encode(value))
        return wire, data, flags

    def _decode(self, wire: bytes, item: Item) -> T:
        flags = item.flags or 0
        data = self._format.load(item.value, flags, wire)
        try:
            return self._codec.decode(data)
        except Exception as exc:
            msg = f"{self._codec!r} could not decode the item under {wire!r}: {exc}"
            raise CodecError(msg, key=wire, flags=flags) from exc


async def _all(calls: Iterable[Awaitable[None]]) -> None:
    """Await every call concurrently; on the first failure cancel the others and raise."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
            # A second failure is not raised; reading it keeps asyncio from logging it.
            task.add_done_callback(_read_outcome)
        raise


def _read_outcome(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()
