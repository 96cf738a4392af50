"""The admin audit log: append-only hash chain per municipality, no secrets, verified by
``amtsweg audit verify`` together with the case chains."""

from __future__ import annotations

from sqlmodel import select

from services.audit.models import AdminEvent
from services.audit.service import record_admin, verify


def test_chains_per_municipality_verify_and_tampering_is_named(
    db, municipality, other_municipality
):
    for i in range(3):
        record_admin(
            db,
            municipality_id=municipality.id,
            actor_id=None,
            actor_name="Anna Admin",
            action="user_updated",
            target=f"user:u{i}",
            before={"roles": ["clerk"]},
            after={"roles": ["admin"], "password": "geheim", "password_hash": "$argon2id$x"},
        )
    record_admin(
        db,
        municipality_id=other_municipality.id,
        actor_id=None,
        actor_name="Frank",
        action="municipality_updated",
        target="municipality",
        before={},
        after={"phone": "1"},
    )
    db.commit()
    events = db.exec(select(AdminEvent).order_by(AdminEvent.municipality_id, AdminEvent.seq)).all()
    assert [(e.municipality_id, e.seq) for e in events] == [
        (municipality.id, 1),
        (municipality.id, 2),
        (municipality.id, 3),
        (other_municipality.id, 1),
    ]
    assert events[1].prev_hash == events[0].hash and events[3].prev_hash == "0" * 64
    assert events[0].after == {"roles": ["admin"]}  # secrets are never written
    checked, broken = verify(db)
    assert checked == 4 and broken == []

    events[1].after = {"roles": ["clerk"]}
    db.add(events[1])
    db.commit()
    _, broken = verify(db)
    assert [(b.case_id, b.municipality_id, b.seq) for b in broken] == [(None, municipality.id, 2)]
    assert "changed after writing" in broken[0].reason
    assert broken[0].label == f"admin log of municipality {municipality.id}, event 2"

    db.delete(events[1])
    db.commit()
    _, broken = verify(db)
    assert [(b.seq, b.reason) for b in broken] == [(3, "event 2 is missing")]
