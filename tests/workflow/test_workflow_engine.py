"""The dog-registration workflow (shared/domain.md section 7), table-driven.

The expected table is written out here, independently of the YAML, so a change to the
definition that alters who may do what, from where, shows up as a failing test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import workflow
from workflow import (
    Actor,
    GuardContext,
    GuardFailed,
    PastTransition,
    RoleNotAllowed,
    TransitionNotAllowed,
    TransitionRefused,
    available,
    check,
    load_workflow,
)

WF = load_workflow(
    Path(workflow.__file__).parent / "definitions" / "dog_registration.yaml",
    known_effects={"issue_notice", "issue_rejection_notice", "notify_information_request"},
)
STATES = [
    "submitted",
    "completeness_check",
    "information_requested",
    "answer_received",
    "in_review",
    "awaiting_second_approval",
    "approved",
    "notice_issued",
    "tag_issued",
    "closed",
    "rejected",
    "withdrawn",
]
ROLES = ["clerk", "approver", "admin", "system", "citizen"]

# name: (source states, target state, role)
OPEN_BEFORE_DECISION = [
    "submitted",
    "completeness_check",
    "information_requested",
    "answer_received",
    "in_review",
    "awaiting_second_approval",
]
TABLE = {
    "start_check": (["submitted"], "completeness_check", "clerk"),
    "request_information": (["completeness_check", "in_review"], "information_requested", "clerk"),
    "submit_answer": (["information_requested"], "answer_received", "citizen"),
    "resume_review": (["answer_received"], "in_review", "clerk"),
    "complete": (["completeness_check"], "in_review", "clerk"),
    "approve": (["in_review"], "approved", "clerk"),
    "propose_approval": (["in_review"], "awaiting_second_approval", "clerk"),
    "confirm_approval": (["awaiting_second_approval"], "approved", "approver"),
    "return_to_review": (["awaiting_second_approval"], "in_review", "approver"),
    "reject": (
        ["completeness_check", "in_review", "awaiting_second_approval"],
        "rejected",
        "clerk",
    ),
    "withdraw": (OPEN_BEFORE_DECISION, "withdrawn", "citizen"),
    "notice_issued": (["approved"], "notice_issued", "system"),
    "issue_tag": (["notice_issued"], "tag_issued", "clerk"),
    "close": (["tag_issued"], "closed", "clerk"),
}

CLERK_ID, OTHER_CLERK_ID, APPROVER_ID = 11, 12, 21
PROPOSED_BY_CLERK = (
    PastTransition("start_check", CLERK_ID),
    PastTransition("propose_approval", CLERK_ID),
)


def ctx_passing(name: str, actor_id: int) -> GuardContext:
    """A context in which the guards of transition ``name`` pass for ``actor_id``."""
    return GuardContext(
        actor_id=actor_id,
        facts={"needs_four_eyes": name == "propose_approval"},
        history=PROPOSED_BY_CLERK,
    )


ACTOR_IDS = {"clerk": CLERK_ID, "approver": APPROVER_ID}


def actor_with(role: str) -> Actor:
    return Actor(id=ACTOR_IDS.get(role, 99), roles=frozenset({role}))


VALID = [(name, src) for name, (sources, _, _) in TABLE.items() for src in sources]
INVALID_STATE = [
    (name, s) for name, (sources, _, _) in TABLE.items() for s in STATES if s not in sources
]
WRONG_ROLE = [
    (name, src, role)
    for name, (sources, _, right) in TABLE.items()
    for src in sources
    for role in ROLES
    if role != right
]


def test_definition_matches_the_expected_table():
    assert WF.initial == "submitted"
    assert sorted(WF.states) == sorted(STATES)
    assert {s for s, d in WF.states.items() if d.terminal} == {"closed", "rejected", "withdrawn"}
    actual = {t.name: (t.from_, t.to, t.role) for t in WF.transitions}
    assert actual == TABLE


def test_issuing_the_notice_is_an_effect_of_approval():
    assert WF.transition("approve").effects == ["issue_notice"]
    assert WF.transition("confirm_approval").effects == ["issue_notice"]
    assert WF.transition("reject").comment_required is True
    assert WF.transition("return_to_review").comment_required is True


@pytest.mark.parametrize(("name", "state"), VALID)
def test_transition_succeeds_from_its_source_state_with_the_right_role(name, state):
    _, target, role = TABLE[name]
    actor = actor_with(role)
    t = check(WF, state, name, actor, ctx_passing(name, actor.id))
    assert t.name == name
    assert t.to == target


@pytest.mark.parametrize(("name", "state"), INVALID_STATE)
def test_transition_refused_from_every_other_state(name, state):
    _, _, role = TABLE[name]
    actor = actor_with(role)
    with pytest.raises(TransitionNotAllowed) as exc:
        check(WF, state, name, actor, ctx_passing(name, actor.id))
    assert exc.value.status == 409
    label = WF.transition(name).label.de
    assert str(exc.value) == f"„{label}“ ist im Status „{WF.states[state].label.de}“ nicht möglich."


@pytest.mark.parametrize(("name", "state", "role"), WRONG_ROLE)
def test_transition_refused_for_a_wrong_role(name, state, role):
    actor = actor_with(role)
    with pytest.raises(RoleNotAllowed) as exc:
        check(WF, state, name, actor, ctx_passing(name, actor.id))
    assert exc.value.status == 403
    assert "erfordert die Rolle" in str(exc.value)


def test_role_refusal_names_the_required_role_in_german_and_english():
    with pytest.raises(RoleNotAllowed) as exc:
        check(
            WF,
            "awaiting_second_approval",
            "confirm_approval",
            actor_with("clerk"),
            ctx_passing("confirm_approval", CLERK_ID),
        )
    assert exc.value.reason.de == (
        "„Genehmigung bestätigen und Bescheid erstellen“ erfordert die Rolle „Sachgebietsleitung“."
    )
    assert exc.value.reason.en == (
        "'Confirm approval and issue notice' requires the role 'Approver'."
    )


def test_actor_with_several_roles_may_act_in_each():
    both = Actor(id=30, roles=frozenset({"clerk", "approver"}))
    ctx = GuardContext(actor_id=30, history=PROPOSED_BY_CLERK)
    assert check(WF, "submitted", "start_check", both, ctx).to == "completeness_check"
    assert check(WF, "awaiting_second_approval", "confirm_approval", both, ctx).to == "approved"


def test_actor_without_roles_may_do_nothing():
    nobody = Actor(id=None, roles=frozenset())
    for name, state in VALID:
        with pytest.raises(RoleNotAllowed):
            check(WF, state, name, nobody, ctx_passing(name, 0))


def test_unknown_transition_is_refused():
    with pytest.raises(TransitionNotAllowed) as exc:
        check(
            WF,
            "in_review",
            "approve_everything",
            actor_with("clerk"),
            GuardContext(actor_id=CLERK_ID),
        )
    assert exc.value.status == 409
    assert str(exc.value) == (
        "Den Arbeitsschritt „approve_everything“ gibt es in diesem Verfahren nicht."
    )


def test_state_refusal_is_german_with_english_alternative():
    with pytest.raises(TransitionNotAllowed) as exc:
        check(WF, "rejected", "approve", actor_with("clerk"), GuardContext(actor_id=CLERK_ID))
    assert exc.value.reason.de == (
        "„Genehmigen und Bescheid erstellen“ ist im Status „Abgelehnt“ nicht möglich."
    )
    assert exc.value.reason.en == "'Approve and issue notice' is not possible in state 'Rejected'."


# --- four eyes -----------------------------------------------------------------------------


def test_approve_refused_when_four_eyes_needed():
    ctx = GuardContext(actor_id=CLERK_ID, facts={"needs_four_eyes": True})
    with pytest.raises(GuardFailed) as exc:
        check(WF, "in_review", "approve", actor_with("clerk"), ctx)
    assert exc.value.status == 409
    assert "Zweitprüfung" in str(exc.value)
    assert "schlagen Sie die Genehmigung vor" in str(exc.value)


@pytest.mark.parametrize("facts", [{"needs_four_eyes": False}, {}])
def test_direct_approval_when_no_four_eyes_needed(facts):
    ctx = GuardContext(actor_id=CLERK_ID, facts=facts)
    assert check(WF, "in_review", "approve", actor_with("clerk"), ctx).to == "approved"


@pytest.mark.parametrize("facts", [{"needs_four_eyes": False}, {}])
def test_propose_approval_refused_when_no_four_eyes_needed(facts):
    ctx = GuardContext(actor_id=CLERK_ID, facts=facts)
    with pytest.raises(GuardFailed) as exc:
        check(WF, "in_review", "propose_approval", actor_with("clerk"), ctx)
    assert exc.value.status == 409
    assert str(exc.value) == (
        "Für diesen Fall ist keine Zweitprüfung vorgesehen; er kann direkt genehmigt werden."
    )


def test_confirm_refused_for_the_proposer():
    proposer = Actor(id=30, roles=frozenset({"clerk", "approver"}))
    ctx = GuardContext(
        actor_id=30,
        facts={"needs_four_eyes": True},
        history=(PastTransition("start_check", 30), PastTransition("propose_approval", 30)),
    )
    with pytest.raises(GuardFailed) as exc:
        check(WF, "awaiting_second_approval", "confirm_approval", proposer, ctx)
    assert exc.value.status == 409
    assert str(exc.value).startswith("Vier-Augen-Prinzip:")
    # The proposer may still send it back or reject, which are not confirmations.
    assert check(WF, "awaiting_second_approval", "return_to_review", proposer, ctx)
    assert check(WF, "awaiting_second_approval", "reject", proposer, ctx)


def test_confirm_allowed_for_another_approver():
    ctx = GuardContext(
        actor_id=APPROVER_ID, facts={"needs_four_eyes": True}, history=PROPOSED_BY_CLERK
    )
    t = check(WF, "awaiting_second_approval", "confirm_approval", actor_with("approver"), ctx)
    assert t.to == "approved"


def test_four_eyes_looks_at_the_latest_proposal():
    # Proposed by 30, sent back, proposed again by 12: 30 may now confirm, 12 may not.
    history = (
        PastTransition("propose_approval", 30),
        PastTransition("return_to_review", APPROVER_ID),
        PastTransition("propose_approval", OTHER_CLERK_ID),
    )
    dual_30 = Actor(id=30, roles=frozenset({"clerk", "approver"}))
    dual_12 = Actor(id=OTHER_CLERK_ID, roles=frozenset({"clerk", "approver"}))
    check(
        WF,
        "awaiting_second_approval",
        "confirm_approval",
        dual_30,
        GuardContext(actor_id=30, history=history),
    )
    with pytest.raises(GuardFailed):
        check(
            WF,
            "awaiting_second_approval",
            "confirm_approval",
            dual_12,
            GuardContext(actor_id=OTHER_CLERK_ID, history=history),
        )


def test_all_refusals_are_transition_refused():
    for exc_type in (TransitionNotAllowed, RoleNotAllowed, GuardFailed):
        assert issubclass(exc_type, TransitionRefused)


# --- available -----------------------------------------------------------------------------

CLERK = Actor(id=CLERK_ID, roles=frozenset({"clerk"}))
APPROVER = Actor(id=APPROVER_ID, roles=frozenset({"approver"}))

EXPECTED_AVAILABLE = {
    # state: (clerk without four eyes, clerk with four eyes, approver)
    "submitted": (["start_check"], ["start_check"], []),
    "completeness_check": (
        ["request_information", "complete", "reject"],
        ["request_information", "complete", "reject"],
        [],
    ),
    "information_requested": ([], [], []),  # only the citizen answers (or withdraws)
    "answer_received": (["resume_review"], ["resume_review"], []),
    "in_review": (
        ["request_information", "approve", "reject"],
        ["request_information", "propose_approval", "reject"],
        [],
    ),
    "awaiting_second_approval": (["reject"], ["reject"], ["confirm_approval", "return_to_review"]),
    "approved": ([], [], []),
    "notice_issued": (["issue_tag"], ["issue_tag"], []),
    "tag_issued": (["close"], ["close"], []),
    "closed": ([], [], []),
    "rejected": ([], [], []),
    "withdrawn": ([], [], []),
}


@pytest.mark.parametrize("state", STATES)
def test_available_for_clerk_and_approver(state):
    simple, four_eyes, approver = EXPECTED_AVAILABLE[state]

    def names(actor: Actor, needs: bool) -> list[str]:
        ctx = GuardContext(
            actor_id=actor.id, facts={"needs_four_eyes": needs}, history=PROPOSED_BY_CLERK
        )
        return [t.name for t in available(WF, state, actor, ctx)]

    assert names(CLERK, False) == simple
    assert names(CLERK, True) == four_eyes
    assert names(APPROVER, True) == approver
    assert names(APPROVER, False) == approver


def test_available_hides_confirmation_from_the_proposer():
    dual = Actor(id=30, roles=frozenset({"clerk", "approver"}))
    ctx = GuardContext(
        actor_id=30,
        facts={"needs_four_eyes": True},
        history=(PastTransition("propose_approval", 30),),
    )
    names = [t.name for t in available(WF, "awaiting_second_approval", dual, ctx)]
    assert names == ["return_to_review", "reject"]


def test_only_system_issues_the_notice():
    ctx = GuardContext(actor_id=None)
    system = Actor(id=None, roles=frozenset({"system"}))
    assert [t.name for t in available(WF, "approved", system, ctx)] == ["notice_issued"]
    assert available(WF, "approved", Actor(id=1, roles=frozenset({"admin"})), ctx) == []
