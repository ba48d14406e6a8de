"""Compute providers: the `Compute` Protocol (base.py), one folder per provider
(`<name>/adapter.py`, `<name>/sandbox.py`), and what the adapters (sdk.py) and sandboxes
(sandbox_common.py) share."""
