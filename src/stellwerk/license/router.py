"""HTTP for the license server: the client API (`X-API-Key`) and the admin panel's license,
device, release and client-config endpoints (admin login or scoped tokens)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status

from stellwerk.database import SessionDep
from stellwerk.identity.auth import RuntimeDep, client_ip
from stellwerk.kit.pagination import Page, PageParams, page_params
from stellwerk.license import policy, service
from stellwerk.license.auth import (
    LICENSE_CLIENT,
    LicensesReader,
    LicensesWriter,
    ReleasesReader,
    ReleasesWriter,
)
from stellwerk.license.schemas import (
    ActivateRequest,
    ActivateResponse,
    BulkRequest,
    BulkResponse,
    ClientConfigCreate,
    ClientConfigRead,
    ClientConfigUpdate,
    DeactivateRequest,
    DeviceRead,
    DevicesResponse,
    GeneratedKey,
    HeartbeatRequest,
    HeartbeatResponse,
    InfoLicense,
    InfoResponse,
    LatestVersionResponse,
    LicenseCreate,
    LicenseFile,
    LicenseRead,
    LicenseUpdate,
    PublicKeyResponse,
    QuickEdit,
    RegisterDevice,
    RegisterDeviceResponse,
    ReleaseCreate,
    ReleaseRead,
    ReleaseUpdate,
    SessionEndRequest,
    SessionEndResponse,
    SessionStartRequest,
    SessionStartResponse,
    SuccessResponse,
    ToggleResponse,
    VerifyRequest,
    VerifyResponse,
    VersionCheckRequest,
    VersionCheckResponse,
    normalize_key,
)
from stellwerk.models import License
from stellwerk.surface import Surface, error_responses

client_router = APIRouter(
    tags=["license client"],
    dependencies=LICENSE_CLIENT,
    responses=error_responses(Surface.LICENSE),
)
admin_router = APIRouter(tags=["license admin"], responses=error_responses(Surface.LICENSE))
PageDep = Annotated[PageParams, Depends(page_params)]

# --- License client API ---------------------------------------------------------------------


@client_router.post("/api/license/activate", response_model=ActivateResponse)
async def activate(
    body: ActivateRequest, request: Request, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Activate a license on a device. The same device again is idempotent (no new seat)."""
    result = await service.activation.activate(
        session,
        service.client_actor(client_ip(request)),
        license_key=body.license_key,
        hardware_hash=body.hardware_hash,
        machine_name=body.machine_name,
        app_version=body.app_version,
        limiter=runtime.limiter,
        rate_limit=runtime.settings.license_activation_rate_limit,
    )
    activation = result.activation
    return policy.activation_answer(
        activation_id=activation.id,
        license_key=result.license.license_key,
        hardware_hash=activation.hardware_hash,
        machine_name=activation.machine_name,
        activated_at=activation.activated_at,
        last_heartbeat=activation.last_heartbeat,
        is_active=activation.is_active,
        already_activated=result.already_activated,
    )


@client_router.post("/api/license/deactivate", response_model=SuccessResponse)
async def deactivate(
    body: DeactivateRequest, request: Request, session: SessionDep
) -> SuccessResponse:
    """Free this device's seat (for moving a license to another machine)."""
    await service.activation.deactivate_hardware(
        session,
        service.client_actor(client_ip(request)),
        license_key=body.license_key,
        hardware_hash=body.hardware_hash,
    )
    return SuccessResponse(message="Device deactivated successfully")


@client_router.post("/api/license/verify", response_model=VerifyResponse)
async def verify(body: VerifyRequest, session: SessionDep) -> dict[str, Any]:
    """Whether the license may run on this device; `valid: false` comes with a `reason`."""
    result = await service.activation.verify(
        session,
        license_key=body.license_key,
        hardware_hash=body.hardware_hash,
        app_version=body.app_version,
    )
    return result.answer


