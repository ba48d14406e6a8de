"""Request bodies: what happens to a field the body does not know.

Every JSON request body derives from one of two bases, and the base is the rule:

- `StrictBody`: a body Stellwerk defines itself (the plain REST entities next to the documented
  endpoints, and its own admin and identity APIs). A field it does not know is refused with 422
  naming the field, so a typo never silently does nothing.
- `LenientBody`: a body an API document defines and existing clients send (redirects `/api/v1`,
  servers `/api/vps` and `/api/admin/providers`, the license client API, the module manager,
  registrar, DNS and projects, and the license admin panel's documented calls). Fields the
  document does not name are accepted and ignored: clients may send more than the document shows.

Where two documented names exist for one field, the body takes both (`also_named`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError


class StrictBody(BaseModel):
    """A body Stellwerk defines: unknown fields are refused (422, naming them)."""

    model_config = ConfigDict(extra="forbid")


class LenientBody(BaseModel):
    """A documented client body: fields the document does not name are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")


def also_named(field: str, alias: str) -> Any:
    """A validator for a body where `alias` is another documented name of `field`.

    Declare both (the alias with `exclude=True`, so it never reaches a `model_dump`); a value
    sent under `alias` fills `field`. Sending both with different values is refused, naming
    `alias`.
    """

    def settle(data: Any) -> Any:
        if not isinstance(data, dict) or data.get(alias) is None:
            return data
        if field in data and data[field] is not None and data[field] != data[alias]:
            raise PydanticCustomError(
                "alias_conflict",
                "{alias} is another name for {same_as}: send one of them, or both alike",
                {"alias": alias, "field": alias, "same_as": field},
            )
        return {**data, field: data[alias]}

    return model_validator(mode="before")(settle)
