"""Sandboxes checked against their provider's OpenAPI document, in both directions.

`OpenApiCheck` wraps a sandbox app. Each JSON request body is validated against the operation's
request schema; a body the provider would refuse (a wrong type, a missing required field, a
field the operation does not have) is answered by the sandbox's `refuse` in the provider's own
words and status, and never reaches the sandbox. Each JSON answer the sandbox gives is validated
against the documented response for its status; an answer that does not match is a sandbox bug,
logged and turned into a 500 that says so, so tests fail where the sandbox drifts from the spec.

The documents are the providers' own (Hetzner Cloud, DigitalOcean, Coolify), shipped as
`spec.json` beside each sandbox. OpenAPI 3.0's `nullable` becomes JSON Schema's `null` type;
`quirks` patch the places where a document contradicts the provider's code, each naming why.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stellwerk.provider.sandbox.kit import _buffered

log = logging.getLogger("stellwerk.sandbox")

URI = "urn:provider-spec"
Quirk = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Problem:
    """One reason a body does not match: the field (dotted path, "" for the body) and why."""

    field: str
    message: str


# Answers a refused request: gets the problems, returns the provider's own error response.
Refuse = Callable[[list[Problem]], Response]


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` → JSON Schema (`type: [t, "null"]` or `anyOf` with null)."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _nullable(value) for key, value in node.items()}
    if converted.get("nullable") is True:
        del converted["nullable"]
        kind = converted.get("type")
        if isinstance(kind, str):
            converted["type"] = [kind, "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        elif not (isinstance(kind, list) and "null" in kind):
            return {"anyOf": [converted, {"type": "null"}]}
    return converted


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    literal_segments: int


class Spec:
    """An OpenAPI document ready to validate bodies: its operations and a `$ref` registry."""

    def __init__(
        self, document: dict[str, Any], *, prefix: str, quirks: Iterable[Quirk] = ()
    ) -> None:
        self.document = _nullable(document)
        for quirk in quirks:
            quirk(self.document)
        self.prefix = prefix.rstrip("/")
        self.registry: Registry = Registry().with_resource(
            URI, Resource.from_contents(self.document, default_specification=DRAFT202012)
        )
        operations = []
        for template, item in self.document.get("paths", {}).items():
            for method in item:
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
                literal = sum(1 for part in template.split("/") if part and "{" not in part)
                operations.append(Operation(method, template, re.compile(f"{regex}/?"), literal))
        # Literal paths first: `/applications/public` before `/applications/{uuid}`.
        self.operations = sorted(operations, key=lambda o: -o.literal_segments)

    @classmethod
    def load(cls, package: str, *, prefix: str, quirks: tuple[Quirk, ...] = ()) -> Spec:
        """The `spec.json` shipped in `package`, parsed once per process."""
        return _load(package, prefix, quirks)

    def operation(self, method: str, path: str) -> Operation | None:
        if self.prefix:
            if not path.startswith(self.prefix):
                return None
            path = path[len(self.prefix) :] or "/"
        method = method.lower()
        for candidate in self.operations:
            if candidate.method == method and candidate.pattern.fullmatch(path):
                return candidate
        return None

    def _node(self, pointer: str) -> Any:
        node: Any = self.document
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _deref(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node and len(node) == 1:
            node = self._node(str(node["$ref"]).removeprefix("#"))
        return node

    def request_pointer(self, op: Operation) -> str | None:
        body = self.document["paths"][op.template][op.method].get("requestBody")
        base = f"/paths/{_escape(op.template)}/{op.method}/requestBody"
        if isinstance(body, dict) and "$ref" in body:
            base = str(body["$ref"]).removeprefix("#")
            body = self._deref(body)
        if not isinstance(body, dict) or "application/json" not in body.get("content", {}):
            return None
        return f"{base}/content/application~1json/schema"

    def response_pointer(self, op: Operation, status: int) -> str | None:
        responses = self.document["paths"][op.template][op.method].get("responses", {})
        family = f"{str(status)[0]}XX"
        for key in (str(status), family, family.lower(), "default"):
            if key in responses:
                response = responses[key]
                base = f"/paths/{_escape(op.template)}/{op.method}/responses/{_escape(key)}"
                if "$ref" in response:
                    base = str(response["$ref"]).removeprefix("#")
                    response = self._deref(response)
                if "application/json" not in (response.get("content") or {}):
                    return None
                return f"{base}/content/application~1json/schema"
        return None

    @functools.cache  # noqa: B019 - one validator per schema, for the life of the spec
    def _validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{URI}#{pointer}"}, registry=self.registry)

    def known_fields(self, pointer: str) -> set[str] | None:
        """The top-level properties a request schema names (None: any are allowed)."""
        fields: set[str] = set()
        pending = [self._node(pointer)]
        while pending:
            node = self._deref(pending.pop())
            if not isinstance(node, dict):
                return None
            if node.get("additionalProperties") not in (None, False):
                return None
            fields.update(node.get("properties", {}))
            for key in ("allOf", "oneOf", "anyOf"):
                pending.extend(node.get(key, []))
            if "$ref" in node:
                pending.append({"$ref": node["$ref"]})
        return fields

    def problems(self, pointer: str, instance: Any, *, strict: bool = False) -> list[Problem]:
        found: list[Problem] = []
        if strict and isinstance(instance, dict):
            known = self.known_fields(pointer)
            if known is not None:
                found.extend(
                    Problem(name, "unknown field") for name in instance if name not in known
                )
        error = best_match(self._validator(pointer).iter_errors(instance))
        if error is not None:
            found.append(_problem(error))
        return found


def _problem(error: ValidationError) -> Problem:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required":
        missing = re.match(r"'([^']+)' is a required property", error.message)
        if missing:
            path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    return Problem(path, error.message)


class OpenApiCheck:
    """ASGI middleware: a sandbox's requests and answers checked against its spec."""

    def __init__(self, app: ASGIApp, *, spec: Spec, refuse: Refuse, strict: bool = True) -> None:
        self.app = app
        self.spec = spec
        self.refuse = refuse
        self.strict = strict

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        op = self.spec.operation(scope["method"], scope["path"])
        if op is None:
            await self.app(scope, receive, send)
            return
        body, receive = await _buffered(receive)
        pointer = self.spec.request_pointer(op)
        if pointer is not None and body.strip():
            try:
                payload = json.loads(body)
            except ValueError:
                payload = _NOT_JSON
            if payload is not _NOT_JSON:
                problems = self.spec.problems(pointer, payload, strict=self.strict)
                if problems:
                    await self.refuse(problems)(scope, receive, send)
                    return
        await self.app(scope, receive, self._checking(scope, op, send))

    def _checking(self, scope: Scope, op: Operation, send: Send) -> Send:
        start: list[Message] = []
        chunks: list[bytes] = []

        async def checked(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.append(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            head = start[0]
            body = b"".join(chunks)
            failure = self._answer_problems(scope, op, head, body)
            if failure is not None:
                await failure({"type": "http"}, _no_receive, send)
                return
            await send(head)
            await send({"type": "http.response.body", "body": body, "more_body": False})

        return checked

    def _answer_problems(
        self, scope: Scope, op: Operation, head: Message, body: bytes
    ) -> Response | None:
        status = int(head["status"])
        content_type = dict(head.get("headers", [])).get(b"content-type", b"")
        if not body or b"json" not in content_type:
            return None
        pointer = self.spec.response_pointer(op, status)
        if pointer is None:
            return None
        problems = self.spec.problems(pointer, json.loads(body))
        if not problems:
            return None
        detail = "; ".join(f"{p.field or 'body'}: {p.message}" for p in problems)
        log.error(
            "sandbox answer to %s %s does not match the spec: %s",
            scope["method"],
            scope["path"],
            detail,
            extra={"path": scope["path"], "status": status, "problems": detail},
        )
        return JSONResponse(
            {"message": f"The sandbox's answer does not match the provider's spec: {detail}"},
            status_code=500,
        )


_NOT_JSON = object()


@functools.cache
def _load(package: str, prefix: str, quirks: tuple[Quirk, ...]) -> Spec:
    text = resources.files(package).joinpath("spec.json").read_text(encoding="utf-8")
    return Spec(json.loads(text), prefix=prefix, quirks=quirks)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def drop_required(template: str, method: str, *names: str) -> Quirk:
    """A quirk: the document calls fields required that the provider does not require."""

    def quirk(document: dict[str, Any]) -> None:
        body = document["paths"][template][method]["requestBody"]["content"]["application/json"]
        schema = body["schema"]
        schema["required"] = [n for n in schema.get("required", []) if n not in names]

    return quirk


def allow_null(schema: str, *properties: str) -> Quirk:
    """A quirk: the document omits `nullable` on fields the provider answers with null."""

    def quirk(document: dict[str, Any]) -> None:
        props = document["components"]["schemas"][schema]["properties"]
        for name in properties:
            prop = props[name]
            kind = prop.get("type")
            if isinstance(kind, str):
                prop["type"] = [kind, "null"]
            elif isinstance(kind, list) and "null" not in kind:
                prop["type"] = [*kind, "null"]

    return quirk


def response_schema(template: str, method: str, status: str, schema: dict[str, Any]) -> Quirk:
    """A quirk: the document describes an answer the provider does not give."""

    def quirk(document: dict[str, Any]) -> None:
        response = document["paths"][template][method]["responses"][status]
        response["content"] = {"application/json": {"schema": schema}}

    return quirk


def field_errors(problems: Sequence[Problem]) -> dict[str, list[str]]:
    """Problems as Laravel-style `errors` (`{"field": ["message"]}`)."""
    errors: dict[str, list[str]] = {}
    for problem in problems:
        errors.setdefault(problem.field or "body", []).append(problem.message)
    return errors
