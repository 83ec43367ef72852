"""The functions behind ``Rendezvous.pick`` and ``Rendezvous.pick_many``.

They are rebuilt each time the node set changes, specialised to it:

- no node: raise :class:`NoNodesError`;
- one node: return it, without hashing;
- up to :data:`UNROLL_LIMIT` nodes: a function generated for the node set,
  with one straight block per node and the node's id bytes, id score and name
  bound as constants; no loop, no lookup, about 15% faster than the loop.
  The code depends only on the node count, so it is compiled once per count
  and each rebuild only runs it in a fresh namespace (a few microseconds);
- more nodes: a loop over the node ids.

All of them make the first pass described in ``_rendezvous``: read byte 0 of
each digest and keep the best ``(b0, id score)`` in node order, which decides
the key when that b0 is >= 0x80, and fall back on :func:`pick_exact` otherwise.
The generated source is built only from this module's templates and node
indexes; node ids and names reach the function as values in its namespace,
never as source text, so any string is a safe node id.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from types import CodeType

from mmh3 import hash_bytes

from emcache_hashing._picking import Pick, PickMany, build_empty, build_single, check_key

__all__ = ["UNROLL_LIMIT", "Entry", "Pick", "PickMany", "build"]

UNROLL_LIMIT = 64
"""Node sets up to this size get a generated function; larger ones a loop."""

Entry = tuple[str, bytes, int]
"""A node: its name, its id as bytes, and the score of its id (the tie-break)."""


def pick_exact(entries: Sequence[Entry], key: bytes) -> str:
    """Pick by exact scores: highest score, then highest id score, then first listed.

    The first pass sends here the keys on which every node has b0 < 0x80 (a
    quarter of the keys with two nodes), so ``score`` is inlined.
    """
    best = best_tie = -1
    winner = entries[0][0]
    for name, node_id, tie in entries:
        digest = hash_bytes(key + node_id)
        b0 = digest[0]
        if b0 >= 0x80 or digest[1] >= 0x80:
            rank = 0xFFFFFF00 | b0
        elif digest[2] >= 0x80:
            rank = 0xFFFF0000 | b0
        elif digest[3] >= 0x80:
            rank = 0xFF000000 | b0
        else:
            rank = b0
        if rank > best or (rank == best and tie > best_tie):
            best = rank
            best_tie = tie
            winner = name
    return winner


def build(entries: Sequence[Entry]) -> tuple[Pick, PickMany]:
    """Return the pick and pick_many functions for ``entries``, in node order."""
    if not entries:
        return build_empty()
    if len(entries) == 1:
        return build_single(entries[0][0])
    if len(entries) <= UNROLL_LIMIT:
        return _build_unrolled(entries)
    return _build_loop(entries)


def _build_loop(entries: Sequence[Entry]) -> tuple[Pick, PickMany]:
    ids = tuple(node_id for _, node_id, _ in entries)
    ties = {node_id: tie for _, node_id, tie in entries}
    names = {node_id: name for name, node_id, _ in entries}
    first = ids[0]

    def first_pass(key: bytes) -> str | None:
        top = -1
        winner = first
        for node_id in ids:
            b0 = hash_bytes(key + node_id)[0]
            if b0 >= top and (b0 > top or ties[node_id] > ties[winner]):
                top = b0
                winner = node_id
        return names[winner] if top >= 0x80 else None

    def pick(key: bytes) -> str:
        if type(key) is not bytes:
            check_key(key)
        return first_pass(key) or pick_exact(entries, key)

    def pick_many(keys: Iterable[bytes]) -> dict[str, list[bytes]]:
        groups: dict[str, list[bytes]] = {}
        for key in keys:
            if type(key) is not bytes:
                check_key(key)
            node = first_pass(key) or pick_exact(entries, key)
            group = groups.get(node)
            if group is None:
                groups[node] = [key]
            else:
                group.append(key)
        return groups

    return pick, pick_many


# The first pass for node i > 0; node 0 only initialises top, tie and node.
_STEP = """\
b0 = hash_bytes(key + I{i})[0]
if b0 >= top and (b0 > top or T{i} > tie):
    top = b0
    tie = T{i}
    node = S{i}
"""

_PICK = """\
def pick(key):
    if type(key) is not bytes:
        check_key(key)
{first_pass}
    if top >= 0x80:
        return node
    return pick_exact(entries, key)
"""

_PICK_MANY = """\
def pick_many(keys):
    groups = {{}}
    for key in keys:
        if type(key) is not bytes:
            check_key(key)
{first_pass}
        if top < 0x80:
            node = pick_exact(entries, key)
        group = groups.get(node)
        if group is None:
            groups[node] = [key]
        else:
            group.append(key)
    return groups
"""


def _first_pass(count: int, indent: str) -> str:
    lines = ["top = hash_bytes(key + I0)[0]", "tie = T0", "node = S0"]
    for i in range(1, count):
        lines.extend(_STEP.format(i=i).splitlines())
    return "\n".join(indent + line for line in lines)


@functools.cache
def _code_for(count: int) -> CodeType:
    """Compile the pick functions for ``count`` nodes, once per count."""
    source = _PICK.format(first_pass=_first_pass(count, " " * 4))
    source += _PICK_MANY.format(first_pass=_first_pass(count, " " * 8))
    return compile(source, f"<rendezvous over {count} nodes>", "exec")


def _build_unrolled(entries: Sequence[Entry]) -> tuple[Pick, PickMany]:
    namespace: dict[str, object] = {
        "hash_bytes": hash_bytes,
        "check_key": check_key,
        "pick_exact": pick_exact,
        "entries": tuple(entries),
    }
    for i, (name, node_id, tie) in enumerate(entries):
        namespace[f"S{i}"] = name
        namespace[f"I{i}"] = node_id
        namespace[f"T{i}"] = tie
    exec(_code_for(len(entries)), namespace)
    pick: Pick = namespace["pick"]  # type: ignore[assignment]
    pick_many: PickMany = namespace["pick_many"]  # type: ignore[assignment]
    return pick, pick_many
