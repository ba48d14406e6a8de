"""What work running on the workflow engine is given: its settings, its database and its
providers.

A workflow builds its `StepContext` once, where it starts (`workflow_context()`, the one place
workflow code reaches the process's engine), and hands it to every step it runs as their first
argument. DBOS records a step's outcome, never its arguments, so the context is passed as it is;
a workflow's own arguments are recorded (for recovery), so a context is never one of them: a
child workflow builds its own where it starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from stellwerk.config import Settings
from stellwerk.database import Database
from stellwerk.operation import engine
from stellwerk.provider.connect import Providers


@dataclass(frozen=True)
class StepContext:
    settings: Settings
    # Bound to the event loop the workflow runs on (DBOS's own, not the request's).
    database: Database
    providers: Providers

    @classmethod
    def of(cls, settings: Settings, database: Database) -> StepContext:
        return cls(settings=settings, database=database, providers=Providers(settings))


def workflow_context() -> StepContext:
    """The context for a workflow starting on this process's engine, on the running loop."""
    current = engine.current()
    return StepContext.of(current.settings, current.database())
