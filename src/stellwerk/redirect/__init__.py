"""Redirect domains: the NexRedirect API, the data plane, private hit analytics."""
