"""Settings from `STELLWERK_*` variables, the names the API documents use, and `.env`."""

from __future__ import annotations

import functools
import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from stellwerk.exceptions import StellwerkError

_ORIGIN = re.compile(r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/?")
# ` # note` after a value: `.env` files drop it, but systemd's EnvironmentFile and
# `docker --env-file` keep it in the value.
_TRAILING_COMMENT = re.compile(r"\s+#.*\Z", re.DOTALL)
# What the shipped examples and documents put where a secret belongs.
TEMPLATE_SECRETS = frozenset({"...", "secret", "password", "<openssl rand -base64 48>"})
TEMPLATE_MARKERS = ("change-me", "changeme", "change_me")
MIN_SECRET_KEY_BYTES = 32


class UnsafeConfiguration(StellwerkError):
    default_code = "unsafe_configuration"


def _alias(name: str) -> AliasChoices:
    """A documented variable name, also accepted with the `STELLWERK_` prefix."""
    return AliasChoices(name, f"STELLWERK_{name}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STELLWERK_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # Service
    host: str = "127.0.0.1"
    port: int = 8000
    redirect_port: int = 8080
    data_dir: Path = Path("var")
    database_url: str | None = None
    # PostgreSQL connections per process and pool: this many kept, as many more at peaks.
    database_pool_size: int = Field(default=10, ge=1, le=100)
    redis_url: str | None = None
    secret_key: SecretStr | None = None
    public_url: str | None = None
    # Origins (comma-separated `scheme://host[:port]`) whose browser pages may call the APIs
    # (CORS, with credentials). Empty: none, the default.
    cors_origins: str = ""
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    metrics_token: SecretStr | None = None
    # Where a worker process (`serve --role worker`, which answers no HTTP otherwise) serves
    # `/metrics`; unset: nowhere. 0 picks a free port. API processes answer on their own port.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)

    # First start (automated installs)
    admin_username: str | None = None
    admin_password: SecretStr | None = None

    # Identity
    jwt_expiry_seconds: int = 3600
    session_expiry_seconds: int = 12 * 3600
    token_rate_limit: str = "60/minute"
    login_rate_limit: str = "5/minute"
    license_rate_limit: str = "100/minute"
    # Servers a customer may hold at once, unless their account says otherwise.
    customer_server_quota: int = Field(default=5, ge=0)

    # License server
    license_activation_rate_limit: str = "10/hour"  # new activations per license
    license_default_client: str = "Account Forger"
    license_file_days: int = 30  # how long a signed offline license file stays valid
    # A device without a heartbeat or verify for this many days loses its seat; 0 = never.
    license_device_inactive_days: int = 30

    # Module manager
    # Where instances live (STELLWERK_MODULES_DIR; STELLWERK_MODULES_ROOT is the older name).
    # Default: `{data_dir}-modules`, beside the data directory and never inside it.
    modules_root: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("STELLWERK_MODULES_DIR", "STELLWERK_MODULES_ROOT"),
    )
    # The unprivileged user module processes run as when Stellwerk runs as root.
    module_user: str = "stellwerk-module"
    module_runtime: Literal["process", "container", "swarm"] = "process"
    module_docker_host: str | None = None  # default: DOCKER_HOST or the local socket
    module_stack_name: str = "stellwerk"
    module_network: str | None = None  # default: {stack}_modules
    module_mount_target: str = "/module"
    module_index_ttl_seconds: float = 300.0
    module_max_archive_bytes: int = 100 * 1024 * 1024
    # How often an open `/modules/events` stream or `/ws/module_feed` socket checks that its
    # credential is still valid (so either ends within this long of a revocation).
    module_events_recheck_seconds: float = 15.0

    # Durable operations
    executor_id: str = "local"
    workers: bool = True
    # What `stellwerk serve` runs: everything (all), only HTTP (api), or only workflows (worker).
    role: Literal["all", "api", "worker"] = "all"
    # How often a worker asks each of the workflow engine's queues for new work (one transaction
    # on the system database each time): what people start (operations, work on a module's
    # process) every this many seconds, background work (deliveries, deploys, imports, job
    # firings) every twice as long.
    queue_poll_seconds: float = Field(default=0.5, gt=0, le=30)
    # Each worker records a heartbeat this often; one silent for `worker_dead_after_seconds`
    # is taken over by another worker (its pending operations go on there).
    worker_heartbeat_seconds: float = Field(default=5.0, gt=0)
    worker_dead_after_seconds: float = Field(default=15.0, gt=0)
    # Periodic jobs this process leaves out, comma-separated (docs/deployment.md names them),
    # e.g. `redirect.target_checks` where outbound HTTP is not wanted.
    disabled_jobs: str = ""
    # How long an operation waits for the answer to a question before it fails.
    operation_prompt_timeout_seconds: float = Field(default=3600.0, gt=0)

    # Notifications (docs/notifications.md): tries per delivery, the wait after the first failed
    # try (doubled after each further one, up to the maximum), a webhook's time to answer.
    notify_max_attempts: int = Field(default=10, ge=1, le=100)
    notify_retry_seconds: float = Field(default=5.0, gt=0)
    notify_retry_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # A license announces `license.expiring` this many days before it ends.
    license_expiring_days: int = Field(default=30, ge=1)

    # Sandboxes
    sandbox: bool | None = None
    # INWX, Coolify, Hetzner, Linode and DigitalOcean sandboxes listen on this port + 1..5;
    # 0 (the default): on free loopback ports, shown at start and in /status.
    sandbox_port: int = Field(default=0, ge=0, le=65530)

    # Servers (multi-provider-vps-api.md): catalog cache lifetimes and provisioning
    catalog_cache_seconds: int = 3600  # plans/sizes, images, regions
    marketplace_cache_seconds: int = 6 * 3600  # 1-Click apps, StackScripts
    # How long the create operation waits for a new server to run before leaving it to
    # reconciliation.
    servers_provision_timeout_seconds: float = 900.0

    # Redirects (nexredirect-api.md): addresses for `dns_records`, resolvers for verification
    public_ipv4: str | None = None
    public_ipv6: str | None = None
    dns_resolvers: str | None = None  # comma-separated host[:port]; default: the system's
    redirect_dns_recheck_seconds: float = 3600.0
    # Peers whose X-Forwarded-For Stellwerk believes, on every port (comma-separated IPs/CIDRs;
    # default: none, so the connection's peer is the client).
    trusted_proxies: str = ""
    redirect_salt_retention_days: int = 2
    redirect_hit_flush_seconds: float = 0.5
    redirect_hit_batch_size: int = 1000
    redirect_hit_buffer_max: int = 200_000
    redirect_refresh_seconds: float = 0.5
    # How often each domain's target is checked (redirect chain, status, certificate); 0 = never.
    redirect_target_check_seconds: float = 86_400.0
    # Let target checks reach loopback and private addresses (targets on the company's network).
    redirect_target_check_private: bool = False
    # Data plane worker processes (`stellwerk serve`, `stellwerk redirect serve`); default: one
    # per CPU. 0: `stellwerk serve` runs no data plane.
    redirect_workers: int | None = Field(default=None, ge=0, le=64)
    release_feed_url: str | None = None
    release_feed_cache_seconds: float = 3600.0
    auto_update: bool = False
    api_v1_sunset: str | None = None  # an HTTP date sent as `Sunset` on /api/v1 once set

    # Documented integration variables (vrs-api-integrations.md §5)
    inwx_username: str | None = Field(default=None, validation_alias=_alias("INWX_USERNAME"))
    inwx_password: SecretStr | None = Field(default=None, validation_alias=_alias("INWX_PASSWORD"))
    inwx_2fa_secret: SecretStr | None = Field(
        default=None, validation_alias=_alias("INWX_2FA_SECRET")
    )
    inwx_use_test: bool = Field(default=False, validation_alias=_alias("INWX_USE_TEST"))
    # Another DomRobot endpoint (a proxy, a test system); wins over INWX_USE_TEST.
    inwx_api_url: str | None = Field(default=None, validation_alias=_alias("INWX_API_URL"))
    # The Coolify instance, with or without `/api/v1`.
    coolify_api_url: str | None = Field(default=None, validation_alias=_alias("COOLIFY_API_URL"))
    coolify_api_token: SecretStr | None = Field(
        default=None, validation_alias=_alias("COOLIFY_API_TOKEN")
    )
    coolify_default_server_uuid: str | None = Field(
        default=None, validation_alias=_alias("COOLIFY_DEFAULT_SERVER_UUID")
    )
    vrs_core_repo: str = Field(
        default="https://github.com/vrs/vrs-core.git", validation_alias=_alias("VRS_CORE_REPO")
    )
    vrs_core_branch: str = Field(default="main", validation_alias=_alias("VRS_CORE_BRANCH"))
    hetzner_api_token: SecretStr | None = Field(
        default=None, validation_alias=_alias("HETZNER_API_TOKEN")
    )
    # The Hetzner Cloud API that serves DNS zones (default https://api.hetzner.cloud/v1).
    hetzner_dns_api_url: str | None = Field(
        default=None, validation_alias=_alias("HETZNER_DNS_API_URL")
    )
    smtp_host: str | None = Field(default=None, validation_alias=_alias("SMTP_HOST"))
    smtp_port: int = Field(default=587, validation_alias=_alias("SMTP_PORT"))
    smtp_user: str | None = Field(default=None, validation_alias=_alias("SMTP_USER"))
    smtp_password: SecretStr | None = Field(default=None, validation_alias=_alias("SMTP_PASSWORD"))
    smtp_from: str | None = Field(default=None, validation_alias=_alias("SMTP_FROM"))
    marketplace_url: str | None = Field(default=None, validation_alias=_alias("MARKETPLACE_URL"))
    marketplace_api_key: SecretStr | None = Field(
        default=None, validation_alias=_alias("MARKETPLACE_API_KEY")
    )

    # Domains, DNS and projects (docs/provisioning.md)
    powerdns_api_url: str | None = None  # e.g. http://127.0.0.1:8081 (the PowerDNS webserver)
    powerdns_api_key: SecretStr | None = None
    powerdns_server_id: str = "localhost"
    powerdns_nameservers: str = ""  # comma-separated NS names for new zones
    dns_default_provider: str = "inwx"  # inwx | powerdns | hetzner: for zones not yet known
    project_server_ip: str | None = None  # A records' address when the server has no IP
    project_deploy_timeout_seconds: float = 1800.0
    project_poll_seconds: float = 10.0
    # The plugins a project may ask for (comma-separated); anything else is refused.
    project_plugins: str = "core,directory,kontakt,crm"
    project_health_timeout_seconds: float = 120.0
    # Health URL template; `{domain}` is replaced. Default: https://{domain}/health. In sandbox
    # mode without one, Coolify's own health check (`running:healthy`) is the verdict.
    project_health_url: str | None = None
    project_database_url: str | None = None  # template for DATABASE_URL; `{project}` replaced
    # cx23: the CX Gen3 successor of cx22, which Hetzner removed after 2025 (docs/providers.md).
    project_hetzner_server_type: str = "cx23"
    project_hetzner_location: str = "fsn1"
    project_hetzner_image: str = "ubuntu-24.04"
    coolify_private_key_uuid: str | None = None  # the SSH key Coolify puts on new servers
    coolify_hetzner_token_uuid: str | None = None  # Coolify's stored Hetzner token

    @property
    def resolved_database_url(self) -> str:
        """The async SQLAlchemy URL; SQLite in the data directory unless configured."""
        if self.database_url:
            return to_async_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'stellwerk.sqlite').resolve()}"

    @property
    def resolved_modules_root(self) -> Path:
        if self.modules_root is not None:
            return self.modules_root.resolve()
        data_dir = self.data_dir.resolve()
        return data_dir.with_name(f"{data_dir.name}-modules")

    @property
    def legacy_modules_root(self) -> Path:
        """Where instances lived before they moved out of the data directory."""
        return (self.data_dir / "modules").resolve()

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def has_provider_credentials(self) -> bool:
        return any(
            (self.inwx_username, self.coolify_api_token, self.hetzner_api_token),
        )

    @field_validator("*", mode="before")
    @classmethod
    def _no_trailing_comment(cls, value: object, info: ValidationInfo) -> object:
        """Drop a trailing ` # comment` from a value; refuse one after a secret, whose real
        value might contain ` #`."""
        if not isinstance(value, str) or not _TRAILING_COMMENT.search(value):
            return value
        name = info.field_name or ""
        if name in _secret_fields():
            raise ValueError(
                "ends in what looks like a comment (' #...'); put comments on a line of their "
                "own: systemd and docker keep them in the value"
            )
        return _TRAILING_COMMENT.sub("", value)

    @field_validator("cors_origins")
    @classmethod
    def _cors_origins(cls, value: str) -> str:
        for origin in (o.strip() for o in value.split(",")):
            if origin and not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin such as https://app.example.com "
                    "(a scheme, a host and maybe a port; no path, no wildcard)"
                )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        for item in (p.strip() for p in value.split(",")):
            if not item:
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an address or network such as 127.0.0.1 or 10.0.0.0/8"
                ) from None
        return value

    @property
    def cors_origin_list(self) -> list[str]:
        """`cors_origins` as a list, each as browsers send it in `Origin`."""
        return [o.strip().rstrip("/").lower() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def project_plugin_list(self) -> list[str]:
        """`project_plugins` as a list, lower case."""
        return [p.strip().lower() for p in self.project_plugins.split(",") if p.strip()]

    @property
    def disabled_job_list(self) -> list[str]:
        """`disabled_jobs` as a list of job names."""
        return [j.strip() for j in self.disabled_jobs.split(",") if j.strip()]

    @property
    def trusted_proxy_list(self) -> list[str]:
        """`trusted_proxies` as a list of addresses and networks."""
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def sandbox_enabled(self) -> bool:
        """Sandboxes run when asked for, or when no provider credentials are configured."""
        if self.sandbox is not None:
            return self.sandbox
        return not self.has_provider_credentials


@functools.cache
def _secret_fields() -> frozenset[str]:
    return frozenset(
        name
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    )


def env_name(field_name: str) -> str:
    """The variable an operator sets for a setting."""
    field = Settings.model_fields.get(field_name)
    alias = field.validation_alias if field is not None else None
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return f"STELLWERK_{field_name.upper()}"


def is_template_secret(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered in TEMPLATE_SECRETS or any(marker in lowered for marker in TEMPLATE_MARKERS)


def unsafe_reason(settings: Settings) -> str | None:
    """Why these settings must not run a real installation (None: they may). Sandbox mode,
    which reaches no real provider, accepts anything."""
    if settings.sandbox_enabled:
        return None
    secrets = {
        "STELLWERK_SECRET_KEY": settings.secret_key,
        "STELLWERK_METRICS_TOKEN": settings.metrics_token,
        "STELLWERK_ADMIN_PASSWORD": settings.admin_password,
    }
    for name, secret in secrets.items():
        if secret is not None and is_template_secret(secret.get_secret_value()):
            return f"{name} is still the example's placeholder: set a secret of your own"
    if settings.database_url:
        try:
            password = make_url(settings.database_url).password
        except ArgumentError:
            password = None
        if password is not None and is_template_secret(str(password)):
            return (
                "STELLWERK_DATABASE_URL still has the example's placeholder password: "
                "set the database's real password"
            )
    if settings.secret_key is not None:
        length = len(settings.secret_key.get_secret_value().encode())
        if length < MIN_SECRET_KEY_BYTES:
            return (
                f"STELLWERK_SECRET_KEY has {length} bytes, fewer than {MIN_SECRET_KEY_BYTES}: "
                "generate one with `openssl rand -base64 48`"
            )
    return None


def refuse_unsafe(settings: Settings) -> None:
    """Raise `UnsafeConfiguration` with a one-line reason when the settings are unsafe."""
    reason = unsafe_reason(settings)
    if reason is not None:
        raise UnsafeConfiguration(f"Refusing to start: {reason}")


def to_async_url(url: str) -> str:
    """Accept the URLs people write (`postgresql://`, `postgres://`) and pick async drivers."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def to_sync_url(url: str) -> str:
    """The same database for synchronous clients (DBOS, Alembic offline)."""
    if url.startswith("postgresql+asyncpg://"):
        return "postgresql://" + url[len("postgresql+asyncpg://") :]
    if url.startswith("sqlite+aiosqlite:///"):
        return "sqlite:///" + url[len("sqlite+aiosqlite:///") :]
    return url


@functools.cache
def get_settings() -> Settings:
    return Settings()
