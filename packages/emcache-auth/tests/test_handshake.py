"""The authentication handshake against a scripted channel."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from emcache_auth import (
    AuthError,
    AuthFailedError,
    AuthNotEnabledError,
    AuthRequiredError,
    CommandChannel,
    Credentials,
    auth_required_error,
    authenticate,
    on_connect_step,
)
from emcache_protocol import ErrorReply, ReplyKind, Request, Status, VersionReply, auth_command

PASSWORD = "Hunter2-never-shown"
CREDENTIALS = Credentials("alice", PASSWORD)


class ScriptedChannel:
    """Records each request and answers with the next scripted reply (or raises it)."""

    def __init__(self, *replies: object) -> None:
        self.replies = list(replies)
        self.requests: list[Request[Any]] = []

    async def execute(self, request: Request[Any]) -> Any:
        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return reply


def _texts(exc: BaseException) -> list[str]:
    texts = []
    current: BaseException | None = exc
    while current is not None:
        texts += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return texts


def test_scripted_channel_is_a_command_channel() -> None:
    """The test double satisfies the CommandChannel protocol for the type checker."""
    channel: CommandChannel = ScriptedChannel()
    assert channel is not None


@pytest.mark.asyncio
async def test_authenticate_sends_one_auth_request() -> None:
    """The handshake is a single auth request expecting a storage reply."""
    channel = ScriptedChannel(Status.STORED)
    await authenticate(channel, CREDENTIALS)
    assert channel.requests == [auth_command("alice", PASSWORD)]
    assert channel.requests[0].kind is ReplyKind.STORAGE


@pytest.mark.asyncio
@pytest.mark.parametrize("message", ["authentication failure", "bad authentication token format"])
async def test_authenticate_refused_raises_authentication_error(message: str) -> None:
    """A CLIENT_ERROR other than a bad command line means the credentials were refused."""
    channel = ScriptedChannel(ErrorReply("CLIENT_ERROR", message))
    with pytest.raises(AuthFailedError) as info:
        await authenticate(channel, CREDENTIALS)
    assert type(info.value) is AuthFailedError
    assert str(info.value) == (
        f"memcached refused the credentials for user 'alice' (CLIENT_ERROR {message})"
    )


@pytest.mark.asyncio
async def test_authenticate_server_without_auth_raises_not_enabled() -> None:
    """A bad command line format reply means the server does not have authentication enabled."""
    channel = ScriptedChannel(ErrorReply("CLIENT_ERROR", "bad command line format"))
    with pytest.raises(AuthNotEnabledError, match="does not have authentication enabled") as info:
        await authenticate(channel, CREDENTIALS)
    assert isinstance(info.value, AuthFailedError)
    assert "'alice'" in str(info.value)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "error",
    [ConnectionResetError("closed"), asyncio.IncompleteReadError(b"", 8), BrokenPipeError()],
)
async def test_authenticate_connection_closed_raises_authentication_error(
    error: BaseException,
) -> None:
    """A connection that closes during the handshake fails it with AuthFailedError."""
    with pytest.raises(AuthFailedError, match="closed the connection") as info:
        await authenticate(ScriptedChannel(error), CREDENTIALS)
    assert info.value.__cause__ is error


@pytest.mark.asyncio
async def test_authenticate_lets_timeouts_through() -> None:
    """A timeout is not a refusal: it propagates unchanged."""
    with pytest.raises(TimeoutError):
        await authenticate(ScriptedChannel(TimeoutError()), CREDENTIALS)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("reply", "described"),
    [
        (Status.NOT_STORED, "NOT_STORED"),
        (ErrorReply("SERVER_ERROR", "out of memory"), "SERVER_ERROR out of memory"),
        (ErrorReply("ERROR", ""), "ERROR"),
        (VersionReply("1.6.18"), "VersionReply"),
    ],
)
async def test_authenticate_unexpected_reply_raises(reply: object, described: str) -> None:
    """Any reply other than STORED fails the handshake, naming the reply."""
    with pytest.raises(AuthFailedError, match="unexpected reply") as info:
        await authenticate(ScriptedChannel(reply), CREDENTIALS)
    assert described in str(info.value)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "outcome",
    [
        ErrorReply("CLIENT_ERROR", "authentication failure"),
        ErrorReply("CLIENT_ERROR", "bad command line format"),
        ConnectionResetError("closed"),
        Status.EXISTS,
    ],
)
async def test_authenticate_never_shows_the_password(outcome: object) -> None:
    """Whatever the failure, no error text in the chain holds the password."""
    with pytest.raises(AuthError) as info:
        await authenticate(ScriptedChannel(outcome), CREDENTIALS)
    assert all(PASSWORD not in text for text in _texts(info.value))
    assert all(PASSWORD not in repr(arg) for arg in info.value.args)


@pytest.mark.asyncio
async def test_authenticate_encoder_error_does_not_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the encoder refuses the credentials, its message (which might quote them) is dropped."""

    def refuse(username: str, password: str) -> bytes:
        raise ValueError(f"cannot encode {password}")

    monkeypatch.setattr("emcache_auth._handshake.auth_command", refuse)
    channel = ScriptedChannel(Status.STORED)
    with pytest.raises(AuthError, match="'alice' cannot be sent") as info:
        await authenticate(channel, CREDENTIALS)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    assert channel.requests == []


@pytest.mark.asyncio
async def test_on_connect_step_authenticates_each_channel() -> None:
    """The step runs the handshake on whichever connection it is given."""
    step = on_connect_step(CREDENTIALS)
    first, second = ScriptedChannel(Status.STORED), ScriptedChannel(Status.STORED)
    await step(first)
    await step(second)
    assert len(first.requests) == len(second.requests) == 1


@pytest.mark.asyncio
async def test_on_connect_step_raises_like_authenticate() -> None:
    """A refusal inside the step propagates, so the pool fails that connection."""
    step = on_connect_step(CREDENTIALS)
    with pytest.raises(AuthFailedError):
        await step(ScriptedChannel(ErrorReply("CLIENT_ERROR", "authentication failure")))


def test_on_connect_step_repr_hides_the_password() -> None:
    """The step the pool holds does not show the password in its repr."""
    assert PASSWORD not in repr(on_connect_step(CREDENTIALS))


@pytest.mark.parametrize(
    "message", ["unauthenticated", "authentication failure", "bad authentication token format"]
)
def test_auth_required_error_explains_unauthenticated_replies(message: str) -> None:
    """A refusal by a server requiring auth becomes an error naming the missing credentials."""
    error = auth_required_error(ErrorReply("CLIENT_ERROR", message))
    assert isinstance(error, AuthRequiredError)
    assert isinstance(error, AuthFailedError)
    assert "requires authentication" in str(error)
    assert "without username and password" in str(error)
    assert f"CLIENT_ERROR {message}" in str(error)


@pytest.mark.parametrize(
    "reply",
    [
        Status.STORED,
        None,
        [],
        ErrorReply("CLIENT_ERROR", "bad data chunk"),
        ErrorReply("SERVER_ERROR", "unauthenticated"),
        ErrorReply("ERROR", ""),
    ],
)
def test_auth_required_error_ignores_other_replies(reply: object) -> None:
    """Replies that do not come from the authentication gate map to nothing."""
    assert auth_required_error(reply) is None
