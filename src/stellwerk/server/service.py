"""Providers, plans, instances and catalogs: the logic behind the servers surface.

Provider calls happen outside the database's hands: a create runs as a durable operation (see
`server/workflow.py`), actions and reads call the provider directly, and every provider failure
arrives as a `ProviderError` with the documented code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.config import Settings
from stellwerk.database import after_commit
from stellwerk.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from stellwerk.identity.principal import Principal
from stellwerk.kit.pagination import PageParams
from stellwerk.models import ServiceProvider, User, VpsInstance, VpsPlan
from stellwerk.operation.service import operation as operation_service
from stellwerk.provider import check as check_kit
from stellwerk.provider import connect, registry
from stellwerk.provider.compute.base import Image, MarketplaceApp, Plan, Region, Server
from stellwerk.provider.error import (
    INVALID_ACTION,
    MISSING_CREDENTIALS,
    NOT_FOUND,
    PROVIDER_NOT_FOUND,
    VALIDATION_ERROR,
    ProviderError,
)
from stellwerk.server import events as server_events
from stellwerk.server.compute import (
    catalog_cache,
    check_api_url,
    connected,
    current_endpoint,
    endpoint_for,
    secret_box,
)
from stellwerk.server.repository import (
    InstanceRepository,
    OwnerRepository,
    PlanRepository,
    ProviderRepository,
)
from stellwerk.server.secrets import SecretBox, SecretUnreadable

log = logging.getLogger(__name__)

CREATE_KIND = "server.create"
# Named by the servers API but not supported (yet): refused as such, not as unknown.
ANNOUNCED_TYPES = ("aws", "gcp")
HOURS_PER_MONTH = 672  # DigitalOcean's and Linode's monthly cap: 4 weeks of hours
ACTIONS = {
    "boot": "power_on",
    "power_on": "power_on",
    "shutdown": "shutdown",
    "power_off": "power_off",
    "reboot": "reboot",
    "power_cycle": "power_cycle",
    "delete": "delete",
}
TRANSITIONAL = {
    "power_on": "starting",
    "shutdown": "stopping",
    "power_off": "stopping",
    "reboot": "rebooting",
    "power_cycle": "rebooting",
}
# Adapter field names → the request body's names (multi-provider-vps-api.md).
BODY_FIELDS = {
    "plan": "type",
    "ssh_keys": "sshKeys",
    "name": "label",
    "root_password": "rootPassword",
    "stackscript_id": "stackscriptId",
    "app": "appSlug",
}
LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{1,62}[A-Za-z0-9])$")
TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_.-]{0,63}$")


def as_body_field(error: ProviderError) -> ProviderError | ValidationFailed:
    """A provider's verdict on our input becomes a validation error naming the body's field."""
    if error.code != VALIDATION_ERROR:
        return error
    field = BODY_FIELDS.get(error.field or "", error.field)
    return ValidationFailed(
        f"{error.provider}: {error.message}", code=VALIDATION_ERROR, field=field
    )


def _known_types() -> tuple[str, ...]:
    return (*registry.compute_types(), *ANNOUNCED_TYPES)


def money(value: Decimal | float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def hourly(monthly: Decimal) -> Decimal:
    return (monthly / HOURS_PER_MONTH).quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)


# --- providers ------------------------------------------------------------------------------


class ProviderService:
    async def list(self, session: AsyncSession) -> Sequence[ServiceProvider]:
        return await ProviderRepository(session).list()

    async def get(self, session: AsyncSession, provider_id: uuid.UUID) -> ServiceProvider:
        provider = await ProviderRepository(session).get(provider_id)
        if provider is None:
            raise ProviderError(
                PROVIDER_NOT_FOUND,
                f"Provider {provider_id} not found",
                provider="stellwerk",
                field="provider_id",
            )
        return provider

    async def resolve(
        self,
        session: AsyncSession,
        *,
        provider_type: str | None,
        provider_id: uuid.UUID | None,
    ) -> ServiceProvider:
        """The provider a request names, or the first active one of its type."""
        if provider_type is not None and provider_type not in _known_types():
            raise ValidationFailed(
                f"provider_type is one of {', '.join(registry.compute_types())}",
                code=VALIDATION_ERROR,
                field="provider_type",
            )
        if provider_id is not None:
            provider = await self.get(session, provider_id)
            if provider_type is not None and provider.type != provider_type:
                raise ValidationFailed(
                    f"Provider {provider_id} is a {provider.type} provider, not {provider_type}",
                    code=VALIDATION_ERROR,
                    field="provider_type",
                )
            return provider
        if provider_type is None:
            raise ValidationFailed(
                "Name a provider_id or a provider_type", code=VALIDATION_ERROR, field="provider_id"
            )
        candidates = await ProviderRepository(session).list(type=provider_type)
        active = [p for p in candidates if p.active]
        if active:
            return active[0]
        if candidates:
            return candidates[0]  # its inactivity is reported when it is used
        raise ProviderError(
            MISSING_CREDENTIALS,
            f"No {provider_type} provider is configured",
            provider=provider_type,
            field="provider_id",
        )

    async def check(
        self, session: AsyncSession, settings: Settings, provider: ServiceProvider
    ) -> check_kit.Report:
        """`stellwerk providers check` for one provider row: read-only calls with its key."""
        try:
            token = secret_box(settings).decrypt(provider.api_key_encrypted)
        except SecretUnreadable:
            report = check_kit.Report(
                provider=provider.type,
                title=registry.entry(provider.type).title,
                label=provider.name,
                url=current_endpoint(provider, settings),
            )
            report.fail(
                "The stored API key cannot be decrypted with this installation's key",
                "Store the key again (PUT /api/admin/providers/{id} with api_key)",
            )
            return report.settle()
        return await check_kit.check_compute(
            provider.type,
            token=token,
            base_url=current_endpoint(provider, settings),
            label=provider.name,
        )

    async def check_all(
        self, session: AsyncSession, settings: Settings
    ) -> Sequence[check_kit.Report]:
        return [
            await self.check(session, settings, provider)
            for provider in await ProviderRepository(session).list()
            if provider.type in registry.compute_types()
        ]

    @staticmethod
    def integrations(settings: Settings) -> Sequence[dict[str, Any]]:
        """The settings-configured providers (registrar, DNS, platform) and where they answer."""
        found = []
        for entry in registry.settings_providers():
            configured = bool(entry.configured and entry.configured(settings))
            try:
                point = connect.endpoint(settings, entry.name)
            except ProviderError:
                point = None
            found.append(
                {
                    "name": entry.name,
                    "title": entry.title,
                    "kinds": [k for k in entry.kinds if k != "compute"],
                    "configured": configured,
                    "sandbox": bool(point and point.sandbox),
                    "url": point.url if point else None,
                    "settings": entry.settings_hint,
                }
            )
        return found

    @staticmethod
    async def check_integration(settings: Settings, name: str) -> check_kit.Report:
        entry = registry.find(name)
        if entry is None or entry.configured is None:
            known = ", ".join(e.name for e in registry.settings_providers())
            raise ProviderError(
                PROVIDER_NOT_FOUND,
                f"No integration {name!r} (known: {known})",
                provider="stellwerk",
                field="name",
            )
        return await check_kit.check_settings_provider(settings, name)

    async def key_generation(self, session: AsyncSession) -> int:
        """The key generation new provider keys are encrypted under."""
        return await self._generation(session)

    @classmethod
    def checked_configuration(cls, configuration: dict[str, Any]) -> dict[str, Any]:
        """A provider's configuration as it is stored; `ValidationFailed` when it is not one."""
        return cls._check_configuration(configuration)

    async def _generation(self, session: AsyncSession) -> int:
        providers = await ProviderRepository(session).list()
        generations = [
            secret_box_generation(p.api_key_encrypted) for p in providers if p.api_key_encrypted
        ]
        return max(generations, default=1)

    @staticmethod
    def _check_type(provider_type: str) -> None:
        if provider_type not in _known_types():
            raise ValidationFailed(
                f"type is one of {', '.join(registry.compute_types())}",
                code=VALIDATION_ERROR,
                field="type",
            )
        if provider_type not in registry.compute_types():
            raise ValidationFailed(
                f"{provider_type} is not supported yet; use one of "
                f"{', '.join(registry.compute_types())}",
                code=VALIDATION_ERROR,
                field="type",
            )

    @staticmethod
    def _check_configuration(configuration: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(configuration, default=str)) > 10_000:
            raise ValidationFailed(
                "configuration is at most 10 kB", code=VALIDATION_ERROR, field="configuration"
            )
        if configuration.get("api_url") is not None:
            try:
                configuration = {
                    **configuration,
                    "api_url": check_api_url(configuration["api_url"]),
                }
            except ProviderError as error:
                raise as_body_field(error) from error
        return configuration

    @staticmethod
    async def _verify(
        provider_type: str, api_key: str, endpoint: str | None, settings: Settings
    ) -> None:
        compute = connect.open_compute(
            provider_type,
            token=api_key,
            limiter=connect.limiter(settings.redis_url),
            base_url=endpoint,
            max_attempts=2,
        )
        try:
            await compute.verify_credentials()
        except ProviderError as error:
            if error.code == "INVALID_CREDENTIALS":
                error.field = "api_key"
                error.message = f"The {provider_type} API rejected this API key ({error.message})"
            raise
        finally:
            await compute.aclose()

    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        settings: Settings,
        sandboxes: dict[str, str],
        name: str,
        type: str,
        api_key: str | None,
        configuration: dict[str, Any],
        active: bool = True,
    ) -> ServiceProvider:
        self._check_type(type)
        if not api_key or not api_key.strip():
            raise ProviderError(
                MISSING_CREDENTIALS, "api_key is required", provider=type, field="api_key"
            )
        configuration = self._check_configuration(configuration)
        endpoint = endpoint_for(type, configuration, settings, sandboxes)
        await self._verify(type, api_key.strip(), endpoint, settings)
        provider = ServiceProvider(
            name=name.strip(),
            type=type,
            api_key_encrypted=secret_box(settings).encrypt(
                api_key.strip(), generation=await self._generation(session)
            ),
            configuration=configuration,
            active=active,
            endpoint=endpoint,
        )
        await ProviderRepository(session).add(provider)
        await audit.record(
            session,
            actor,
            "provider.create",
            target_type="service_provider",
            target_id=provider.id,
            detail={"name": provider.name, "type": type, "configuration": configuration},
        )
        return provider

    async def update(
        self,
        session: AsyncSession,
        actor: Actor,
        provider: ServiceProvider,
        *,
        settings: Settings,
        sandboxes: dict[str, str],
        name: str | None = None,
        api_key: str | None = None,
        active: bool | None = None,
        configuration: dict[str, Any] | None = None,
    ) -> ServiceProvider:
        changed: dict[str, Any] = {}
        endpoint = provider.endpoint
        if configuration is not None:
            configuration = self._check_configuration(configuration)
            endpoint = endpoint_for(provider.type, configuration, settings, sandboxes)
        if api_key is not None or endpoint != provider.endpoint:
            key = api_key.strip() if api_key is not None else None
            if key is not None and not key:
                raise ProviderError(
                    MISSING_CREDENTIALS, "api_key is empty", provider=provider.type, field="api_key"
                )
            await self._verify(
                provider.type,
                key or secret_box(settings).decrypt(provider.api_key_encrypted),
                endpoint if configuration is not None else current_endpoint(provider, settings),
                settings,
            )
            if key is not None:
                provider.api_key_encrypted = secret_box(settings).encrypt(
                    key, generation=await self._generation(session)
                )
                changed["api_key"] = True
        if name is not None:
            provider.name = name.strip()
            changed["name"] = provider.name
        if configuration is not None:
            provider.configuration = configuration
            provider.endpoint = endpoint
            changed["configuration"] = configuration
        if active is not None and active != provider.active:
            provider.active = active
            changed["active"] = active
        await ProviderRepository(session).flush()
        await audit.record(
            session,
            actor,
            "provider.update",
            target_type="service_provider",
            target_id=provider.id,
            detail=changed,
        )
        self._invalidate_after_commit(session, settings, provider.id)
        return provider

    async def delete(
        self, session: AsyncSession, actor: Actor, provider: ServiceProvider, *, settings: Settings
    ) -> None:
        provider_id = provider.id
        await ProviderRepository(session).delete(provider)
        await audit.record(
            session,
            actor,
            "provider.delete",
            target_type="service_provider",
            target_id=provider_id,
            detail={"name": provider.name, "type": provider.type},
        )
        self._invalidate_after_commit(session, settings, provider_id)

    async def clear_cache(
        self, session: AsyncSession, actor: Actor, provider: ServiceProvider, *, settings: Settings
    ) -> None:
        await catalog_cache(settings).invalidate(provider.id)
        await audit.record(
            session,
            actor,
            "provider.cache_clear",
            target_type="service_provider",
            target_id=provider.id,
        )

    @staticmethod
    def _invalidate_after_commit(
        session: AsyncSession, settings: Settings, provider_id: uuid.UUID
    ) -> None:
        cache = catalog_cache(settings)

        async def invalidate() -> None:
            await cache.invalidate(provider_id)

        after_commit(session, invalidate)

    async def rotate_secrets(
        self, session: AsyncSession, actor: Actor, *, settings: Settings
    ) -> int:
        """Re-encrypt every provider key under a new key; returns the new generation."""
        box = secret_box(settings)
        providers = await ProviderRepository(session).list()
        generation = await self._generation(session) + 1
        for provider in providers:
            provider.api_key_encrypted = box.rotate(
                provider.api_key_encrypted, to_generation=generation
            )
        await ProviderRepository(session).flush()
        await audit.record(
            session,
            actor,
            "provider.secrets_rotate",
            target_type="service_provider",
            detail={"providers": len(providers), "generation": generation},
        )
        return generation


