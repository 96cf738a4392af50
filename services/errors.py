"""Typed domain errors. Services raise them; one handler in app.py maps them to pages/HTTP."""

from __future__ import annotations

from forms.model import Text


class DomainError(Exception):
    status = 400
    title = Text(de="Das hat nicht geklappt", en="That did not work")

    def __init__(self, message: Text) -> None:
        super().__init__(message.de)
        self.message = message


class NotFound(DomainError):
    status = 404
    title = Text(de="Seite nicht gefunden", en="Page not found")


class CaseNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            Text(
                de="Diesen Vorgang gibt es nicht, oder Sie dürfen ihn nicht sehen.",
                en="This case does not exist or you may not see it.",
            )
        )


class StatusNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            Text(
                de="Zu diesem Link gibt es keinen Antrag. Bitte prüfen Sie, ob Sie den Link "
                "vollständig aus Ihrer Bestätigung kopiert haben.",
                en="There is no application for this link. Check that you copied the whole "
                "link from your confirmation.",
            )
        )


class Conflict(DomainError):
    status = 409
    title = Text(de="Der Vorgang wurde inzwischen geändert", en="The case was changed meanwhile")


class Forbidden(DomainError):
    status = 403
    title = Text(de="Keine Berechtigung", en="Not allowed")


class ConfigurationMissing(DomainError):
    """Something an administrator must set before the step can run (rates, bank details)."""

    status = 409
    title = Text(de="Einstellung fehlt", en="Setting missing")


class DocumentPending(NotFound):
    """The document exists, but its PDF is still being rendered by a job."""

    title = Text(de="Dokument wird erstellt", en="Document being created")

    def __init__(self) -> None:
        super().__init__(
            Text(
                de="Dieses Dokument (PDF) wird gerade erstellt. Das dauert meist nur wenige "
                "Sekunden. Bitte laden Sie die Seite gleich noch einmal.",
                en="This document (PDF) is being created right now. This usually takes only a "
                "few seconds. Please reload the page in a moment.",
            )
        )
