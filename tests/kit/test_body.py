"""The rule for fields a body does not know, on every JSON body of the app, through the HTTP API:
Stellwerk's own bodies refuse them (422 naming the field), documented client bodies accept and
ignore them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
from fastapi.routing import APIRoute, iter_route_contexts

from stellwerk.app import create_app
from stellwerk.config import Settings
from stellwerk.kit.body import LenientBody, StrictBody
from stellwerk.runtime import Runtime
from tests.factories import admin_headers, create_api_key

# The bodies Stellwerk defines itself: the plain REST entities beside the documented endpoints,
# its identity, operations and own admin APIs. Every other JSON body is a documented one.
STRICT = {
    "POST /api/auth/login",
    "POST /api/auth/password",
    "POST /api/tokens",
    "POST /api/admin/users",
    "PUT /api/admin/users/{user_id}",
    "POST /api/admin/plans",
    "PUT /api/admin/plans/{plan_id}",
    "POST /api/operations/probe",
    "POST /api/operations/{operation_id}/answer",
    # A project's life after provisioning: Stellwerk's own calls.
    "POST /api/projects/{project_id}/redeploy",
    "PATCH /api/projects/{project_id}",
    "POST /repository/repositories",
    "PUT /repository/repositories/{repository_id}",
    "POST /api/customers",
    "PUT /api/customers/{customer_id:int}",
    "POST /api/licenses",
    "PUT /api/licenses/{license_id:int}",
    "POST /api/releases",
    "PUT /api/releases/{release_id:int}",
    "POST /api/client-configs",
    "PUT /api/client-configs/{config_id:int}",
    "POST /api/resources",
    "PUT /api/resources/{resource_id:int}",
    "POST /api/resources/release",
    "PUT /leads/api/institutions/{institution_id:int}",
    "POST /leads/api/contacts",
    "PUT /leads/api/contacts/{contact_id:int}",
    "POST /leads/api/contacts/{contact_id:int}/notes",
    "PUT /leads/api/notes/{note_id:int}",
    # Redirect portfolio calls the NexRedirect API does not document: editing, groups, bulk.
    "POST /api/v1/domains/bulk",
    "PATCH /api/v1/domains/{domain_id}",
    "PUT /api/v1/domains/{domain_id}",
    "POST /api/v1/groups",
    "PATCH /api/v1/groups/{group_id}",
    "POST /api/admin/webhooks",
    "PUT /api/admin/webhooks/{webhook_id:int}",
    "PUT /api/admin/notifications/{event}",
}
UNKNOWN = "zz_not_a_field"


@dataclass(frozen=True)
class Body:
    route: str  # "POST /api/customers"
    path: str  # with its parameters filled in
    model: type

    @property
    def method(self) -> str:
        return self.route.split(" ", 1)[0]


def _bodies() -> list[Body]:
    app = create_app(Settings(_env_file=None, workers=False))
    found = []
    for context in iter_route_contexts(app.router.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or route.body_field is None:
            continue
        model = route.body_field.field_info.annotation
        if not route.include_in_schema:
            continue  # the web UI's forms
        path = route.path
        for parameter in route.dependant.path_params:
            is_uuid = parameter.field_info.annotation is uuid.UUID
            value = str(uuid.UUID(int=1)) if is_uuid else "1"
            path = path.replace("{" + parameter.name + "}", value)
            path = path.replace("{" + parameter.name + ":int}", value)
        for method in sorted(route.methods):
            found.append(Body(f"{method} {route.path}", path, model))
    return found


BODIES = _bodies()


def test_every_body_takes_the_base_of_its_kind() -> None:
    wrong = []
    for body in BODIES:
        expected = StrictBody if body.route in STRICT else LenientBody
        if not (isinstance(body.model, type) and issubclass(body.model, expected)):
            wrong.append(f"{body.route}: {body.model.__name__} is not a {expected.__name__}")
    assert not wrong, "\n".join(wrong)
    assert {b.route for b in BODIES} >= STRICT


async def test_an_unknown_field_is_refused_or_ignored(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    headers = {**await admin_headers(runtime), "X-API-Key": await create_api_key(runtime)}
    wrong = []
    for body in BODIES:
        response = await client.request(body.method, body.path, json={UNKNOWN: 1}, headers=headers)
        if response.status_code >= 500:
            wrong.append(f"{body.route}: {response.status_code} {response.text}")
        elif body.route in STRICT:
            errors = response.json().get("errors") or [] if response.status_code == 422 else []
            if UNKNOWN not in [error["field"] for error in errors]:
                wrong.append(f"{body.route} took it: {response.status_code} {response.text}")
        elif UNKNOWN in response.text:
            wrong.append(f"{body.route} refused it: {response.status_code} {response.text}")
    assert not wrong, "\n".join(wrong)
