from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from stellwerk.kit.body import StrictBody

OperationStatus = Literal["queued", "running", "waiting", "completed", "failed", "cancelled"]


class PromptOption(BaseModel):
    id: str = Field(description="What to send as `answer`")
    label: str


class PromptRead(BaseModel):
    """A question the operation waits on (its status is `waiting`)."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(
        validation_alias=AliasChoices("prompt_id", "id"), description="What to send as `prompt_id`"
    )
    message: str
    options: list[PromptOption]
    asked_at: dt.datetime
    expires_at: dt.datetime = Field(description="Without an answer by then, the operation fails")


# Answers given in advance, by question id (a request's `answers`).
Answers = Annotated[
    dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=200)]],
    Field(max_length=20),
]


class AnswerFields(BaseModel):
    prompt_id: str | None = Field(
        default=None,
        max_length=64,
        description="The question's id; may be left out while exactly one is open",
    )
    answer: str = Field(min_length=1, max_length=200, description="The id of one option")


class AnswerRequest(AnswerFields, StrictBody):
    pass


class OperationEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    progress: int
    message: str
    step: str | None
    status: OperationStatus | None = None
    offset_seconds: float | None = Field(
        default=None, description="Seconds from the operation's creation to this event"
    )
    seconds: float | None = Field(
        default=None,
        description="How long the operation stayed at this point: seconds until the next event "
        "(until now while it is the latest of an unfinished operation; none for the last of a "
        "finished one)",
    )


class OperationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    status: OperationStatus
    progress: int
    message: str
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    target_type: str | None
    target_id: str | None
    owner_user_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    prompts: list[PromptRead] = Field(
        default_factory=list, description="The questions the operation waits on"
    )
    executor_id: str | None = Field(
        default=None, description="The worker that runs it (shown to staff and admins only)"
    )


class OperationDetail(OperationRead):
    events: list[OperationEventRead]
    duration_seconds: float | None = Field(
        default=None, description="From start to finish (to now while it runs)"
    )


class ProbeRequest(StrictBody):
    steps: int = 3
    seconds: float = 1.0
    idempotency_key: str | None = None
    ask: bool = Field(default=False, description="Stop after step 1 with a question")
    ask_timeout_seconds: float | None = Field(default=None, gt=0, le=86400)
    answers: Answers | None = Field(
        default=None, description="Answers given in advance, by question id (`go_on`)"
    )
