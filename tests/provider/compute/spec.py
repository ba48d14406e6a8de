"""Validating sandbox responses against the providers' OpenAPI documents in ../shared/specs.

OpenAPI 3.0 schemas are JSON Schema with `nullable`; they are turned into plain JSON Schema
(`nullable: true` → null allowed) and checked with `jsonschema` against the whole document, so
`$ref`s resolve as written."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SPECS = Path(__file__).resolve().parents[4] / "shared" / "specs"


def available(name: str) -> bool:
    return (SPECS / name).exists()


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _convert(v) for k, v in node.items() if k not in ("example", "examples")}
    if converted.pop("nullable", False):
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        else:
            return {"anyOf": [converted, {"type": "null"}]}
    return converted


@functools.cache
def _registry(name: str) -> Registry:
    path = SPECS / name
    if name.endswith(".json"):
        document = json.loads(path.read_text())
    else:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        document = yaml.load(path.read_text(), Loader=loader)
    resource = Resource.from_contents(_convert(document), default_specification=DRAFT7)
    return Registry().with_resource(f"urn:{name}", resource)


def validate(spec: str, pointer: str, instance: Any) -> None:
    """Raise `jsonschema.ValidationError` unless `instance` matches `#<pointer>` in `spec`."""
    validator = Draft7Validator({"$ref": f"urn:{spec}#{pointer}"}, registry=_registry(spec))
    validator.validate(instance)


def response_schema(spec: str, path: str, method: str, status: str) -> str:
    """The JSON pointer of a documented response body's schema (following a `$ref`d response)."""
    document = _registry(spec).contents(f"urn:{spec}")
    response = document["paths"][path][method]["responses"][status]
    if "$ref" in response:
        base = str(response["$ref"]).removeprefix("#")
    else:
        escaped = path.replace("~", "~0").replace("/", "~1")
        base = f"/paths/{escaped}/{method}/responses/{status}"
    return f"{base}/content/application~1json/schema"
