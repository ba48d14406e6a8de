"""HTTP for servers (multi-provider-vps-api.md): providers and plans (admin), instances, actions
and the provider catalogs."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response, status

from stellwerk.database import SessionDep
from stellwerk.exceptions import ValidationFailed
from stellwerk.identity.auth import RuntimeDep
from stellwerk.kit.pagination import PageParams, page_params
from stellwerk.kit.time import iso
from stellwerk.models import ServiceProvider, VpsInstance, VpsPlan
from stellwerk.provider import check as check_kit
from stellwerk.provider import registry
from stellwerk.provider.compute.base import IMAGE_TYPES
from stellwerk.provider.registry import CatalogRoutes
from stellwerk.server.auth import AdminUser, ServerReader, ServerWriter, order_rules, sees_costs
from stellwerk.server.schemas import (
    ActionRequest,
    CatalogRead,
    CheckEnvelope,
    CheckRead,
    InstanceCreate,
    InstanceDetail,
    InstanceEnvelope,
    InstanceList,
    InstanceRead,
    IntegrationList,
    IntegrationRead,
    Message,
    PlanCreate,
    PlanEnvelope,
    PlanList,
    PlanRead,
    PlanUpdate,
    ProviderCreate,
    ProviderEnvelope,
    ProviderList,
    ProviderRead,
    ProviderUpdate,
    SecretsRotated,
)
from stellwerk.server.service import (
    catalog_service,
    hourly,
    instance_service,
    money,
    plan_service,
    provider_service,
)
from stellwerk.surface import Surface, error_responses

router = APIRouter(tags=["servers"], responses=error_responses(Surface.SERVER))

ProviderIdQuery = Annotated[
    uuid.UUID | None, Query(description="Specific provider ID to use (default: the first active)")
]


def provider_read(provider: ServiceProvider) -> ProviderRead:
    return ProviderRead(
        id=provider.id,
        name=provider.name,
        type=provider.type,
        active=provider.active,
        configuration=provider.configuration,
        created_at=iso(provider.created_at) or "",
        updated_at=iso(provider.updated_at) or "",
    )


def plan_read(
    plan: VpsPlan, provider_type: str | None = None, *, with_costs: bool = True
) -> PlanRead:
    monthly = money(plan.base_price + plan.markup_price)
    return PlanRead(
        id=plan.id,
        provider_id=plan.provider_id,
        provider_type=provider_type,
        provider_plan_id=plan.provider_plan_id,
        base_price=float(plan.base_price) if with_costs else None,
        markup_price=float(plan.markup_price) if with_costs else None,
        price_monthly=float(monthly),
        price_hourly=float(hourly(monthly)),
        specifications=plan.specifications,
        active=plan.active,
        created_at=iso(plan.created_at) or "",
        updated_at=iso(plan.updated_at) or "",
    )


def instance_read(instance: VpsInstance) -> InstanceRead:
    return InstanceRead(
        id=instance.id,
        provider_id=instance.provider_id,
        provider_type=instance.provider_type,
        provider_instance_id=instance.provider_instance_id,
        label=instance.label,
        status=instance.status,
        ip_address=instance.ip_address,
        ipv6_address=instance.ipv6_address,
        region=instance.region,
        type=instance.plan_type,
        image=instance.image,
        plan_specs=instance.plan_specs,
        hourly_rate=float(instance.hourly_rate) if instance.hourly_rate is not None else None,
        monthly_rate=float(instance.monthly_rate) if instance.monthly_rate is not None else None,
        operation_id=instance.operation_id,
        error=instance.error,
        created_at=iso(instance.created_at) or "",
        updated_at=iso(instance.updated_at) or "",
    )


# --- providers (admin) ----------------------------------------------------------------------


@router.get("/api/admin/providers", response_model=ProviderList)
async def list_providers(subject: AdminUser, session: SessionDep) -> ProviderList:
    """All configured providers (API keys are never returned)."""
    return ProviderList(providers=[provider_read(p) for p in await provider_service.list(session)])


@router.post(
    "/api/admin/providers", response_model=ProviderEnvelope, status_code=status.HTTP_201_CREATED
)
async def create_provider(
    body: ProviderCreate, subject: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> ProviderEnvelope:
    """Add a provider; its API key is checked against the provider and stored encrypted."""
    provider = await provider_service.create(
        session,
        subject.actor,
        settings=runtime.settings,
        sandboxes=runtime.sandboxes,
        name=body.name,
        type=body.type,
        api_key=body.api_key,
        configuration=body.configuration,
        active=body.active,
    )
    return ProviderEnvelope(provider=provider_read(provider))


def check_read(report: check_kit.Report) -> CheckRead:
    return CheckRead.model_validate(report.as_dict())


@router.post("/api/admin/providers/{provider_id}/check", response_model=CheckEnvelope)
async def check_provider(
    provider_id: uuid.UUID, subject: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> CheckEnvelope:
    """Read-only calls with the provider's stored key: does it work, and what to fix if not
    (the key, its scopes, the clock). Nothing is created."""
    provider = await provider_service.get(session, provider_id)
    report = await provider_service.check(session, runtime.settings, provider)
    return CheckEnvelope(check=check_read(report))


@router.post("/api/admin/providers/rotate-secrets", response_model=SecretsRotated)
async def rotate_secrets(
    subject: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> SecretsRotated:
    """Re-encrypt every provider API key under a new key generation; the old key decrypts
    nothing after."""
    generation = await provider_service.rotate_secrets(
        session, subject.actor, settings=runtime.settings
    )
    count = len(await provider_service.list(session))
    return SecretsRotated(providers=count, generation=generation)


@router.post("/api/admin/providers/{provider_id}/import", response_model=list[InstanceRead])
async def import_servers(
    provider_id: uuid.UUID,
    subject: AdminUser,
    session: SessionDep,
    runtime: RuntimeDep,
    owner: Annotated[
        str | None,
        Query(max_length=150, description="The username the servers go to (default: you)"),
    ] = None,
) -> list[InstanceRead]:
    """Adopt the servers that exist at the provider but not here (existing installations)."""
    user = await instance_service.owner(session, owner) if owner else subject.user
    adopted = await instance_service.import_servers(
        session, subject.actor, settings=runtime.settings, provider_id=provider_id, owner=user
    )
    return [instance_read(i) for i in adopted]


@router.get("/api/admin/providers/integrations", response_model=IntegrationList)
async def list_integrations(subject: AdminUser, runtime: RuntimeDep) -> IntegrationList:
    """The registrar, DNS and platform providers the settings configure, and where they
    answer (their sandbox in sandbox mode)."""
    return IntegrationList(
        integrations=[
            IntegrationRead.model_validate(i)
            for i in provider_service.integrations(runtime.settings)
        ]
    )


@router.post("/api/admin/providers/integrations/{name}/check", response_model=CheckEnvelope)
async def check_integration(name: str, subject: AdminUser, runtime: RuntimeDep) -> CheckEnvelope:
    """Read-only calls with the configured credentials of `inwx`, `coolify`, `hetzner` (DNS)
    or `powerdns`: the login and 2FA state, the token's abilities, the clock, the limits."""
    report = await provider_service.check_integration(runtime.settings, name)
    return CheckEnvelope(check=check_read(report))


