"""An operation's page shows the question it waits on, with one button per answer, and the
answer lets it go on."""

from __future__ import annotations

import asyncio

import httpx

from stellwerk.runtime import Runtime
from tests.factories import create_admin
from tests.web.test_router import log_in


async def _progress(client: httpx.AsyncClient, operation_id: str, until: str) -> str:
    html = ""
    for _ in range(300):
        html = (await client.get(f"/ui/operations/{operation_id}/progress")).text
        if until in html:
            return html
        await asyncio.sleep(0.1)
    raise AssertionError(f"never showed {until!r}: {html}")


async def test_a_question_is_asked_and_answered_on_the_operation_page(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await create_admin(runtime, username="asker")
    csrf = await log_in(client, "asker")
    started = await client.post(
        "/api/operations/probe",
        json={"steps": 2, "seconds": 0, "ask": True},
        headers={"X-CSRF-Token": csrf},
    )
    assert started.status_code == 202, started.text
    operation_id = started.json()["id"]
    html = await _progress(client, operation_id, "Waiting for your answer")
    assert "The probe ran step 1 of 2: go on?" in html
    assert 'name="answer" value="continue"' in html
    assert 'name="answer" value="stop"' in html
    assert f'action="/ui/operations/{operation_id}/answer"' in html

    wrong = await client.post(
        f"/ui/operations/{operation_id}/answer",
        data={"prompt_id": "go_on", "answer": "maybe", "csrf_token": csrf},
    )
    assert wrong.status_code == 303
    assert "Not answered" in (await client.get(wrong.headers["location"])).text
    answered = await client.post(
        f"/ui/operations/{operation_id}/answer",
        data={"prompt_id": "go_on", "answer": "continue", "csrf_token": csrf},
    )
    assert answered.status_code == 303
    done = await _progress(client, operation_id, 'data-final="true"')
    assert 'class="status completed"' in done
    assert "Waiting for your answer" not in done
