"""Talking to providers: adapters behind Protocols per kind, each with a sandbox beside it.

provider/error.py       ProviderError with the normalized codes
provider/action.py      long provider work: Action.wait_until_finished(backoff=...)
provider/budget.py      request budgets per provider token, shared through Redis when configured
provider/http.py        ProviderHttp: budget, retries on transient failures, timeouts, call log
provider/cache.py       catalog cache (plans, images, regions, marketplace)
provider/sandbox/       the kit every sandbox is built with, and the listener that runs them
provider/<kind>/        base.py (the Protocol), <name>.py (adapter), <name>_sandbox.py (sandbox)
"""
