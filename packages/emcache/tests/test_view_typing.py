"""The view in a user's code under ``mypy --strict``: real types, no casts, mistakes caught."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

USER_MODULE = """
from __future__ import annotations

import dataclasses
from typing import Any

import emcache


@dataclasses.dataclass
class User:
    name: str
    age: int

    @classmethod
    def from_json(cls, data: Any) -> User:
        return cls(str(data["name"]), int(data["age"]))


class Upper:
    codec_id = 200

    def encode(self, value: str) -> bytes:
        return value.upper().encode()

    def decode(self, data: bytes) -> str:
        return data.decode()


async def main(client: emcache.Client) -> None:
    users = client.view(
        prefix="users:",
        codec=emcache.JsonCodec(to_json=dataclasses.asdict, from_json=User.from_json),
        default_exptime=300,
        compress_over=4096,
    )
    reveal_type(users)
    reveal_type(await users.get("u:1"))
    reveal_type(await users.get_many(["u:1", "u:2"]))
    reveal_type(await users.get_many([b"u:1"]))
    reveal_type(await users.add("u:1", User("Ada", 36)))
    reveal_type(await users.delete("u:1"))
    reveal_type(await users.touch("u:1", 60))
    reveal_type(await users.increment("visits"))
    await users.set("u:1", User("Ada", 36), exptime=60)
    await users.set_many({"u:1": User("Ada", 36)}, exptime=60)
    reveal_type(client.view(codec=emcache.JsonCodec()))
    reveal_type(client.view(codec=emcache.PickleCodec(User)))
    reveal_type(client.view(codec=emcache.PickleCodec()))
    reveal_type(client.view(codec=emcache.BytesCodec()))
    reveal_type(client.view(codec=emcache.StrCodec()))
    reveal_type(client.view(codec=Upper()))
    codec: emcache.Codec[str] = Upper()
    view: emcache.CacheView[str] = client.view(codec=codec)
    name: str | None = await view.get("k")
    found: dict[str, str] = await view.get_many(["k"])
    print(name, found)
"""

EXPECTED_TYPES = [
    "emcache._view.CacheView[user.User]",
    "user.User | None",
    "dict[str, user.User]",
    "dict[bytes, user.User]",
    "bool",
    "bool",
    "bool",
    "int",
    "emcache._view.CacheView[Any]",
    "emcache._view.CacheView[user.User]",
    "emcache._view.CacheView[Any]",
    "emcache._view.CacheView[bytes]",
    "emcache._view.CacheView[str]",
    "emcache._view.CacheView[str]",
]

MISTAKES = """
from __future__ import annotations

import emcache


async def main(client: emcache.Client) -> None:
    text = client.view(codec=emcache.StrCodec())
    await text.set("k", b"bytes")
    number: int | None = await text.get("k")
    deleted: None = await text.delete("k")
    emcache.JsonCodec(to_json=str)
    client.view(codec=emcache.JsonCodec(), compression="lz4")
"""


def _check(tmp_path: Path, source: str) -> tuple[int, list[str]]:
    (tmp_path / "user.py").write_text(textwrap.dedent(source))
    (tmp_path / "mypy.ini").write_text("[mypy]\n")
    report, errors, status = mypy_api.run(
        [
            "--strict",
            "--no-incremental",
            "--config-file",
            str(tmp_path / "mypy.ini"),
            str(tmp_path / "user.py"),
        ]
    )
    assert not errors
    return status, report.splitlines()


def test_view_in_strict_user_code_has_real_types(tmp_path: Path) -> None:
    """Every view method returns the codec's type or a plain bool/int, with no cast."""
    status, lines = _check(tmp_path, USER_MODULE)
    revealed = [m[1] for line in lines if (m := re.search(r'Revealed type is "(.*)"', line))]
    assert revealed == EXPECTED_TYPES
    assert [line for line in lines if ": error:" in line] == []
    # reveal_type notes alone do not fail mypy.
    assert status == 0


def test_view_mistakes_are_type_errors(tmp_path: Path) -> None:
    """A value of the wrong type, a wrong result type or a bad option fails type checking."""
    status, lines = _check(tmp_path, MISTAKES)
    errors = [int(line.split(":")[1]) for line in lines if ": error:" in line]
    assert status == 1
    assert sorted(set(errors)) == [9, 10, 11, 12, 13]