@router.get("/api/admin/providers/{provider_id}", response_model=ProviderEnvelope)
async def get_provider(
    provider_id: uuid.UUID, subject: AdminUser, session: SessionDep
) -> ProviderEnvelope:
    return ProviderEnvelope(
        provider=provider_read(await provider_service.get(session, provider_id))
    )


@router.put("/api/admin/providers/{provider_id}", response_model=ProviderEnvelope)
async def update_provider(
    provider_id: uuid.UUID,
    body: ProviderUpdate,
    subject: AdminUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ProviderEnvelope:
    """Change name, API key (checked again), active or configuration; clears its catalog cache."""
    provider = await provider_service.get(session, provider_id)
    provider = await provider_service.update(
        session,
        subject.actor,
        provider,
        settings=runtime.settings,
        sandboxes=runtime.sandboxes,
        name=body.name,
        api_key=body.api_key,
        active=body.active,
        configuration=body.configuration,
    )
    return ProviderEnvelope(provider=provider_read(provider))


@router.delete("/api/admin/providers/{provider_id}", response_model=Message)
async def delete_provider(
    provider_id: uuid.UUID, subject: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> Message:
    """Remove a provider; its plans go with it, its instances stay (without a provider)."""
    provider = await provider_service.get(session, provider_id)
    await provider_service.delete(session, subject.actor, provider, settings=runtime.settings)
    return Message(message="Provider deleted successfully")


@router.delete("/api/admin/providers/{provider_id}/cache", response_model=Message)
async def clear_provider_cache(
    provider_id: uuid.UUID, subject: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> Message:
    """Forget the provider's cached catalogs now."""
    provider = await provider_service.get(session, provider_id)
    await provider_service.clear_cache(session, subject.actor, provider, settings=runtime.settings)
    return Message(message="Cache cleared successfully")


# --- plans (admin) --------------------------------------------------------------------------


async def _types(session: SessionDep) -> dict[uuid.UUID, str]:
    return {p.id: p.type for p in await provider_service.list(session)}


@router.get("/api/admin/plans", response_model=PlanList)
async def list_plans(
    subject: AdminUser,
    session: SessionDep,
    provider_id: Annotated[uuid.UUID | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
) -> PlanList:
    types = await _types(session)
    plans = await plan_service.list(session, provider_id=provider_id, active=active)
    return PlanList(
        plans=[plan_read(p, types.get(p.provider_id or uuid.UUID(int=0))) for p in plans]
    )


@router.post("/api/admin/plans", response_model=PlanEnvelope, status_code=status.HTTP_201_CREATED)
async def create_plan(
    body: PlanCreate, subject: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> PlanEnvelope:
    """Offer a provider plan at base + markup per month (specifications default to the
    provider's)."""
    plan = await plan_service.create(
        session,
        subject.actor,
        settings=runtime.settings,
        provider_id=body.provider_id,
        provider_plan_id=body.provider_plan_id,
        base_price=body.base_price,
        markup_price=body.markup_price,
        specifications=body.specifications,
        active=body.active,
    )
    types = await _types(session)
    return PlanEnvelope(plan=plan_read(plan, types.get(body.provider_id)))


@router.get("/api/admin/plans/{plan_id}", response_model=PlanEnvelope)
async def get_plan(plan_id: uuid.UUID, subject: AdminUser, session: SessionDep) -> PlanEnvelope:
    plan = await plan_service.get(session, plan_id)
    types = await _types(session)
    return PlanEnvelope(plan=plan_read(plan, types.get(plan.provider_id or uuid.UUID(int=0))))


@router.put("/api/admin/plans/{plan_id}", response_model=PlanEnvelope)
async def update_plan(
    plan_id: uuid.UUID, body: PlanUpdate, subject: AdminUser, session: SessionDep
) -> PlanEnvelope:
    plan = await plan_service.update(
        session,
        subject.actor,
        await plan_service.get(session, plan_id),
        base_price=body.base_price,
        markup_price=body.markup_price,
        specifications=body.specifications,
        active=body.active,
    )
    types = await _types(session)
    return PlanEnvelope(plan=plan_read(plan, types.get(plan.provider_id or uuid.UUID(int=0))))


@router.delete("/api/admin/plans/{plan_id}", response_model=Message)
async def disable_plan(plan_id: uuid.UUID, subject: AdminUser, session: SessionDep) -> Message:
    """Disable a plan (instances on it keep their rates)."""
    await plan_service.update(
        session, subject.actor, await plan_service.get(session, plan_id), active=False
    )
    return Message(message="Plan disabled successfully")


# --- catalogs -------------------------------------------------------------------------------


async def _catalog(
    session: SessionDep,
    runtime: RuntimeDep,
    provider_type: str,
    provider_id: uuid.UUID | None,
    kind: str,
) -> list[dict[str, Any]]:
    _, items = await catalog_service.fetch(
        session,
        settings=runtime.settings,
        provider_type=provider_type,
        provider_id=provider_id,
        kind=kind,
    )
    return items


def _size(plan: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": plan["id"],
        "label": plan["label"],
        "vcpus": plan["vcpus"],
        "memory": plan["memory"],
        "disk": plan["disk"],
        "transfer": plan["transfer"],
        "price": {"hourly": plan["price_hourly"], "monthly": plan["price_monthly"]},
        "regions": plan["regions"],
        "available": plan["available"],
    }


def _image(image: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": image["id"],
        "slug": image["slug"],
        "label": image["label"],
        "description": image["description"],
        "distribution": image["distribution"],
        "public": image["public"],
        "minDiskSize": image["min_disk_size"],
        "type": image["type"],
    }


def _region(region: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": region["id"],
        "label": region["label"],
        "available": region["available"],
        "capabilities": region["capabilities"],
    }


def _app(app: dict[str, Any]) -> dict[str, Any]:
    return {
        "slug": app["slug"],
        "name": app["name"],
        "description": app["description"],
        "category": app["category"],
        "image_slug": app["image_slug"],
        "compatible_images": app["compatible_images"],
    }


def _stackscript(app: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(app["id"]) if str(app["id"]).isdecimal() else app["id"],
        "label": app["name"],
        "description": app["description"],
        "images": app["compatible_images"],
        "user_defined_fields": app["user_defined_fields"],
    }


def _filter_type(images: list[dict[str, Any]], type: str | None) -> list[dict[str, Any]]:
    if type is None:
        return images
    if type not in IMAGE_TYPES:
        raise ValidationFailed(
            f"type is one of {', '.join(IMAGE_TYPES)}", code="VALIDATION_ERROR", field="type"
        )
    return [i for i in images if i["type"] == type]


TypeQuery = Annotated[
    str | None, Query(description="Filter by type: `distribution`, `application`, `custom`")
]


def _catalog_routes(provider_type: str, routes: CatalogRoutes) -> None:
    """Register a provider's catalog endpoints (its registry entry names the path segments)."""
    prefix = f"/api/vps/{provider_type}"
    paths = {"plans": routes.plans, "regions": routes.regions}
    if routes.marketplace:
        paths["marketplace"] = routes.marketplace

    if "plans" in paths:
        key = routes.plans_key

        async def plans(
            subject: ServerReader,
            session: SessionDep,
            runtime: RuntimeDep,
            provider_id: ProviderIdQuery = None,
        ) -> dict[str, Any]:
            provider = await provider_service.resolve(
                session, provider_type=provider_type, provider_id=provider_id
            )
            # Without `read:providers`: only the sizes the plans offer, at the plan's price.
            items = await catalog_service.sizes(
                session, provider, settings=runtime.settings, with_costs=sees_costs(subject)
            )
            return {key: [_size(p) for p in items]}

        plans.__doc__ = f"{provider_type} plans ({key}), from the catalog cache."
        router.add_api_route(
            f"{prefix}/{paths['plans']}",
            plans,
            methods=["GET"],
            response_model=CatalogRead,
            name=f"{provider_type}_{paths['plans']}",
        )

    async def images(
        subject: ServerReader,
        session: SessionDep,
        runtime: RuntimeDep,
        provider_id: ProviderIdQuery = None,
        type: TypeQuery = None,
    ) -> dict[str, Any]:
        items = await _catalog(session, runtime, provider_type, provider_id, "images")
        return {"images": [_image(i) for i in _filter_type(items, type)]}

    images.__doc__ = f"{provider_type} OS images, from the catalog cache."
    router.add_api_route(
        f"{prefix}/images",
        images,
        methods=["GET"],
        response_model=CatalogRead,
        name=f"{provider_type}_images",
    )

    async def regions(
        subject: ServerReader,
        session: SessionDep,
        runtime: RuntimeDep,
        provider_id: ProviderIdQuery = None,
    ) -> dict[str, Any]:
        items = await _catalog(session, runtime, provider_type, provider_id, "regions")
        return {paths["regions"].replace("-", "_"): [_region(r) for r in items]}

    regions.__doc__ = f"{provider_type} regions, from the catalog cache."
    router.add_api_route(
        f"{prefix}/{paths['regions']}",
        regions,
        methods=["GET"],
        response_model=CatalogRead,
        name=f"{provider_type}_{paths['regions']}",
    )

    if "marketplace" in paths:
        segment = paths["marketplace"]

        async def marketplace(
            subject: ServerReader,
            session: SessionDep,
            runtime: RuntimeDep,
            provider_id: ProviderIdQuery = None,
        ) -> dict[str, Any]:
            items = await _catalog(session, runtime, provider_type, provider_id, "marketplace")
            if routes.marketplace_key == "stackscripts":
                return {"stackscripts": [_stackscript(a) for a in items]}
            return {"apps": [_app(a) for a in items]}

        marketplace.__doc__ = f"{provider_type} {segment}, from the catalog cache."
        router.add_api_route(
            f"{prefix}/{segment}",
            marketplace,
            methods=["GET"],
            response_model=CatalogRead,
            name=f"{provider_type}_{segment}",
        )


for _entry in registry.ENTRIES:
    if _entry.catalog is not None:
        _catalog_routes(_entry.name, _entry.catalog)


@router.get("/api/vps/plans", response_model=PlanList)
async def customer_plans(subject: ServerReader, session: SessionDep) -> PlanList:
    """The active plans with what a customer pays (`price_monthly`, `price_hourly`); base price
    and markup only for credentials holding `read:providers`."""
    types = await _types(session)
    plans = await plan_service.list(session, active=True)
    costs = sees_costs(subject)
    return PlanList(
        plans=[
            plan_read(p, types.get(p.provider_id or uuid.UUID(int=0)), with_costs=costs)
            for p in plans
        ]
    )


# --- instances ------------------------------------------------------------------------------


@router.post(
    "/api/vps",
    response_model=InstanceEnvelope,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "A replay of an earlier request with this Idempotency-Key"}},
)
async def create_instance(
    body: InstanceCreate,
    subject: ServerWriter,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> InstanceEnvelope:
    """Create a VPS at the chosen provider. Creation runs as an operation (`operation_id`); the
    instance is `provisioning` until the server runs. The same `Idempotency-Key` returns the
    same instance and never creates a second server."""
    instance, created = await instance_service.create(
        session,
        subject.actor,
        subject.user,
        settings=runtime.settings,
        body=body.model_dump(exclude_unset=False),
        idempotency_key=idempotency_key,
        rules=order_rules(subject, runtime.settings),
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return InstanceEnvelope(instance=instance_read(instance))


@router.get("/api/vps", response_model=InstanceList)
async def list_instances(
    subject: ServerReader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
) -> InstanceList:
    """Your instances, newest first (everyone's for staff and admins)."""
    rows, total = await instance_service.list(session, subject.principal, params=params)
    return InstanceList(
        instances=[instance_read(i) for i in rows],
        total=total,
        page=params.page,
        per_page=params.per_page,
        pages=max(1, -(-total // params.per_page)),
    )


@router.get("/api/vps/{instance_id}", response_model=InstanceDetail)
async def get_instance(
    instance_id: uuid.UUID, subject: ServerReader, session: SessionDep, runtime: RuntimeDep
) -> InstanceDetail:
    """One of your instances, as its provider reports it now."""
    instance = await instance_service.get(session, subject.principal, instance_id)
    instance = await instance_service.refresh(session, instance, settings=runtime.settings)
    return InstanceDetail(instance=instance_read(instance))


@router.post("/api/vps/{instance_id}/action", response_model=Message)
async def instance_action(
    instance_id: uuid.UUID,
    body: ActionRequest,
    subject: ServerWriter,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Message:
    """boot / power_on, shutdown, power_off, reboot, power_cycle (DigitalOcean only), delete."""
    instance = await instance_service.get(session, subject.principal, instance_id)
    await instance_service.action(
        session, subject.actor, instance, settings=runtime.settings, action=body.action
    )
    return Message(message=f"Action {body.action} initiated successfully")
