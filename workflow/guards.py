"""Named guards: pure checks a transition must pass. Definitions refer to them by name.

A guard receives the :class:`GuardContext` and returns ``None`` when the transition may
proceed, or the reason (German and English) why not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from forms.model import Text


@dataclass(frozen=True)
class PastTransition:
    name: str
    actor_id: int | None


@dataclass(frozen=True)
class GuardContext:
    actor_id: int | None
    facts: dict[str, Any] = field(default_factory=dict)  # e.g. {"needs_four_eyes": True}
    history: tuple[PastTransition, ...] = ()


Guard = Callable[[GuardContext], Text | None]
GUARDS: dict[str, Guard] = {}


def guard(name: str) -> Callable[[Guard], Guard]:
    def register(fn: Guard) -> Guard:
        GUARDS[name] = fn
        return fn

    return register


@guard("four_eyes")
def four_eyes(ctx: GuardContext) -> Text | None:
    """The person confirming a decision is not the one who proposed it."""
    proposers = [p.actor_id for p in ctx.history if p.name == "propose_approval"]
    if proposers and proposers[-1] == ctx.actor_id:
        return Text(
            de="Vier-Augen-Prinzip: Die Entscheidung muss eine zweite Person bestätigen, "
            "nicht die Person, die sie vorgeschlagen hat.",
            en="Four eyes: a second person must confirm the decision, not the person "
            "who proposed it.",
        )
    return None


@guard("needs_four_eyes")
def needs_four_eyes(ctx: GuardContext) -> Text | None:
    if not ctx.facts.get("needs_four_eyes"):
        return Text(
            de="Für diesen Fall ist keine Zweitprüfung vorgesehen; "
            "er kann direkt genehmigt werden.",
            en="This case needs no second approval; it can be approved directly.",
        )
    return None


@guard("no_four_eyes_needed")
def no_four_eyes_needed(ctx: GuardContext) -> Text | None:
    if ctx.facts.get("needs_four_eyes"):
        return Text(
            de="Gefährliche Hunde sowie Befreiungen und Ermäßigungen brauchen eine Zweitprüfung: "
            "Bitte schlagen Sie die Genehmigung vor; eine zweite Person bestätigt sie.",
            en="Dangerous dogs, exemptions and reductions need a second approval: propose "
            "the approval and a second person confirms it.",
        )
    return None
