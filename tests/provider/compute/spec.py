"""Validating sandbox responses against the providers' OpenAPI documents, the copies shipped
beside the sandboxes (`provider/<kind>/<name>/spec.json`), with the sandboxes' own checker."""

from __future__ import annotations

from typing import Any

from stellwerk.provider.sandbox.openapi import Spec

PACKAGES = {
    "hetzner.json": ("stellwerk.provider.compute.hetzner", "/v1"),
    "digitalocean.yaml": ("stellwerk.provider.compute.digitalocean", ""),
    "coolify.json": ("stellwerk.provider.paas.coolify", "/api/v1"),
}


def available(name: str) -> bool:
    return name in PACKAGES


def load(name: str) -> Spec:
    package, prefix = PACKAGES[name]
    return Spec.load(package, prefix=prefix)


def validate(name: str, pointer: str, instance: Any) -> None:
    """Raise `AssertionError` unless `instance` matches `#<pointer>` in the spec."""
    problems = load(name).problems(pointer, instance)
    assert not problems, problems


def response_schema(name: str, path: str, method: str, status: str) -> str:
    """The JSON pointer of a documented response body's schema (following a `$ref`d response)."""
    document = load(name).document
    response = document["paths"][path][method]["responses"][status]
    if "$ref" in response:
        base = str(response["$ref"]).removeprefix("#")
    else:
        escaped = path.replace("~", "~0").replace("/", "~1")
        base = f"/paths/{escaped}/{method}/responses/{status}"
    return f"{base}/content/application~1json/schema"
