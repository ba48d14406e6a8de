"""Global search across customers, licenses, devices and leads (admin panel)."""