def secret_box_generation(stored: str) -> int:
    try:
        return SecretBox.generation_of(stored)
    except SecretUnreadable:
        return 1


# --- catalogs -------------------------------------------------------------------------------


class CatalogService:
    async def fetch(
        self,
        session: AsyncSession,
        *,
        settings: Settings,
        provider_type: str,
        provider_id: uuid.UUID | None,
        kind: str,
    ) -> tuple[ServiceProvider, list[dict[str, Any]]]:
        """A catalog (plans, images, regions, marketplace) of the named or default provider."""
        provider = await provider_service.resolve(
            session, provider_type=provider_type, provider_id=provider_id
        )
        return provider, await self.of(provider, settings=settings, kind=kind)

    async def sizes(
        self,
        session: AsyncSession,
        provider: ServiceProvider,
        *,
        settings: Settings,
        with_costs: bool,
    ) -> list[dict[str, Any]]:
        """The provider's sizes as the caller may see them: every size at the provider's price
        (`with_costs`), or only the sizes an active plan offers, at the plan's price."""
        items = await self.of(provider, settings=settings, kind="plans")
        if with_costs:
            return items
        plans = {
            p.provider_plan_id: p
            for p in await PlanRepository(session).list(provider_id=provider.id, active=True)
        }
        offered = []
        for item in items:
            plan = plans.get(item["id"])
            if plan is not None:
                monthly = money(plan.base_price + plan.markup_price)
                offered.append(
                    {
                        **item,
                        "price_monthly": float(monthly),
                        "price_hourly": float(hourly(monthly)),
                    }
                )
        return offered

    async def of(
        self, provider: ServiceProvider, *, settings: Settings, kind: str
    ) -> list[dict[str, Any]]:
        async def load() -> list[dict[str, Any]]:
            async with connected(provider, settings) as compute:
                items: Sequence[Plan | Image | Region | MarketplaceApp]
                if kind == "plans":
                    items = await compute.list_plans()
                elif kind == "images":
                    items = await compute.list_images()
                elif kind == "regions":
                    items = await compute.list_regions()
                else:
                    items = await compute.list_marketplace()
                return [dataclasses.asdict(item) for item in items]

        if not provider.active:
            async with connected(provider, settings):
                pass  # raises PROVIDER_INACTIVE
        result: list[dict[str, Any]] = await catalog_cache(settings).get_or_fetch(
            provider.id, kind, load
        )
        return result