@client_router.get("/api/license/info/{license_key}", response_model=InfoResponse)
async def info(license_key: str, session: SessionDep) -> InfoResponse:
    """The license and its devices."""
    try:
        key = normalize_key(license_key)
    except ValueError:
        raise service.LicenseNotFound() from None
    found = await service.license.get_by_key(session, key)
    devices = await service.activation.devices(session, found)
    return InfoResponse(
        license=InfoLicense(
            id=found.id,
            key=found.license_key,
            customer_name=found.customer.name,
            type=found.license_type,
            valid_from=found.valid_from,
            valid_until=found.valid_until,
            max_activations=found.max_activations,
            max_users=found.max_users,
            is_active=found.is_active,
        ),
        activations=[DeviceRead.model_validate(d) for d in devices],
    )


@client_router.post(
    "/api/license/session/start",
    response_model=SessionStartResponse,
    responses={409: {"description": "Only one session is allowed (single-session client)"}},
)
async def start_session(
    body: SessionStartRequest, request: Request, session: SessionDep, runtime: RuntimeDep
) -> SessionStartResponse:
    """Start a session on an activated device; keep it alive with heartbeats."""
    started = await service.license_session.start(
        session,
        license_key=body.license_key,
        hardware_hash=body.hardware_hash,
        machine_id=body.machine_id,
        version=body.version,
        client_name=body.client_name or runtime.settings.license_default_client,
        ip=client_ip(request),
    )
    return SessionStartResponse(
        message="Session started",
        session_token=started.token,
        client_name=started.config.name,
        heartbeat_interval=started.config.heartbeat_interval,
        session_timeout=started.config.session_timeout,
        started_at=started.record.started_at,
        update_available=started.update_available,
        latest_version=started.latest_version,
        download_url=started.latest.download_url if started.latest else None,
    )


@client_router.post("/api/license/session/heartbeat", response_model=HeartbeatResponse)
async def heartbeat(body: HeartbeatRequest, session: SessionDep) -> dict[str, Any]:
    """Keep a session alive. 409 `SESSION_ENDED` once it has ended (start a new one)."""
    return await service.license_session.heartbeat(
        session, token=body.session_token, license_key=body.license_key
    )


@client_router.post("/api/license/session/end", response_model=SessionEndResponse)
async def end_session(body: SessionEndRequest, session: SessionDep) -> SessionEndResponse:
    """End a session; answers with its duration and why it ended."""
    record = await service.license_session.end(session, token=body.session_token)
    assert record.ended_at is not None
    assert record.end_reason is not None
    return SessionEndResponse(
        message="Session ended",
        started_at=record.started_at,
        ended_at=record.ended_at,
        duration_seconds=service.session_duration(record),
        end_reason=record.end_reason,
    )


@client_router.post("/api/version/check", response_model=VersionCheckResponse)
async def version_check(body: VersionCheckRequest, session: SessionDep) -> VersionCheckResponse:
    """Whether a newer version is published (semantic version order)."""
    latest, newer, required = await service.release.check(
        session,
        current_version=body.current_version,
        license_key=body.license_key,
        channel=body.channel,
    )
    return VersionCheckResponse(
        update_available=newer,
        latest_version=latest.version if latest else None,
        download_url=latest.download_url if latest and newer else None,
        release_notes=latest.release_notes if latest and newer else None,
        current_version=body.current_version,
        min_supported_version=latest.min_supported_version if latest else None,
        update_required=required,
    )


@client_router.get("/api/version/latest", response_model=LatestVersionResponse)
async def version_latest(
    session: SessionDep,
    channel: Annotated[str, Query(max_length=32)] = "stable",
) -> LatestVersionResponse:
    """The newest published version."""
    latest = await service.release.latest(session, channel)
    return LatestVersionResponse(
        version=latest.version,
        release_date=latest.release_date,
        download_url=latest.download_url,
        release_notes=latest.release_notes,
        channel=latest.channel,
        min_supported_version=latest.min_supported_version,
    )


