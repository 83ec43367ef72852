"""The small grammar of reply lines: status tables, error lines, the CONFIG block.

Helpers shared by the parser's readers. They work on one complete line (or
one complete block) and either return its meaning or build the
:class:`ProtocolError` that explains why it cannot be a reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

from emcache_protocol._replies import ClusterConfig, ConfigNode, ErrorReply, Status
from emcache_protocol.errors import ProtocolError

__all__ = [
    "DELETE_LINES",
    "MEMLIMIT_ERRORS",
    "STORAGE_LINES",
    "TOUCH_LINES",
    "cluster_config",
    "error_reply",
    "expected_key",
    "shown",
    "unexpected",
]

MAX_SHOWN: Final = 80

STORAGE_LINES: Final = {
    b"STORED": Status.STORED,
    b"NOT_STORED": Status.NOT_STORED,
    b"EXISTS": Status.EXISTS,
    b"NOT_FOUND": Status.NOT_FOUND,
}
TOUCH_LINES: Final = {b"TOUCHED": Status.TOUCHED, b"NOT_FOUND": Status.NOT_FOUND}
DELETE_LINES: Final = {b"DELETED": Status.DELETED, b"NOT_FOUND": Status.NOT_FOUND}
# cache_memlimit refusals are not error lines, but they are error replies.
MEMLIMIT_ERRORS: Final[dict[bytes, Literal["CLIENT_ERROR", "SERVER_ERROR"]]] = {
    b"MEMLIMIT_TOO_SMALL": "CLIENT_ERROR",
    b"MEMLIMIT_ADJUST_FAILED": "SERVER_ERROR",
}


def shown(data: bytes) -> str:
    """A short printable form of offending bytes for error messages."""
    if len(data) > MAX_SHOWN:
        return repr(data[:MAX_SHOWN]) + "..."
    return repr(data)


def error_reply(line: bytes) -> ErrorReply | None:
    """The :class:`ErrorReply` for an error line, ``None`` for any other line."""
    head, _, message = line.partition(b" ")
    if head == b"ERROR":
        return ErrorReply("ERROR", message.decode("utf-8", "replace"))
    if head == b"CLIENT_ERROR":
        return ErrorReply("CLIENT_ERROR", message.decode("utf-8", "replace"))
    if head == b"SERVER_ERROR":
        return ErrorReply("SERVER_ERROR", message.decode("utf-8", "replace"))
    return None


def unexpected(line: bytes, what: str) -> ProtocolError:
    return ProtocolError(f"unexpected line in a {what} reply: {shown(line)}")


def expected_key(keys: Sequence[bytes], index: int, key: bytes) -> tuple[bytes, int]:
    """Skip requested keys that missed up to ``key``; refuse a key not among them."""
    count = len(keys)
    while index < count:
        expected = keys[index]
        index += 1
        if expected == key:
            return expected, index
    msg = f"VALUE for a key that was not requested at this point: {shown(key)}"
    raise ProtocolError(msg)


def cluster_config(block: bytes) -> ClusterConfig:
    """Parse ``<version>\\n<host>|<ip>|<port> ...\\n``."""
    lines = block.split(b"\n")
    if len(lines) < 2 or not lines[0].strip().isdigit() or len(lines[0].strip()) > 20:
        raise ProtocolError(f"malformed config block: {shown(block)}")
    nodes = []
    for entry in lines[1].split():
        parts = entry.split(b"|")
        if len(parts) != 3 or not parts[0] or not parts[2].isdigit() or len(parts[2]) > 5:
            raise ProtocolError(f"malformed node in a config block: {shown(entry)}")
        port = int(parts[2])
        if not 0 < port < 65536:
            raise ProtocolError(f"port out of range in a config block: {shown(entry)}")
        host = parts[0].decode("ascii", "replace")
        nodes.append(ConfigNode(host, parts[1].decode("ascii", "replace"), port))
    if any(line.strip() for line in lines[2:]):
        raise ProtocolError(f"unexpected lines in a config block: {shown(block)}")
    return ClusterConfig(int(lines[0]), tuple(nodes))