# --- plans ----------------------------------------------------------------------------------


class PlanService:
    async def list(
        self,
        session: AsyncSession,
        *,
        provider_id: uuid.UUID | None = None,
        active: bool | None = None,
    ) -> Sequence[VpsPlan]:
        return await PlanRepository(session).list(provider_id=provider_id, active=active)

    async def get(self, session: AsyncSession, plan_id: uuid.UUID) -> VpsPlan:
        plan = await PlanRepository(session).get(plan_id)
        if plan is None:
            raise NotFound(f"Plan {plan_id} not found", code="PLAN_NOT_FOUND", field="id")
        return plan

    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        settings: Settings,
        provider_id: uuid.UUID,
        provider_plan_id: str,
        base_price: Decimal,
        markup_price: Decimal,
        specifications: dict[str, Any] | None,
        active: bool,
    ) -> VpsPlan:
        provider = await provider_service.get(session, provider_id)
        catalog = {
            p["id"]: p for p in await catalog_service.of(provider, settings=settings, kind="plans")
        }
        offered = catalog.get(provider_plan_id)
        if offered is None:
            raise ValidationFailed(
                f"{provider.type} has no plan {provider_plan_id}",
                code=VALIDATION_ERROR,
                field="provider_plan_id",
            )
        if await PlanRepository(session).find(provider.id, provider_plan_id) is not None:
            raise Conflict(
                f"A plan for {provider_plan_id} exists already",
                code="VALIDATION_ERROR",
                field="provider_plan_id",
            )
        plan = VpsPlan(
            provider_id=provider.id,
            provider_plan_id=provider_plan_id,
            base_price=money(base_price),
            markup_price=money(markup_price),
            specifications=specifications
            if specifications is not None
            else {
                "vcpus": offered["vcpus"],
                "memory": offered["memory"],
                "disk": offered["disk"],
                "transfer": offered["transfer"],
            },
            active=active,
        )
        await PlanRepository(session).add(plan)
        await audit.record(
            session,
            actor,
            "plan.create",
            target_type="vps_plan",
            target_id=plan.id,
            detail={
                "provider_plan_id": provider_plan_id,
                "base_price": str(plan.base_price),
                "markup_price": str(plan.markup_price),
            },
        )
        return plan

    async def update(
        self,
        session: AsyncSession,
        actor: Actor,
        plan: VpsPlan,
        *,
        base_price: Decimal | None = None,
        markup_price: Decimal | None = None,
        specifications: dict[str, Any] | None = None,
        active: bool | None = None,
    ) -> VpsPlan:
        changed: dict[str, Any] = {}
        if base_price is not None:
            plan.base_price = money(base_price)
            changed["base_price"] = str(plan.base_price)
        if markup_price is not None:
            plan.markup_price = money(markup_price)
            changed["markup_price"] = str(plan.markup_price)
        if specifications is not None:
            plan.specifications = specifications
            changed["specifications"] = specifications
        if active is not None:
            plan.active = active
            changed["active"] = active
        await PlanRepository(session).flush()
        await audit.record(
            session, actor, "plan.update", target_type="vps_plan", target_id=plan.id, detail=changed
        )
        return plan


