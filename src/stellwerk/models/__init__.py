"""ORM models, one module per table. Import them from here."""

from stellwerk.models.api_token import ApiToken
from stellwerk.models.audit_event import AuditEvent
from stellwerk.models.client_config import ClientConfig
from stellwerk.models.customer import Customer
from stellwerk.models.dns_zone import DnsZone
from stellwerk.models.import_record import ImportRecord
from stellwerk.models.installation_secret import InstallationSecret
from stellwerk.models.lead_contact import LeadContact
from stellwerk.models.lead_contact_detail import LeadContactDetail
from stellwerk.models.lead_institution import LeadInstitution
from stellwerk.models.lead_note import LeadNote
from stellwerk.models.lead_note_version import LeadNoteVersion
from stellwerk.models.license import License
from stellwerk.models.license_activation import LicenseActivation
from stellwerk.models.license_session import LicenseSession
from stellwerk.models.module_feed_ticket import ModuleFeedTicket
from stellwerk.models.module_instance import ModuleInstance
from stellwerk.models.module_pin import ModulePin
from stellwerk.models.module_repository import ModuleRepository
from stellwerk.models.notification_delivery import NotificationDelivery
from stellwerk.models.notification_event import NotificationEvent
from stellwerk.models.notification_recipient import NotificationRecipient
from stellwerk.models.operation import Operation
from stellwerk.models.operation_event import OperationEvent
from stellwerk.models.operation_prompt import OperationPrompt
from stellwerk.models.process_heartbeat import ProcessHeartbeat
from stellwerk.models.project import Project
from stellwerk.models.redirect_daily_count import RedirectDailyCount
from stellwerk.models.redirect_daily_total import RedirectDailyTotal
from stellwerk.models.redirect_daily_visitor import RedirectDailyVisitor
from stellwerk.models.redirect_domain import RedirectDomain
from stellwerk.models.redirect_group import RedirectGroup
from stellwerk.models.redirect_hit import RedirectHit
from stellwerk.models.redirect_hourly_total import RedirectHourlyTotal
from stellwerk.models.redirect_monthly_count import RedirectMonthlyCount
from stellwerk.models.redirect_routing_state import RedirectRoutingState
from stellwerk.models.redirect_salt import RedirectSalt
from stellwerk.models.registrar_contact import RegistrarContact
from stellwerk.models.registrar_domain import RegistrarDomain
from stellwerk.models.release import Release
from stellwerk.models.resource import Resource
from stellwerk.models.service_provider import ServiceProvider
from stellwerk.models.system_api_key import SystemApiKey
from stellwerk.models.user import User
from stellwerk.models.vps_instance import VpsInstance
from stellwerk.models.vps_plan import VpsPlan
from stellwerk.models.web_session import WebSession
from stellwerk.models.webhook_endpoint import WebhookEndpoint
from stellwerk.models.worker import Worker

__all__ = [
    "ApiToken",
    "AuditEvent",
    "ClientConfig",
    "Customer",
    "DnsZone",
    "ImportRecord",
    "LeadContact",
    "LeadContactDetail",
    "LeadInstitution",
    "LeadNote",
    "LeadNoteVersion",
    "InstallationSecret",
    "License",
    "LicenseActivation",
    "LicenseSession",
    "ModuleFeedTicket",
    "ModuleInstance",
    "ModulePin",
    "ModuleRepository",
    "NotificationDelivery",
    "NotificationEvent",
    "NotificationRecipient",
    "Operation",
    "OperationEvent",
    "OperationPrompt",
    "ProcessHeartbeat",
    "Project",
    "RedirectDailyCount",
    "RedirectDailyTotal",
    "RedirectDailyVisitor",
    "RedirectDomain",
    "RedirectGroup",
    "RedirectHit",
    "RedirectHourlyTotal",
    "RedirectMonthlyCount",
    "RedirectRoutingState",
    "RedirectSalt",
    "RegistrarContact",
    "RegistrarDomain",
    "Release",
    "Resource",
    "ServiceProvider",
    "SystemApiKey",
    "User",
    "VpsInstance",
    "VpsPlan",
    "WebSession",
    "Worker",
    "WebhookEndpoint",
]
