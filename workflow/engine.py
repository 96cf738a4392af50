"""The workflow engine: which transitions are possible, and refusal of illegal ones. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from forms.model import Text
from workflow.guards import GUARDS, GuardContext
from workflow.model import TransitionDef, WorkflowDefinition


class TransitionRefused(Exception):
    """A transition that may not happen; ``reason`` says why in German and English."""

    status = 409

    def __init__(self, reason: Text) -> None:
        super().__init__(reason.de)
        self.reason = reason


class TransitionNotAllowed(TransitionRefused):
    """Unknown transition or not possible from the current state (HTTP 409)."""


class RoleNotAllowed(TransitionRefused):
    """The actor lacks the role the transition requires (HTTP 403)."""

    status = 403


class GuardFailed(TransitionRefused):
    """A named guard refused the transition (HTTP 409)."""


@dataclass(frozen=True)
class Actor:
    id: int | None
    roles: frozenset[str]


def check(
    wf: WorkflowDefinition, state: str, name: str, actor: Actor, ctx: GuardContext
) -> TransitionDef:
    """Return the transition if ``actor`` may perform ``name`` in ``state``; raise otherwise."""
    t = wf.transition(name)
    if t is None:
        raise TransitionNotAllowed(
            Text(
                de=f"Den Arbeitsschritt „{name}“ gibt es in diesem Verfahren nicht.",
                en=f"This procedure has no step '{name}'.",
            )
        )
    if state not in t.from_:
        current = wf.states[state].label if state in wf.states else Text(de=state)
        raise TransitionNotAllowed(
            Text(
                de=f"„{t.label.de}“ ist im Status „{current.de}“ nicht möglich.",
                en=f"'{t.label.get('en')}' is not possible in state '{current.get('en')}'.",
            )
        )
    if t.role not in actor.roles:
        raise RoleNotAllowed(
            Text(
                de=f"„{t.label.de}“ erfordert die Rolle „{ROLE_LABELS[t.role].de}“.",
                en=f"'{t.label.get('en')}' requires the role '{ROLE_LABELS[t.role].get('en')}'.",
            )
        )
    for g in t.guards:
        reason = GUARDS[g](ctx)
        if reason is not None:
            raise GuardFailed(reason)
    return t


def available(
    wf: WorkflowDefinition, state: str, actor: Actor, ctx: GuardContext
) -> list[TransitionDef]:
    """Transitions the actor may perform now (role and guards pass), in table order."""
    result = []
    for t in wf.transitions:
        try:
            check(wf, state, t.name, actor, ctx)
        except TransitionRefused:
            continue
        result.append(t)
    return result


ROLE_LABELS = {
    "clerk": Text(de="Sachbearbeitung", en="Clerk"),
    "approver": Text(de="Sachgebietsleitung", en="Approver"),
    "admin": Text(de="Administration", en="Administrator"),
    "system": Text(de="System", en="System"),
    "citizen": Text(de="Antragstellende Person", en="Applicant"),
}