# --- instances ------------------------------------------------------------------------------


def _request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class OrderRules:
    """What the person ordering may order: any provider size (admins), or only sizes with an
    active plan at the plan's price; and, for customers, how many servers they may hold."""

    any_size: bool = True
    quota: int | None = None


class PlanRequired(Forbidden):
    default_code = "PLAN_REQUIRED"

    def __init__(self, provider_type: str, plan_type: str) -> None:
        super().__init__(
            f"{provider_type} {plan_type} is not offered as a plan; choose one of "
            "GET /api/vps/plans",
            field="type",
        )


class QuotaExceeded(Forbidden):
    default_code = "QUOTA_EXCEEDED"

    def __init__(self, quota: int) -> None:
        super().__init__(
            f"Your account may hold {quota} server{'s' if quota != 1 else ''} at once; "
            "delete one or ask us to raise the limit"
        )


class InstanceService:
    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        owner: User,
        *,
        settings: Settings,
        body: dict[str, Any],
        idempotency_key: str | None = None,
        rules: OrderRules | None = None,
    ) -> tuple[VpsInstance, bool]:
        """Validate, record the instance and start its creation; returns (instance, created).
        Without `rules`, anything may be ordered (the operator's command line)."""
        rules = rules or OrderRules()
        repository = InstanceRepository(session)
        if idempotency_key is not None:
            if not 1 <= len(idempotency_key) <= 200:
                raise ValidationFailed(
                    "Idempotency-Key is 1-200 characters",
                    code=VALIDATION_ERROR,
                    field="Idempotency-Key",
                )
            existing = await repository.get_by_key(owner.id, idempotency_key)
            if existing is not None:
                return self._replay(existing, body), False
        public_body = {k: v for k, v in body.items() if k != "rootPassword"}
        ordered_plan = await self._ordered_plan(session, body)
        provider = await provider_service.resolve(
            session,
            provider_type=body.get("provider_type"),
            provider_id=ordered_plan.provider_id if ordered_plan else body.get("provider_id"),
        )
        async with connected(provider, settings):
            pass  # PROVIDER_INACTIVE before any other verdict
        label = body.get("label") or body.get("name")
        plan_type = body.get("type") or body.get("server_type")
        if ordered_plan is not None:
            if plan_type and plan_type != ordered_plan.provider_plan_id:
                raise ValidationFailed(
                    f"Plan {ordered_plan.id} is {ordered_plan.provider_plan_id}, not {plan_type}",
                    code=VALIDATION_ERROR,
                    field="type",
                )
            plan_type = ordered_plan.provider_plan_id
        region = (
            body.get("region")
            or body.get("location")
            or provider.configuration.get("default_region")
        )
        image = body.get("image")
        self._check_required(label=label, plan_type=plan_type, region=region, image=image)
        label, plan_type, region, image = str(label), str(plan_type), str(region), str(image)
        password = body.get("rootPassword")
        if password is not None and not 8 <= len(password) <= 128:
            raise ValidationFailed(
                "rootPassword is 8-128 characters", code=VALIDATION_ERROR, field="rootPassword"
            )
        for tag in body.get("tags") or []:
            if not TAG.match(tag):
                raise ValidationFailed(
                    f"Tag {tag!r} is not allowed: letters, digits, -, _, ., : (up to 64)",
                    code=VALIDATION_ERROR,
                    field="tags",
                )
        self._check_provider_rules(provider.type, label, list(body.get("tags") or []))
        offered = await self._check_catalog(
            provider, settings, plan_type=plan_type, region=region, image=image, body=body
        )
        plan = await PlanRepository(session).find(provider.id, plan_type)
        if plan is not None and plan.active:
            monthly = money(plan.base_price + plan.markup_price)
            hourly_rate = hourly(monthly)
        elif not rules.any_size:
            raise PlanRequired(provider.type, plan_type)
        else:
            plan = None
            monthly = money(offered["price_monthly"])
            hourly_rate = Decimal(str(offered["price_hourly"])).quantize(Decimal("0.00001"))
        instance = VpsInstance(
            user_id=owner.id,
            provider_type=provider.type,
            provider_id=provider.id,
            label=label,
            status="provisioning",
            region=region,
            plan_type=plan_type,
            image=image,
            plan_id=plan.id if plan is not None else None,
            plan_specs=plan.specifications
            if plan is not None and plan.specifications
            else {
                "vcpus": offered["vcpus"],
                "memory": offered["memory"],
                "disk": offered["disk"],
                "transfer": offered["transfer"],
            },
            hourly_rate=hourly_rate,
            monthly_rate=monthly,
            options={
                "sshKeys": list(body.get("sshKeys") or []),
                "backups": bool(body.get("backups")),
                "monitoring": bool(body.get("monitoring")),
                "ipv6": body.get("ipv6", True) is not False,
                "privateIP": bool(body.get("privateIP")),
                "vpc_uuid": body.get("vpc_uuid"),
                "appSlug": body.get("appSlug"),
                "stackscriptId": body.get("stackscriptId"),
                "stackscriptData": body.get("stackscriptData"),
                "tags": list(body.get("tags") or []),
                "user_data": body.get("user_data"),
                "request_hash": _request_hash(public_body),
            },
            root_password_encrypted=secret_box(settings).encrypt(password) if password else None,
            idempotency_key=idempotency_key,
        )
        if rules.quota is not None:
            # The first write: taken before counting, so two orders cannot both pass the count.
            await repository.lock_owner(owner.id)
            if await repository.count_held(owner.id) >= rules.quota:
                raise QuotaExceeded(rules.quota)
        try:
            # Only reads (and the owner lock) happened so far, so a lost race simply rolls back
            # and replays.
            await repository.add(instance)
        except IntegrityError:
            owner_id = instance.user_id
            await session.rollback()  # expires every loaded object: use plain values after it
            existing = await repository.get_by_key(owner_id, idempotency_key or "")
            if existing is None:
                raise
            return self._replay(existing, body), False
        operation, _ = await operation_service.start(
            session,
            actor,
            kind=CREATE_KIND,
            input={"instance_id": str(instance.id)},
            idempotency_key=f"{owner.id}:{idempotency_key}" if idempotency_key else None,
            target_type="vps_instance",
            target_id=instance.id,
            message="Creating the server",
        )
        instance.operation_id = operation.id
        await repository.flush()
        await audit.record(
            session,
            actor,
            "vps.create",
            target_type="vps_instance",
            target_id=instance.id,
            detail={
                "provider_id": str(provider.id),
                "provider_type": provider.type,
                "label": label,
                "type": plan_type,
                "region": region,
                "image": image,
            },
        )
        return instance, True

    @staticmethod
    async def _ordered_plan(session: AsyncSession, body: dict[str, Any]) -> VpsPlan | None:
        """The plan named by `plan_id`, if the order names one (it must be active)."""
        plan_id = body.get("plan_id")
        if plan_id is None:
            return None
        plan = await PlanRepository(session).get(uuid.UUID(str(plan_id)))
        if plan is None or not plan.active or plan.provider_id is None:
            raise ValidationFailed(
                f"No active plan {plan_id}", code=VALIDATION_ERROR, field="plan_id"
            )
        if body.get("provider_id") not in (None, plan.provider_id, str(plan.provider_id)):
            raise ValidationFailed(
                f"Plan {plan_id} is not offered by provider {body.get('provider_id')}",
                code=VALIDATION_ERROR,
                field="provider_id",
            )
        return plan

    @staticmethod
    def _replay(existing: VpsInstance, body: dict[str, Any]) -> VpsInstance:
        public_body = {k: v for k, v in body.items() if k != "rootPassword"}
        if existing.options.get("request_hash") not in (None, _request_hash(public_body)):
            raise Conflict(
                "This Idempotency-Key was used for a different request",
                code="VALIDATION_ERROR",
                field="Idempotency-Key",
            )
        return existing

    @staticmethod
    def _check_required(**values: Any) -> None:
        names = {"label": "label", "plan_type": "type", "region": "region", "image": "image"}
        for key, value in values.items():
            if not value:
                raise ValidationFailed(
                    f"{names[key]} is required", code=VALIDATION_ERROR, field=names[key]
                )
        if not LABEL.match(str(values["label"])):
            raise ValidationFailed(
                "label is 3-64 letters, digits, '.', '_' or '-', starting and ending with a "
                "letter or digit",
                code=VALIDATION_ERROR,
                field="label",
            )

    @staticmethod
    def _check_provider_rules(provider_type: str, label: str, tags: list[str]) -> None:
        """What the provider itself refuses (its registry entry's rules), before it is asked."""
        entry = registry.entry(provider_type)
        rules = registry.capabilities(provider_type)
        if not rules.label.accepts(label):
            raise ValidationFailed(
                f"{entry.title} does not accept the name {label!r}: {rules.label.description}",
                code=VALIDATION_ERROR,
                field="label",
            )
        for tag in tags:
            if not rules.tag.accepts(tag):
                raise ValidationFailed(
                    f"{entry.title} does not accept the tag {tag!r}: {rules.tag.description}",
                    code=VALIDATION_ERROR,
                    field="tags",
                )

    async def _check_catalog(
        self,
        provider: ServiceProvider,
        settings: Settings,
        *,
        plan_type: str,
        region: str,
        image: str,
        body: dict[str, Any],
    ) -> dict[str, Any]:
        plans = {
            p["id"]: p for p in await catalog_service.of(provider, settings=settings, kind="plans")
        }
        offered = plans.get(plan_type)
        if offered is None:
            raise ValidationFailed(
                f"Unknown {provider.type} plan {plan_type}", code=VALIDATION_ERROR, field="type"
            )
        regions = {
            r["id"]: r
            for r in await catalog_service.of(provider, settings=settings, kind="regions")
        }
        if region not in regions:
            raise ValidationFailed(
                f"Unknown {provider.type} region {region}", code=VALIDATION_ERROR, field="region"
            )
        if not regions[region]["available"]:
            raise ProviderError(
                "INSUFFICIENT_RESOURCES",
                f"Region {region} is not available",
                provider=provider.type,
                field="region",
            )
        if offered["regions"] and region not in offered["regions"]:
            raise ProviderError(
                "INSUFFICIENT_RESOURCES",
                f"Plan {plan_type} is not available in {region}",
                provider=provider.type,
                field="type",
            )
        images = await catalog_service.of(provider, settings=settings, kind="images")
        if image not in {i["slug"] for i in images} | {i["id"] for i in images}:
            raise ValidationFailed(
                f"Unknown {provider.type} image {image}", code=VALIDATION_ERROR, field="image"
            )
        app = body.get("appSlug")
        script = body.get("stackscriptId")
        if app is not None or script is not None:
            offers = registry.capabilities(provider.type).marketplace
            for field, given in (("appSlug", app), ("stackscriptId", script)):
                if given is not None and offers != field:
                    owner = next(
                        (
                            registry.entry(n).title
                            for n in registry.compute_types()
                            if registry.capabilities(n).marketplace == field
                        ),
                        "another provider",
                    )
                    raise ValidationFailed(
                        f"{field} is for {owner}", code=VALIDATION_ERROR, field=field
                    )
            market = await catalog_service.of(provider, settings=settings, kind="marketplace")
            if app is not None and app not in (
                {a["slug"] for a in market} | {a["image_slug"] for a in market}
            ):
                raise ValidationFailed(
                    f"Unknown 1-Click app {app}", code=VALIDATION_ERROR, field="appSlug"
                )
            if script is not None:
                found = next((a for a in market if a["id"] == str(script)), None)
                if found is None:
                    raise ValidationFailed(
                        f"Unknown StackScript {script}",
                        code=VALIDATION_ERROR,
                        field="stackscriptId",
                    )
                if found["compatible_images"] and image not in found["compatible_images"]:
                    raise ValidationFailed(
                        f"StackScript {script} does not support {image}",
                        code=VALIDATION_ERROR,
                        field="image",
                    )
        return offered

    async def list(
        self, session: AsyncSession, principal: Principal, *, params: PageParams
    ) -> tuple[Sequence[VpsInstance], int]:
        return await InstanceRepository(session).list(
            principal, offset=params.offset, limit=params.per_page
        )

    async def get(
        self, session: AsyncSession, principal: Principal, instance_id: uuid.UUID
    ) -> VpsInstance:
        """An instance `principal` may see; anyone else's is reported as missing."""
        instance = await InstanceRepository(session).get_readable(principal, instance_id)
        if instance is None:
            raise NotFound(f"Instance {instance_id} not found", code="NOT_FOUND", field="id")
        return instance

    async def refresh(
        self, session: AsyncSession, instance: VpsInstance, *, settings: Settings
    ) -> VpsInstance:
        """Ask the instance's provider how it is; keep the last known state when it cannot say."""
        if instance.provider_instance_id is None or instance.status in ("deleted", "failed"):
            return instance
        if instance.provider_id is None:
            return instance
        provider = await ProviderRepository(session).get(instance.provider_id)
        if provider is None or not provider.active:
            return instance
        before = instance.status
        try:
            async with connected(provider, settings) as compute:
                server = await compute.get_server(server_id=instance.provider_instance_id)
        except ProviderError as error:
            if error.code == NOT_FOUND:
                instance.status = "deleted"
                await InstanceRepository(session).flush()
                await server_events.state_changed(session, instance, before)
            else:
                log.warning("instance refresh failed", extra={"code": error.code})
            return instance
        apply_server(instance, server)
        await InstanceRepository(session).flush()
        await server_events.state_changed(session, instance, before)
        return instance

    async def action(
        self,
        session: AsyncSession,
        actor: Actor,
        instance: VpsInstance,
        *,
        settings: Settings,
        action: str,
    ) -> str:
        command = ACTIONS.get(action)
        if command is None:
            raise ProviderError(
                INVALID_ACTION,
                f"Unsupported action {action}; use one of {', '.join(ACTIONS)}",
                provider=instance.provider_type or "stellwerk",
                field="action",
            )
        if instance.provider_id is None:
            raise ProviderError(
                PROVIDER_NOT_FOUND,
                "The instance's provider no longer exists",
                provider=instance.provider_type or "stellwerk",
                field="provider_id",
            )
        provider = await provider_service.get(session, instance.provider_id)
        if instance.status == "deleted":
            raise ProviderError(
                INVALID_ACTION,
                "The instance has been deleted",
                provider=provider.type,
                field="action",
            )
        async with connected(provider, settings) as compute:
            if command != "delete" and command not in compute.power_actions:
                raise ProviderError(
                    INVALID_ACTION,
                    f"{action} is not supported by {provider.type}",
                    provider=provider.type,
                    field="action",
                )
            if instance.provider_instance_id is None:
                raise ProviderError(
                    INVALID_ACTION,
                    "The instance is still being created; try again when it runs",
                    provider=provider.type,
                    field="action",
                )
            try:
                if command == "delete":
                    await compute.delete_server(server_id=instance.provider_instance_id)
                else:
                    await compute.power(server_id=instance.provider_instance_id, action=command)
            except ProviderError as error:
                if error.code == NOT_FOUND:
                    instance.status = "deleted"
                    await InstanceRepository(session).flush()
                    if command == "delete":
                        return command
                raise as_body_field(error) from error
        before = instance.status
        instance.status = "deleted" if command == "delete" else TRANSITIONAL[command]
        await InstanceRepository(session).flush()
        await server_events.state_changed(session, instance, before)
        await audit.record(
            session,
            actor,
            f"vps.{action}",
            target_type="vps_instance",
            target_id=instance.id,
            detail={"provider_type": provider.type, "action": action},
        )
        return command

    async def import_servers(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        settings: Settings,
        provider_id: uuid.UUID,
        owner: User,
    ) -> Sequence[VpsInstance]:
        """Adopt servers that exist at the provider but not here (existing installations)."""
        provider = await provider_service.get(session, provider_id)
        repository = InstanceRepository(session)
        known = await repository.known_server_ids(provider.id)
        async with connected(provider, settings) as compute:
            servers = await compute.list_servers()
        adopted: Sequence[VpsInstance] = []
        for server in servers:
            if server.id in known:
                continue
            instance = VpsInstance(
                user_id=owner.id,
                provider_type=provider.type,
                provider_id=provider.id,
                provider_instance_id=server.id,
                label=server.name,
                status="provisioning",
                region=server.region,
                plan_type=server.plan,
                image=server.image,
                plan_specs={k: v for k, v in server.specs.items() if v is not None},
                options={"imported": True, "tags": list(server.tags)},
            )
            apply_server(instance, server)
            await repository.add(instance)
            adopted = [*adopted, instance]
        await audit.record(
            session,
            actor,
            "vps.import",
            target_type="service_provider",
            target_id=provider.id,
            detail={"adopted": [i.provider_instance_id for i in adopted]},
        )
        return adopted

    async def owner(self, session: AsyncSession, username: str | None) -> User:
        repository = OwnerRepository(session)
        user = await (repository.by_username(username) if username else repository.first_admin())
        if user is None:
            raise NotFound(f"No user {username or '(admin)'}", code="NOT_FOUND", field="user")
        return user


