"""Every module that defines workflows: the engine is handed them before it recovers unfinished
ones."""

from stellwerk import jobs
from stellwerk.importer import workflow as import_workflow
from stellwerk.module import workflow as module_workflow
from stellwerk.notify import delivery as notify_delivery
from stellwerk.operation import probe
from stellwerk.project import lifecycle as project_lifecycle
from stellwerk.project import workflow as project_workflow
from stellwerk.server import workflow as server_workflow

# Handed to the workflow engine at start (`engine.configure`).
MODULES = (
    import_workflow,
    jobs,
    module_workflow,
    notify_delivery,
    probe,
    project_lifecycle,
    project_workflow,
    server_workflow,
)

__all__ = [
    "import_workflow",
    "MODULES",
    "jobs",
    "module_workflow",
    "notify_delivery",
    "probe",
    "project_lifecycle",
    "project_workflow",
    "server_workflow",
]
