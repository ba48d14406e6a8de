"""Infrastructure failures are told apart from verdicts, and steps outlast them."""

from __future__ import annotations

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError

from stellwerk.kit.transient import is_infrastructure_error
from stellwerk.operation import workflow
from stellwerk.provider.error import API_ERROR, ProviderError


def _provider_failure(cause: BaseException) -> ProviderError:
    try:
        raise ProviderError(API_ERROR, "Coolify did not answer", provider="coolify") from cause
    except ProviderError as error:
        return error


def test_infrastructure_errors_are_told_apart() -> None:
    assert is_infrastructure_error(RedisConnectionError("refused"))
    assert is_infrastructure_error(ConnectionRefusedError())
    assert is_infrastructure_error(_provider_failure(httpx.ConnectError("refused")))
    assert is_infrastructure_error(OperationalError("SELECT 1", {}, ConnectionResetError()))
    assert not is_infrastructure_error(ValueError("a verdict"))
    assert not is_infrastructure_error(ProviderError(API_ERROR, "HTTP 422", provider="coolify"))
    assert not is_infrastructure_error(FileNotFoundError("/nowhere"))


async def test_steps_outlast_infrastructure_failures_but_not_verdicts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workflow, "INFRASTRUCTURE_BACKOFF_FIRST", 0.001)
    monkeypatch.setattr(workflow, "INFRASTRUCTURE_BACKOFF_MAX", 0.001)
    calls: list[str] = []

    async def flaky(failures: int) -> str:
        calls.append("call")
        if len(calls) <= failures:
            raise ConnectionRefusedError("the database went away")
        return "done"

    async def verdict() -> str:
        calls.append("call")
        raise ValueError("no")

    assert await workflow.outlast_infrastructure("test.flaky", flaky)(3) == "done"
    assert len(calls) == 4
    calls.clear()
    with pytest.raises(ValueError, match="no"):
        await workflow.outlast_infrastructure("test.verdict", verdict)()
    assert len(calls) == 1
    calls.clear()
    with pytest.raises(ConnectionRefusedError):
        await workflow.outlast_infrastructure("test.flaky", flaky)(100)
    assert len(calls) == workflow.INFRASTRUCTURE_ATTEMPTS