@client_router.get("/api/license/file/{license_key}", response_model=LicenseFile)
async def license_file(
    license_key: str,
    session: SessionDep,
    runtime: RuntimeDep,
    hardware_hash: Annotated[str, Query(min_length=1, max_length=255)],
) -> dict[str, str]:
    """A signed offline license file for one activated device (verify it with the public key)."""
    try:
        key = normalize_key(license_key)
    except ValueError:
        raise service.LicenseNotFound() from None
    return await service.license_file.issue(
        session,
        license_key=key,
        hardware_hash=hardware_hash,
        key=await service.license_file.signing_key(runtime),
        days=runtime.settings.license_file_days,
    )


@client_router.get("/api/license/public-key", response_model=PublicKeyResponse)
async def public_key(runtime: RuntimeDep) -> PublicKeyResponse:
    """The Ed25519 public key that license files are signed with."""
    import base64

    key = await service.license_file.signing_key(runtime)
    return PublicKeyResponse(
        key_id=key.key_id,
        public_key=key.public_pem,
        public_key_raw=base64.b64encode(key.public_raw).decode(),
    )


# --- Admin panel: licenses and devices ------------------------------------------------------


def license_read(found: License, active_devices: int) -> LicenseRead:
    return LicenseRead(
        id=found.id,
        license_key=found.license_key,
        customer_id=found.customer_id,
        customer_name=found.customer.name,
        license_type=found.license_type,
        valid_from=found.valid_from,
        valid_until=found.valid_until,
        max_activations=found.max_activations,
        max_users=found.max_users,
        is_active=found.is_active,
        active_devices=active_devices,
        notes=found.notes,
        created_at=found.created_at,
        updated_at=found.updated_at,
    )


async def _read_one(session: SessionDep, found: License) -> LicenseRead:
    counts = await service.license.active_devices(session, [found])
    return license_read(found, counts.get(found.id, 0))


@admin_router.get("/api/licenses", response_model=Page[LicenseRead])
async def list_licenses(
    _: LicensesReader,
    session: SessionDep,
    params: PageDep,
    search: Annotated[str | None, Query(max_length=200)] = None,
    customer_id: int | None = None,
    is_active: bool | None = None,
    type: Annotated[str | None, Query(pattern="^(perpetual|subscription|trial)$")] = None,
) -> Page[LicenseRead]:
    """Licenses, newest first; `search` matches the key, customer name or email."""
    rows, total = await service.license.list(
        session,
        params=params,
        query=search,
        customer_id=customer_id,
        is_active=is_active,
        license_type=type,
    )
    counts = await service.license.active_devices(session, rows)
    return Page.of([license_read(r, counts.get(r.id, 0)) for r in rows], total=total, params=params)


@admin_router.post("/api/licenses", response_model=LicenseRead, status_code=status.HTTP_201_CREATED)
async def create_license(
    body: LicenseCreate, subject: LicensesWriter, session: SessionDep
) -> LicenseRead:
    """Create a license; without `license_key` a new key is generated."""
    created = await service.license.create(session, subject.actor, **body.model_dump())
    return license_read(created, 0)


@admin_router.post("/api/licenses/bulk-activate", response_model=BulkResponse)
async def bulk_activate(
    body: BulkRequest, subject: LicensesWriter, session: SessionDep
) -> BulkResponse:
    changed = await service.license.bulk_set_active(
        session, subject.actor, body.license_ids, is_active=True
    )
    return BulkResponse(affected=changed, message=f"{changed} licenses activated")


@admin_router.post("/api/licenses/bulk-deactivate", response_model=BulkResponse)
async def bulk_deactivate(
    body: BulkRequest, subject: LicensesWriter, session: SessionDep
) -> BulkResponse:
    changed = await service.license.bulk_set_active(
        session, subject.actor, body.license_ids, is_active=False
    )
    return BulkResponse(affected=changed, message=f"{changed} licenses deactivated")


@admin_router.post("/api/licenses/bulk-delete", response_model=BulkResponse)
async def bulk_delete(
    body: BulkRequest, subject: LicensesWriter, session: SessionDep
) -> BulkResponse:
    deleted = await service.license.bulk_delete(session, subject.actor, body.license_ids)
    return BulkResponse(affected=deleted, message=f"{deleted} licenses deleted")


