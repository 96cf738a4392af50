"""Workflow engine: transition tables as data, pure checks, named guards (FIM Prozesse)."""

from workflow.engine import (
    Actor,
    GuardFailed,
    RoleNotAllowed,
    TransitionNotAllowed,
    TransitionRefused,
    available,
    check,
)
from workflow.guards import GuardContext, PastTransition
from workflow.loader import WorkflowDefinitionError, load_workflow, parse_workflow
from workflow.model import StateDef, TransitionDef, WorkflowDefinition

__all__ = [
    "Actor",
    "GuardContext",
    "GuardFailed",
    "PastTransition",
    "RoleNotAllowed",
    "StateDef",
    "TransitionDef",
    "TransitionNotAllowed",
    "TransitionRefused",
    "WorkflowDefinition",
    "WorkflowDefinitionError",
    "available",
    "check",
    "load_workflow",
    "parse_workflow",
]