def apply_server(instance: VpsInstance, server: Server) -> None:
    instance.provider_instance_id = server.id
    instance.status = server.status
    instance.ip_address = server.ipv4 or instance.ip_address
    instance.ipv6_address = server.ipv6 or instance.ipv6_address
    instance.region = server.region or instance.region
    instance.error = None


async def reconcile(session: AsyncSession, *, settings: Settings) -> dict[str, int]:
    """Bring every live instance in line with its provider: status, addresses, deletions."""
    counts = {"updated": 0, "deleted": 0, "providers": 0}
    repository = InstanceRepository(session)
    for provider in await ProviderRepository(session).list(active=True):
        instances = [
            i for i in await repository.live_for_provider(provider.id) if i.provider_instance_id
        ]
        if not instances:
            continue
        try:
            async with connected(provider, settings) as compute:
                servers = {s.id: s for s in await compute.list_servers()}
        except ProviderError as error:
            log.warning(
                "reconciliation skipped a provider",
                extra={"provider_id": str(provider.id), "code": error.code},
            )
            continue
        counts["providers"] += 1
        for instance in instances:
            server = servers.get(str(instance.provider_instance_id))
            before = instance.status
            if server is None:
                instance.status = "deleted"
                counts["deleted"] += 1
            elif (server.status, server.ipv4, server.ipv6) != (
                instance.status,
                instance.ip_address,
                instance.ipv6_address,
            ):
                apply_server(instance, server)
                counts["updated"] += 1
            await server_events.state_changed(session, instance, before)
        await repository.flush()
    return counts


