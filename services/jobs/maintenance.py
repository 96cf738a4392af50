"""Housekeeping jobs of the installation: expired drafts, reply reminders, the retention
run, and clearing old finished jobs. Scheduled in services/jobs/schedule.py."""

from __future__ import annotations

import logging
from datetime import timedelta

from services.db import unit_of_work
from services.jobs import service
from services.jobs.registry import JobContext, job
from services.timeutil import today_local

log = logging.getLogger("amtsweg.jobs")

KEEP_DONE_JOBS = timedelta(days=14)


@job("cases.purge_drafts", label=("Abgelaufene Entwürfe löschen", "Delete expired drafts"))
def purge_drafts(ctx: JobContext) -> int:
    from services.cases.service import purge_expired_drafts

    with unit_of_work(ctx.engine) as db:
        count = purge_expired_drafts(db)
    if count:
        log.info("deleted %d expired draft(s)", count)
    return count


@job("cases.remind", label=("An Antwortfristen erinnern", "Remind of reply deadlines"))
def remind(ctx: JobContext) -> int:
    from services.review.service import Links, send_reply_reminders

    links = Links(ctx.settings.base_url, ctx.settings.secret_key)
    with unit_of_work(ctx.engine) as db:
        count = send_reply_reminders(db, links)
    if count:
        log.info("sent %d reply reminder(s)", count)
    return count


@job(
    "retention.run",
    label=("Aufbewahrungsfristen (Löschen, Anonymisieren)", "Retention (delete, anonymise)"),
    lease_seconds=3600,
)
def retention_run(ctx: JobContext) -> None:
    from services import retention

    with unit_of_work(ctx.engine) as db:
        report = retention.run(db, today_local())
    log.info("retention run: %s", dict(report.rows()))


@job("jobs.cleanup", label=("Erledigte Aufträge aufräumen", "Clear finished jobs"))
def cleanup(ctx: JobContext) -> int:
    with unit_of_work(ctx.engine) as db:
        return service.purge_finished(db, KEEP_DONE_JOBS)
