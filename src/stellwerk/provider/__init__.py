"""Talking to providers: adapters behind Protocols per kind, each with a sandbox beside it.

provider/registry.py    one entry per provider: how to open it, base URL, budgets, sandbox,
                        catalog routes, capabilities, its check
provider/connect.py     opening adapters from the settings (and compute adapters from rows)
provider/check.py       `stellwerk providers check`: read-only calls and a verdict per provider
provider/error.py       ProviderError with the normalized codes
provider/action.py      long provider work: Action.wait_until_finished(backoff=...)
provider/budget.py      request budgets per provider token, shared through Redis when configured
provider/http.py        ProviderHttp: budget, retries on transient failures, timeouts, call log
provider/cache.py       catalog cache (plans, images, regions, marketplace)
provider/sandbox/       the kit every sandbox is built with, OpenAPI checks, and the listener
provider/<kind>/        base.py (the Protocol) and <name>/{adapter,sandbox}.py per provider
"""