provider_service = ProviderService()
catalog_service = CatalogService()
plan_service = PlanService()
instance_service = InstanceService()

# --- sandbox mode: ready to order from the first start -----------------------------------------

SANDBOX_PLANS = 3  # the cheapest sizes of each sandbox provider, offered as plans
SANDBOX_MARKUP = Decimal("0.25")  # on top of the provider's price


async def ensure_sandbox_providers(
    session: AsyncSession, settings: Settings, sandboxes: dict[str, str]
) -> list[ServiceProvider]:
    """In sandbox mode on an installation without any provider: one provider per compute
    provider with a sandbox (its `sandbox-` key), each with its cheapest sizes as plans at the
    provider's price plus 25 %; the ones created. Nothing when a provider exists (an operator's,
    or these after a restart), and nothing outside sandbox mode."""
    if not settings.sandbox_enabled or await ProviderRepository(session).list():
        return []
    created = []
    for provider_type in registry.compute_types():
        entry = registry.entry(provider_type)
        if entry.sandbox is None or provider_type not in sandboxes:
            continue
        provider = await provider_service.create(
            session,
            Actor.system(),
            settings=settings,
            sandboxes=sandboxes,
            name=f"{entry.title} sandbox",
            type=provider_type,
            api_key=connect.SANDBOX_SECRET,  # any `sandbox-` key is accepted
            configuration={},
        )
        sizes = await catalog_service.of(provider, settings=settings, kind="plans")
        cheapest = sorted(
            (size for size in sizes if size.get("available", True)),
            key=lambda size: (size["price_monthly"], size["id"]),
        )[:SANDBOX_PLANS]
        for size in cheapest:
            base = money(size["price_monthly"])
            await plan_service.create(
                session,
                Actor.system(),
                settings=settings,
                provider_id=provider.id,
                provider_plan_id=size["id"],
                base_price=base,
                markup_price=money(base * SANDBOX_MARKUP),
                specifications=None,
                active=True,
            )
        created.append(provider)
    return created


# The nouns, as the other packages name their singletons.
provider = provider_service
catalog = catalog_service
plan = plan_service
instance = instance_service