@admin_router.get("/api/licenses/{license_id:int}", response_model=LicenseRead)
async def get_license(license_id: int, _: LicensesReader, session: SessionDep) -> LicenseRead:
    return await _read_one(session, await service.license.get(session, license_id))


@admin_router.put("/api/licenses/{license_id:int}", response_model=LicenseRead)
async def update_license(
    license_id: int, body: LicenseUpdate, subject: LicensesWriter, session: SessionDep
) -> LicenseRead:
    found = await service.license.get(session, license_id)
    updated = await service.license.update(
        session, subject.actor, found, changes=body.model_dump(exclude_unset=True)
    )
    return await _read_one(session, updated)


@admin_router.delete("/api/licenses/{license_id:int}", response_model=SuccessResponse)
async def delete_license(
    license_id: int, subject: LicensesWriter, session: SessionDep
) -> SuccessResponse:
    """Delete a license with its devices and sessions; its resources return to the pool."""
    found = await service.license.get(session, license_id)
    await service.license.delete(session, subject.actor, found)
    return SuccessResponse(message="License deleted")


@admin_router.post("/api/license/{license_id:int}/toggle", response_model=ToggleResponse)
async def toggle(license_id: int, subject: LicensesWriter, session: SessionDep) -> ToggleResponse:
    """Switch a license on or off; switching off ends its open sessions."""
    found = await service.license.get(session, license_id)
    updated = await service.license.toggle(session, subject.actor, found)
    state = "activated" if updated.is_active else "deactivated"
    return ToggleResponse(is_active=updated.is_active, message=f"License {state}")


@admin_router.post("/api/license/{license_id:int}/quick-edit", response_model=SuccessResponse)
async def quick_edit(
    license_id: int, body: QuickEdit, subject: LicensesWriter, session: SessionDep
) -> SuccessResponse:
    """Change validity and limits."""
    found = await service.license.get(session, license_id)
    await service.license.update(
        session,
        subject.actor,
        found,
        changes=body.model_dump(exclude_unset=True),
        action="license.quick_edit",
    )
    return SuccessResponse(message="License updated successfully")


@admin_router.get("/api/license/{license_id:int}/devices", response_model=DevicesResponse)
async def devices(license_id: int, _: LicensesReader, session: SessionDep) -> DevicesResponse:
    found = await service.license.get(session, license_id)
    rows = await service.activation.devices(session, found)
    return DevicesResponse(devices=[DeviceRead.model_validate(d) for d in rows])


@admin_router.post(
    "/api/license/{license_id:int}/register-device", response_model=RegisterDeviceResponse
)
async def register_device(
    license_id: int, body: RegisterDevice, subject: LicensesWriter, session: SessionDep
) -> RegisterDeviceResponse:
    """Register a device by hand; the activation limit applies."""
    result = await service.activation.activate(
        session,
        subject.actor,
        license_id=license_id,
        hardware_hash=body.hardware_hash,
        machine_name=body.machine_name,
        app_version=body.app_version,
    )
    return RegisterDeviceResponse(
        device_id=result.activation.id,
        message="Device registered successfully"
        if not result.already_activated
        else "Device was already registered",
    )


@admin_router.post(
    "/api/license/{license_id:int}/deactivate-device/{device_id:int}",
    response_model=SuccessResponse,
)
async def deactivate_device(
    license_id: int, device_id: int, subject: LicensesWriter, session: SessionDep
) -> SuccessResponse:
    """Deactivate a device; its seat is free again."""
    found = await service.license.get(session, license_id)
    await service.activation.deactivate_device(session, subject.actor, found, device_id)
    return SuccessResponse(message="Device deactivated successfully")


@admin_router.post("/api/generate-license-key", response_model=GeneratedKey)
async def generate_license_key(_: LicensesWriter, session: SessionDep) -> GeneratedKey:
    """A new unused key `XXXX-XXXX-XXXX-XXXX` (no 0/O or 1/I/L)."""
    return GeneratedKey(license_key=await service.license.generate_key(session))


