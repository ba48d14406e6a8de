"""Projects (the VRS satellites): domain, DNS, Coolify project and application, provisioned by
one durable workflow (workflow.py) and managed afterwards (suspend, resume, archive)."""
