"""Citizens' side of a case: drafts between steps, filing, the status page."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import defer
from sqlmodel import Session, select

from forms import (
    FieldError,
    check_text,
    prune,
    summarize,
    validate,
    validate_steps,
    visible_steps,
)
from forms.model import FieldDef, StepDef, Text
from services.audit import service as audit
from services.audit.models import CaseEvent
from services.cases import lifecycle
from services.cases.models import Case, Document, Draft, RegisteredDog
from services.cases.sequences import next_value
from services.documents.fonts import printable
from services.errors import Conflict, DocumentPending, DomainError, NotFound, StatusNotFound
from services.jobs import service as jobs
from services.mail import service as mail
from services.municipalities.models import Municipality
from services.municipalities.service import letterhead
from services.procedures.registry import Procedure, of
from services.timeutil import aware, local, today_local, utcnow
from services.uploads import service as uploads
from services.uploads.models import Upload
from services.uploads.scanner import VirusScanner
from workflow import Actor, GuardContext, TransitionRefused, check


def search_key(*parts: str) -> str:
    """Owner name for prefix search: casefolded, single spaces ("mustermann erika")."""
    return " ".join(" ".join(parts).casefold().replace(",", " ").split())[:220]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def status_token_for(secret_key: str, submission_key: str) -> str:
    """The status link token, derived from the case's submission key (the hash of its draft
    token) and the secret key: a repeated submit shows the same link, and later mails can
    carry it, while the database stores only the token's hash (ADR 0002)."""
    mac = hmac.new(secret_key.encode(), b"status:" + submission_key.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def status_url(settings_base_url: str, secret_key: str, case: Case) -> str:
    token = status_token_for(secret_key, case.submission_key)
    return f"{settings_base_url.rstrip('/')}/status/{token}"


# --- drafts -----------------------------------------------------------------------------------


def start_draft(
    db: Session, municipality: Municipality, proc: Procedure, retention_days: int
) -> tuple[Draft, str]:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    draft = Draft(
        token_hash=token_hash(token),
        municipality_id=municipality.id,
        procedure_id=proc.id,
        procedure_version=proc.version,
        answers={},
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(days=retention_days),
    )
    db.add(draft)
    db.flush()
    return draft, token


def find_draft(
    db: Session, token: str | None, municipality_id: int, lock: bool = False
) -> Draft | None:
    if not token:
        return None
    query = select(Draft).where(
        Draft.token_hash == token_hash(token), Draft.municipality_id == municipality_id
    )
    if lock:
        query = query.with_for_update()
    draft = db.exec(query).first()
    if draft is None or aware(draft.expires_at) < utcnow():
        return None
    return draft


def _chip_errors(
    db: Session, municipality_id: int, proc: Procedure, clean: dict[str, Any]
) -> list[FieldError]:
    errors = []
    for f in (f for s in proc.form.steps for f in s.fields if f.unique and f.id in clean):
        taken = db.exec(
            select(RegisteredDog.id).where(
                RegisteredDog.municipality_id == municipality_id,
                RegisteredDog.chip_number == clean[f.id],
                RegisteredDog.liable_until == None,  # noqa: E711
            )
        ).first()
        if taken is not None:
            errors.append(FieldError(f.id, "chip_taken", {}))
    return errors


def save_step(
    db: Session,
    draft: Draft,
    proc: Procedure,
    step: StepDef,
    raw: dict[str, Any],
    lang: str = "de",
    partial: bool = False,
) -> list[FieldError]:
    """Validate one step's answers and store them in the draft if they are valid. With
    ``partial`` (save for later, upload, language switch) the valid answers are stored even
    when others on the page are missing or wrong."""
    raw = {**raw, **file_answers(db, draft, step)}
    clean, errors = validate_steps(
        proc.form,
        [step],
        raw,
        context=draft.answers,
        today=today_local(),
        lang=lang,
        printable=printable,
    )
    errors += _chip_errors(db, draft.municipality_id, proc, clean)
    if errors and not partial:
        return errors
    pending = {k: v for k, v in draft.answers.get(PENDING, {}).items() if k != step.id}
    if partial:
        failed = {e.field.split(".")[0] for e in errors}
        clean = {k: v for k, v in clean.items() if k not in failed}
        keep = {k: v for k, v in draft.answers.items() if k not in clean}
        # What the citizen typed but is not valid yet is kept as typed, never silently lost.
        typed = {k: raw[k] for k in failed if k in raw and not _is_file(step, k)}
        if typed:
            pending[step.id] = typed
        answers = {**keep, **clean}
    else:
        keep = {k: v for k, v in draft.answers.items() if k not in {f.id for f in step.fields}}
        answers = prune(proc.form, {**keep, **clean})
    answers.pop(PENDING, None)
    if pending:
        answers[PENDING] = pending
    draft.answers = answers
    draft.updated_at = utcnow()
    db.add(draft)
    db.flush()
    return errors


# Key in a draft's answers for typed but not yet valid inputs per step (shown again as typed).
PENDING = "_pending"


def pending_inputs(draft: Draft, step_id: str) -> dict[str, Any]:
    return draft.answers.get(PENDING, {}).get(step_id, {})


def _is_file(step: StepDef, field_id: str) -> bool:
    return any(f.id == field_id and f.type == "file" for f in step.fields)


def _descriptor(u: Upload) -> dict[str, Any]:
    return {
        "id": u.id,
        "filename": u.filename,
        "media_type": u.media_type,
        "size": u.size,
        "sha256": u.sha256,
    }


def file_answers(db: Session, draft: Draft, step: StepDef) -> dict[str, list[dict]]:
    """The stored uploads of the step's file fields, as the answers validation sees."""
    slots = {f.id for f in step.fields if f.type == "file"}
    if not slots:
        return {}
    found: dict[str, list[dict]] = {slot: [] for slot in slots}
    for u in uploads.for_draft(db, draft.id):
        if u.slot in found:
            found[u.slot].append(_descriptor(u))
    return found


def rules_for(field: FieldDef) -> uploads.SlotRules:
    return uploads.SlotRules(
        accept=tuple(field.accept),
        max_bytes=field.max_size_mb * 1024 * 1024,
        max_files=field.max_files,
    )


def upload_files(
    db: Session,
    draft: Draft,
    field: FieldDef,
    files: list[tuple[str, bytes]],
    scanner: VirusScanner | None,
) -> list[FieldError]:
    """Store uploaded files in a slot of the draft; a refused file becomes a field error and
    the others are kept."""
    errors = []
    for filename, content in files:
        try:
            uploads.store(
                db,
                municipality_id=draft.municipality_id,
                draft_id=draft.id,
                slot=field.id,
                rules=rules_for(field),
                filename=filename,
                content=content,
                scanner=scanner,
            )
        except uploads.UploadRejected as exc:
            # Name the slot and the file: a step may have several upload slots.
            text = Text(
                de=f"„{field.label.de}“, {uploads.safe_filename(filename)}: {exc.message.de}",
                en=f"“{field.label.get('en')}”, {uploads.safe_filename(filename)}: "
                f"{exc.message.get('en')}",
            )
            errors.append(FieldError(field.id, "custom", {"text": text}))
    if not errors:
        draft.answers = {**draft.answers, **file_answers_for(db, draft, field.id)}
    draft.updated_at = utcnow()
    db.add(draft)
    db.flush()
    return errors


def file_answers_for(db: Session, draft: Draft, slot: str) -> dict[str, list[dict]]:
    files = [_descriptor(u) for u in uploads.for_draft(db, draft.id, slot)]
    return {slot: files} if files else {}


def remove_file(db: Session, draft: Draft, upload_id: int) -> None:
    slot = next((u.slot for u in uploads.for_draft(db, draft.id) if u.id == upload_id), None)
    uploads.remove(db, draft.id, upload_id)
    if slot:
        answers = {k: v for k, v in draft.answers.items() if k != slot}
        draft.answers = {**answers, **file_answers_for(db, draft, slot)}
        db.add(draft)
        db.flush()


def resume(db: Session, token: str) -> Draft:
    """The draft behind a resume link; expired, filed or forged links are refused."""
    draft = db.exec(select(Draft).where(Draft.token_hash == token_hash(token))).first()
    if draft is None or draft.case_id is not None or aware(draft.expires_at) < utcnow():
        raise ResumeLinkInvalid()
    return draft


class ResumeLinkInvalid(NotFound):
    def __init__(self) -> None:
        super().__init__(
            Text(
                de="Dieser Link zum Fortsetzen ist ungültig oder abgelaufen. Nicht abgesendete "
                "Angaben werden nach Ablauf der Frist gelöscht. Bitte beginnen Sie neu.",
                en="This resume link is not valid or has expired. Unfiled answers are deleted "
                "after the deadline. Please start again.",
            )
        )


def purge_expired_drafts(db: Session, now: datetime | None = None) -> int:
    """Delete unfiled drafts past their expiry, with their uploads; returns how many."""
    now = now or utcnow()
    expired = db.exec(select(Draft).where(Draft.expires_at < now, Draft.case_id == None)).all()  # noqa: E711
    for draft in expired:
        for u in uploads.for_draft(db, draft.id):
            db.delete(u)
        db.flush()  # files first: they refer to the draft
        db.delete(draft)
    # Filed drafts only link the browser to its case; they go after the same time.
    for draft in db.exec(select(Draft).where(Draft.expires_at < now, Draft.case_id != None)).all():  # noqa: E711
        db.delete(draft)
    db.flush()
    return len(expired)


def step_after(proc: Procedure, answers: dict[str, Any], step_id: str | None) -> StepDef | None:
    """The next visible step after ``step_id`` (the first if None); None when at the end."""
    steps = visible_steps(proc.form, answers)
    if step_id is None:
        return steps[0]
    ids = [s.id for s in steps]
    if step_id not in ids:
        return steps[0]
    i = ids.index(step_id)
    return steps[i + 1] if i + 1 < len(steps) else None


def step_before(proc: Procedure, answers: dict[str, Any], step_id: str) -> StepDef | None:
    steps = visible_steps(proc.form, answers)
    ids = [s.id for s in steps]
    if step_id in ids and ids.index(step_id) > 0:
        return steps[ids.index(step_id) - 1]
    return None


def first_incomplete_step(
    proc: Procedure, answers: dict[str, Any]
) -> tuple[StepDef | None, list[FieldError]]:
    """The first step with missing or invalid answers (None if the filing is complete)."""
    _, errors = validate(proc.form, answers, today=today_local(), printable=printable)
    if not errors:
        return None, []
    failing = {e.field for e in errors}
    for step in visible_steps(proc.form, answers):
        if failing & {f.id for f in step.fields}:
            return step, [e for e in errors if e.field in {f.id for f in step.fields}]
    return None, errors


# --- filing -----------------------------------------------------------------------------------


class IncompleteFiling(DomainError):
    status = 422

    def __init__(self, step: StepDef | None) -> None:
        super().__init__(
            Text(de="Bitte vervollständigen Sie Ihre Angaben.", en="Please complete your answers.")
        )
        self.step = step


def case_reference(m: Municipality, proc: Procedure, year: int, seq: int) -> str:
    """Vorgangsnummer: HST-2026-000123, or HST-AB-2026-000123 for a procedure with a
    reference code (each procedure counts on its own; the code keeps the numbers unique)."""
    code = f"{proc.reference_code}-" if proc.reference_code else ""
    return f"{m.case_prefix}-{code}{year}-{seq:06d}"


def file_number(m: Municipality, proc: Procedure, year: int, seq: int) -> str:
    """Aktenzeichen from the municipality's pattern, with the procedure's code appended."""
    number = m.file_number_pattern.format(seq=seq, year=year)
    return f"{number}-{proc.reference_code}" if proc.reference_code else number


@dataclass(frozen=True)
class Filed:
    case: Case
    status_token: str
    first_time: bool


def submit(
    db: Session,
    municipality: Municipality,
    draft_token: str,
    secret_key: str,
    base_url: str = "http://127.0.0.1:8000",
    lang: str = "de",
) -> Filed:
    """File the draft as a case, exactly once per draft (a second submit returns the case),
    with its audit event, its uploads, the job that renders the receipt PDF and, if the
    citizen gave an e-mail address, the confirmation mail in the outbox: all in one short
    transaction (nothing slow happens here)."""
    draft = find_draft(db, draft_token, municipality.id, lock=True)
    if draft is None:
        raise StatusNotFound()
    status_token = status_token_for(secret_key, draft.token_hash)
    if draft.case_id is not None:
        return Filed(db.get(Case, draft.case_id), status_token, False)
    proc = of(draft)
    answers = {k: v for k, v in draft.answers.items() if not (proc_field_type(proc, k) == "file")}
    for step in proc.form.steps:
        answers.update(file_answers(db, draft, step))
    clean, errors = validate(proc.form, answers, today=today_local(), printable=printable)
    errors += _chip_errors(db, municipality.id, proc, clean)
    if errors:
        step, _ = first_incomplete_step(proc, draft.answers)
        raise IncompleteFiling(step)
    now = utcnow()
    year = now.year
    seq = next_value(db, municipality.id, f"case:{proc.id}", year)
    case = Case(
        municipality_id=municipality.id,
        procedure_id=proc.id,
        procedure_version=proc.version,
        reference=case_reference(municipality, proc, year, seq),
        file_number=file_number(municipality, proc, year, seq),
        state=proc.workflow.initial,
        is_open=True,
        due_date=lifecycle.due_date(today_local(), proc.workflow.processing_days, 0),
        answers=clean,
        status_token_hash=token_hash(status_token),
        submission_key=draft.token_hash,
        owner_name=f"{clean.get('family_name', '')}, {clean.get('given_names', '')}".strip(", "),
        search_name=search_key(clean.get("family_name", ""), clean.get("given_names", "")),
        chip_number=clean.get("chip_number"),
        submitted_at=now,
        updated_at=now,
    )
    db.add(case)
    db.flush()
    audit.record(
        db,
        case_id=case.id,
        municipality_id=municipality.id,
        actor_kind="citizen",
        actor_id=None,
        actor_name="Antragsteller/in",
        action="filed",
        to_state=case.state,
        public=True,
    )
    # Files of answered slots go with the case; files of slots no longer asked are dropped.
    kept = {
        x["id"]
        for f in proc.form.steps
        for fd in f.fields
        if fd.type == "file"
        for x in clean.get(fd.id, [])
    }
    for u in uploads.for_draft(db, draft.id):
        if u.id not in kept:
            uploads.remove(db, draft.id, u.id)
    uploads.move_to_case(db, draft.id, case.id)
    # The receipt PDF is rendered by a job worker, outside this transaction and every lock.
    jobs.enqueue(
        db,
        "cases.receipt",
        {"case_id": case.id},
        key=f"receipt:{case.id}",
        municipality_id=municipality.id,
        case_id=case.id,
    )
    if clean.get("email"):
        subject, body = mail.render_mail(
            "filed",
            lang,
            municipality=municipality,
            procedure_title=proc.title.get(lang),
            reference=case.reference,
            submitted_at=case.submitted_at,
            processing_days=proc.workflow.processing_days,
            status_url=f"{base_url.rstrip('/')}/status/{status_token}",
        )
        mail.enqueue(
            db,
            municipality_id=municipality.id,
            to=clean["email"],
            kind="filed",
            subject=subject,
            body=body,
            case_id=case.id,
        )
    draft.case_id = case.id
    draft.answers = {}  # the case holds the answers now; the draft only links to it
    db.add(draft)
    db.flush()
    return Filed(case, status_token, True)


def receipt_context(db: Session, case: Case) -> dict:
    """What the Eingangsbestätigung shows: what was filed, when, with the attachments'
    SHA-256 (the files filed with the case, not later answers to questions)."""
    m = db.get(Municipality, case.municipality_id)
    proc = of(case)
    a = case.answers
    attached = [u for u in uploads.for_case(db, case.id) if u.slot != ANSWER_SLOT]
    return {
        "municipality": letterhead(m),
        "case": {
            "reference": case.reference,
            "file_number": case.file_number,
            "submitted_at": aware(case.submitted_at),
            "procedure_title": proc.title.de,
            "email_sent": bool(a.get("email")),
        },
        "owner": {
            k: a.get(k, "")
            for k in ("given_names", "family_name", "street", "house_number", "postal_code", "town")
        },
        "sections": [
            {"title": s.title, "rows": [{"label": r.label, "value": r.value} for r in s.rows]}
            for s in summarize(proc.form, a, "de", mask=True)
        ],
        "attachments": [
            {"filename": u.filename, "media_type": u.media_type, "size": u.size, "sha256": u.sha256}
            for u in attached
        ],
        "letter_date": local(case.submitted_at).date(),
    }


def receipt_of(db: Session, case_id: int) -> Document | None:
    return db.exec(
        select(Document)
        .options(defer(Document.content))
        .where(Document.case_id == case_id, Document.kind == "receipt")
    ).first()


def store_receipt(db: Session, case: Case, pdf: bytes, attachments: int) -> Document:
    """Keep the rendered receipt with the case, once: a second call (a job run again after a
    crash) returns the stored one. The case row is locked first, so two runs cannot both
    store one."""
    lifecycle.lock(db, case.id)
    existing = receipt_of(db, case.id)
    if existing is not None:
        return existing
    doc = Document(
        case_id=case.id,
        municipality_id=case.municipality_id,
        kind="receipt",
        filename=f"Eingangsbestaetigung-{case.reference}.pdf",
        size=len(pdf),
        sha256=hashlib.sha256(pdf).hexdigest(),
        template="receipt.html",
        template_version=1,
        meta={"attachments": attachments},
        content=pdf,
    )
    db.add(doc)
    db.flush()
    return doc


def send_resume_link(
    db: Session, draft: Draft, m: Municipality, resume_url: str, lang: str
) -> str | None:
    """Mail the resume link if the citizen gave an e-mail address; returns the address."""
    email = draft.answers.get("email")
    if not email:
        return None
    proc = of(draft)
    subject, body = mail.render_mail(
        "resume_link",
        lang,
        municipality=m,
        procedure_title=proc.title.get(lang),
        resume_url=resume_url,
        expires_on=draft.expires_at,
    )
    mail.enqueue(db, municipality_id=m.id, to=email, kind="resume_link", subject=subject, body=body)
    return email


def proc_field_type(proc: Procedure, field_id: str) -> str | None:
    try:
        return proc.form.field(field_id).type
    except KeyError:
        return None


def filed_case(
    db: Session, municipality: Municipality, draft_token: str | None, secret_key: str
) -> Filed | None:
    draft = find_draft(db, draft_token, municipality.id)
    if draft is None or draft.case_id is None:
        return None
    return Filed(db.get(Case, draft.case_id), status_token_for(secret_key, draft.token_hash), False)


# --- status page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusView:
    case: Case
    municipality: Municipality
    events: list[CaseEvent]
    documents: list[Document]
    receipt_pending: bool  # the receipt's job is queued or running: "wird erstellt"


def status(db: Session, token: str) -> StatusView:
    case = db.exec(select(Case).where(Case.status_token_hash == token_hash(token))).first()
    if case is None:
        raise StatusNotFound()
    docs = db.exec(
        select(Document)
        .options(defer(Document.content))
        .where(Document.case_id == case.id, Document.public == True)  # noqa: E712
        .order_by(Document.created_at)
    )
    docs = list(docs)
    return StatusView(
        case,
        db.get(Municipality, case.municipality_id),
        audit.history(db, case.id, public_only=True),
        docs,
        receipt_pending=not any(d.kind == "receipt" for d in docs)
        and jobs.is_pending(db, f"receipt:{case.id}"),
    )


def decision(view: StatusView, workflow) -> Text | None:
    """What was decided (approved, rejected, withdrawn): the public label of the first decided
    state the case entered; None while it is undecided."""
    if view.case.decided_at is None:
        return None
    entered = [e.to_state for e in view.events if e.to_state] + [view.case.state]
    decided = (workflow.states[s] for s in entered if s in workflow.states)
    state = next((s for s in decided if s.decided), None)
    return (state.public_label or state.label) if state else None


def status_document(db: Session, token: str, document_id: int) -> Document:
    view = status(db, token)
    for doc in view.documents:
        if doc.id == document_id:
            if doc.pending:
                raise DocumentPending()
            return doc
    raise StatusNotFound()


# --- information requests ---------------------------------------------------------------


def open_information_request(view: StatusView) -> CaseEvent | None:
    """The office's latest request for information, while the case waits for the answer."""
    if view.case.state != "information_requested":
        return None
    return next((e for e in reversed(view.events) if e.action == "request_information"), None)


ANSWER_RULES = uploads.SlotRules(max_files=5)
ANSWER_SLOT = "answer"


def _citizen_transition(db: Session, case: Case, name: str, refusal: Text):
    """The workflow step the citizen may take now, or a conflict with ``refusal``."""
    proc = of(case)
    try:
        t = check(
            proc.workflow,
            case.state,
            name,
            Actor(None, frozenset({"citizen"})),
            GuardContext(actor_id=None),
        )
    except TransitionRefused:
        raise Conflict(refusal) from None
    return proc, t


def _record_citizen_step(
    db: Session, case: Case, proc: Procedure, t, comment: str, data: dict | None = None
) -> None:
    from_state = case.state
    lifecycle.move(db, case, proc.workflow, t.to, case.version)
    audit.record(
        db,
        case_id=case.id,
        municipality_id=case.municipality_id,
        actor_kind="citizen",
        actor_id=None,
        actor_name="Antragsteller/in",
        action=t.name,
        from_state=from_state,
        to_state=t.to,
        comment=comment,
        public=True,
        data=data or {},
    )


def answer_information_request(
    db: Session,
    token: str,
    text: str,
    files: list[tuple[str, bytes]],
    scanner: VirusScanner | None,
) -> list[FieldError]:
    """The citizen answers the office's request through the status page: text and evidence
    go with the case, and the case returns to the office marked "answer received"."""
    case = status(db, token).case
    proc, t = _citizen_transition(
        db,
        case,
        "submit_answer",
        Text(
            de="Zu diesem Antrag ist gerade keine Rückfrage offen. Ihre Antwort wurde nicht "
            "gespeichert; der aktuelle Stand steht unten.",
            en="There is no open question on this application. Your answer was not saved; "
            "the current state is shown below.",
        ),
    )
    label = Text(de="Ihre Antwort", en="Your answer")
    errors: list[FieldError] = []
    text = text.strip()
    if not text:
        errors.append(FieldError("answer_text", "required", {"label": label}))
    elif len(text) > 4000:
        errors.append(FieldError("answer_text", "too_long", {"label": label, "max": 4000}))
    elif refused := check_text("answer_text", label, text, multiline=True, printable=printable):
        errors.append(refused)
    stored = []
    for filename, content in files:
        try:
            stored.append(
                uploads.store(
                    db,
                    municipality_id=case.municipality_id,
                    case_id=case.id,
                    slot=ANSWER_SLOT,
                    rules=ANSWER_RULES,
                    filename=filename,
                    content=content,
                    scanner=scanner,
                )
            )
        except uploads.UploadRejected as exc:
            errors.append(FieldError("answer_files", "custom", {"text": exc.message}))
    if errors:
        return errors
    _record_citizen_step(
        db,
        case,
        proc,
        t,
        text,
        {"files": [{"id": u.id, "filename": u.filename, "sha256": u.sha256} for u in stored]},
    )
    return []


def can_withdraw(case: Case) -> bool:
    proc = of(case)
    t = proc.workflow.transition("withdraw")
    return t is not None and case.state in t.from_


def withdraw(db: Session, token: str, reason: str) -> list[FieldError]:
    """The citizen withdraws the application before it is decided; a reason that cannot be
    stored as typed is refused (nothing changes) with the error at the field."""
    case = status(db, token).case
    proc, t = _citizen_transition(
        db,
        case,
        "withdraw",
        Text(
            de="Diese Anmeldung kann nicht mehr zurückgezogen werden, weil bereits darüber "
            "entschieden wurde. Wenden Sie sich bei Fragen an die Stadt.",
            en="This registration can no longer be withdrawn because it has been decided. "
            "Contact the town if you have questions.",
        ),
    )
    reason = reason.strip()[:4000]
    label = Text(de="Grund", en="Reason")
    if refused := check_text("reason", label, reason, multiline=True, printable=printable):
        return [refused]
    _record_citizen_step(db, case, proc, t, reason)
    return []