# --- Admin panel: releases and client configs -----------------------------------------------


@admin_router.get("/api/releases", response_model=Page[ReleaseRead])
async def list_releases(
    _: ReleasesReader,
    session: SessionDep,
    params: PageDep,
    channel: Annotated[str | None, Query(max_length=32)] = None,
) -> Page[ReleaseRead]:
    rows, total = await service.release.list(session, channel=channel, params=params)
    return Page.of([ReleaseRead.model_validate(r) for r in rows], total=total, params=params)


@admin_router.post("/api/releases", response_model=ReleaseRead, status_code=status.HTTP_201_CREATED)
async def create_release(
    body: ReleaseCreate, subject: ReleasesWriter, session: SessionDep
) -> ReleaseRead:
    """Publish a version."""
    created = await service.release.create(session, subject.actor, **body.model_dump())
    return ReleaseRead.model_validate(created)


@admin_router.get("/api/releases/{release_id:int}", response_model=ReleaseRead)
async def get_release(release_id: int, _: ReleasesReader, session: SessionDep) -> ReleaseRead:
    return ReleaseRead.model_validate(await service.release.get(session, release_id))


@admin_router.put("/api/releases/{release_id:int}", response_model=ReleaseRead)
async def update_release(
    release_id: int, body: ReleaseUpdate, subject: ReleasesWriter, session: SessionDep
) -> ReleaseRead:
    found = await service.release.get(session, release_id)
    updated = await service.release.update(
        session, subject.actor, found, changes=body.model_dump(exclude_unset=True)
    )
    return ReleaseRead.model_validate(updated)


@admin_router.delete("/api/releases/{release_id:int}", response_model=SuccessResponse)
async def delete_release(
    release_id: int, subject: ReleasesWriter, session: SessionDep
) -> SuccessResponse:
    found = await service.release.get(session, release_id)
    await service.release.delete(session, subject.actor, found)
    return SuccessResponse(message="Release deleted")


@admin_router.get("/api/client-configs", response_model=Page[ClientConfigRead])
async def list_client_configs(
    _: LicensesReader, session: SessionDep, params: PageDep
) -> Page[ClientConfigRead]:
    rows, total = await service.client_config.list(session, params=params)
    return Page.of([ClientConfigRead.model_validate(r) for r in rows], total=total, params=params)


@admin_router.post(
    "/api/client-configs", response_model=ClientConfigRead, status_code=status.HTTP_201_CREATED
)
async def create_client_config(
    body: ClientConfigCreate, subject: LicensesWriter, session: SessionDep
) -> ClientConfigRead:
    """Configure a client application that opens sessions."""
    options: dict[str, Any] = body.model_dump(exclude={"name"})
    created = await service.client_config.create(session, subject.actor, name=body.name, **options)
    return ClientConfigRead.model_validate(created)


@admin_router.get("/api/client-configs/{config_id:int}", response_model=ClientConfigRead)
async def get_client_config(
    config_id: int, _: LicensesReader, session: SessionDep
) -> ClientConfigRead:
    return ClientConfigRead.model_validate(await service.client_config.get(session, config_id))


@admin_router.put("/api/client-configs/{config_id:int}", response_model=ClientConfigRead)
async def update_client_config(
    config_id: int, body: ClientConfigUpdate, subject: LicensesWriter, session: SessionDep
) -> ClientConfigRead:
    found = await service.client_config.get(session, config_id)
    updated = await service.client_config.update(
        session, subject.actor, found, changes=body.model_dump(exclude_unset=True)
    )
    return ClientConfigRead.model_validate(updated)


@admin_router.delete("/api/client-configs/{config_id:int}", response_model=SuccessResponse)
async def delete_client_config(
    config_id: int, subject: LicensesWriter, session: SessionDep, runtime: RuntimeDep
) -> SuccessResponse:
    found = await service.client_config.get(session, config_id)
    await service.client_config.delete(
        session, subject.actor, found, default_name=runtime.settings.license_default_client
    )
    return SuccessResponse(message="Client config deleted")
