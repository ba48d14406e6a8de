"""Durable operations: every long task, run as a DBOS workflow and tracked in `operations`."""
