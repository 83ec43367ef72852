"""Large data blocks: read into a buffer of their own, held about once.

A data block of at least ``_LARGE_VALUE`` bytes that has not fully arrived is not
buffered as the parser buffers other bytes (the chunks, their join and the value sliced
from it would hold it two or three times): once its ``VALUE`` line has been read
and checked, a buffer of its length (plus ``_LARGE_ROOM``) is allocated and
every byte of the block goes straight into it, from
:meth:`ResponseParser.receive_data` or read into
:meth:`ResponseParser.value_buffer` by the caller; bytes read into the room
after the block go on to the parse. The buffer is an ``io.BytesIO`` written in
place: on CPython its ``truncate()`` and ``getvalue()`` hand over the ``bytes``
it wrote into, so the finished value costs no copy and the block is held about
once while it is read (1.07x its size for 1 MB in 64 KiB chunks, see
``tools/bench/large_memory.py``). Blocks over ``_LARGE_STEP`` get their buffer
that much at a time, so a server announcing a huge block holds little memory
until the bytes come.

:class:`LargeValueReader` holds that state and the calls a connection makes to read into
the buffer; :class:`~emcache_protocol.ResponseParser` inherits it and starts a block with
:meth:`LargeValueReader._read_large` once it has checked its ``VALUE`` line.
"""

from __future__ import annotations

from contextlib import suppress
from io import BytesIO
from typing import Any, Final

from emcache_protocol._meta_parser import MetaReaders

__all__ = ["LargeValueReader"]

# A data block at least this long that has not fully arrived is read into a buffer of its own.
_LARGE_VALUE: Final = 64 * 1024
# That buffer is allocated this much at a time at most: a server announcing a huge block it
# does not send makes the client hold no more than this beyond what did arrive.
_LARGE_STEP: Final = 64 * 1024 * 1024
# Room left after a large block in its buffer, so that the read that ends the block can also
# bring what follows it (its terminator, the next replies).
_LARGE_ROOM: Final = 4 * 1024


class LargeValueReader(MetaReaders):
    """The large-value part of :class:`~emcache_protocol.ResponseParser`, whose buffer it shares."""

    # The parser's buffer and read position live here, since starting a block moves them.
    __slots__ = ("_buf", "_large", "_large_left", "_large_view", "_pos")

    _buf: bytes
    _large: BytesIO | None
    _large_left: int
    _large_view: memoryview | None

    # The parser's calls, which ResponseParser defines.
    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        raise NotImplementedError

    def _wait(self, need: int) -> Any:
        raise NotImplementedError

    @property
    def reading_large_value(self) -> bool:
        """Whether the bytes of a large data block are being read (see the module): they
        go to :meth:`value_buffer` when the caller reads into it."""
        return self._large_left > 0

    def value_buffer(self) -> memoryview | None:
        """Where the next bytes go while a large data block is read, or ``None``.

        While a large value is being read (see the module), a writable view that starts with
        the bytes of it still missing, followed by some room for what comes after it: the
        caller may read from its socket straight into the view (``recv_into``) and then
        report the count with :meth:`value_received`, which spares a copy. Otherwise bytes
        go to :meth:`receive_data` as usual.
        """
        large = self._large
        left = self._large_left
        if not left or large is None:
            return None
        self._drop_view()  # one handed out before and never filled
        view = large.getbuffer()[large.tell() :]
        if not view:  # the end of what is allocated so far
            view.release()
            _reserve(large, left + _LARGE_ROOM if left <= _LARGE_STEP else _LARGE_STEP)
            view = large.getbuffer()[large.tell() :]
        self._large_view = view
        return view

    def value_received(self, count: int) -> bool:
        """Record that ``count`` bytes were written at the start of :meth:`value_buffer`.

        Returns:
            Whether bytes past the value arrived too: replies may be complete now.

        Raises:
            ValueError: No view is out, or ``count`` is more than it holds.
        """
        large = self._large
        view = self._large_view
        if large is None or view is None or not 0 <= count <= len(view):
            msg = f"{count} bytes received into a value buffer of {self._large_left}"
            raise ValueError(msg)
        left = self._large_left
        rest = b"" if count <= left else bytes(view[left:count])
        self._drop_view()
        if not rest:
            large.seek(count, 1)
            self._large_left = left - count
            return False
        large.seek(left, 1)
        self._large_left = 0
        self.receive_data(rest)
        return True

    def _drop_view(self) -> None:
        """Release the view :meth:`value_buffer` handed out, now if the caller let go of it.

        asyncio does once it read into it, uvloop only once its callback returns. While the
        view lives, the buffer can be neither written to nor handed over without a copy.
        """
        view, self._large_view = self._large_view, None
        if view is not None:
            with suppress(BufferError):
                view.release()

    def _fill(self, data: bytes | bytearray | memoryview) -> bytes:
        """Write what ``data`` holds of the large value being read; return the rest."""
        large = self._large
        assert large is not None
        self._drop_view()  # the caller handed these bytes over instead of reading into it
        left = self._large_left
        if len(data) <= left:
            large.write(data)
            self._large_left = left - len(data)
            return b""
        view = memoryview(data)
        large.write(view[:left])
        self._large_left = 0
        return bytes(view[left:])

    def _read_large(self, start: int, end: int) -> Any:
        """Start reading the large data block ``start:end`` of the buffer, whose VALUE was read.

        The block gets a buffer of its exact length (see the module), which takes the bytes
        buffered so far; the rest go to it as they arrive.
        """
        size = end - start
        # Zeroed memory from calloc, which fresh pages give for free: no pass to clear it.
        # The bytes object is the BytesIO's own from here on (it holds the only reference).
        large = BytesIO(bytes(size + _LARGE_ROOM if size <= _LARGE_STEP else _LARGE_STEP))
        buf = self._buf
        here = min(end, len(buf))
        large.write(memoryview(buf)[start:here])
        self._large = large
        self._large_left = end - here
        self._buf = buf[here:]  # at most the first byte of the \r\n after the block
        self._pos = 0
        return self._wait(2)


def _reserve(large: BytesIO, size: int) -> None:
    """Allocate ``size`` more bytes at the end of ``large`` in one go, keeping its position."""
    here = large.tell()
    large.seek(large.seek(0, 2) + size - 1)
    large.write(b"\0")
    large.seek(here)


def _value_of(large: BytesIO) -> bytes:
    """The bytes written into ``large`` up to its position, the value it was read for."""
    try:
        large.truncate()  # drop the room after the value: shrinks it in place
    except BufferError:  # a view of it is still held somewhere: copy it out instead
        return bytes(large.getbuffer()[: large.tell()])
    return large.getvalue()
