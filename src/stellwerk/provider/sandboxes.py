"""Every provider sandbox module, imported so each registers itself with the sandbox listener."""

from stellwerk.provider.compute import digitalocean_sandbox, hetzner_sandbox, linode_sandbox
from stellwerk.provider.paas import coolify_sandbox
from stellwerk.provider.registrar import inwx_sandbox

__all__ = [
    "coolify_sandbox",
    "digitalocean_sandbox",
    "hetzner_sandbox",
    "inwx_sandbox",
    "linode_sandbox",
]
