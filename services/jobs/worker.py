"""``amtsweg worker``: a job worker process (huey consumer with worker threads).

Run any number of them, on any number of machines that reach the database: each job runs
once (claimed by one conditional UPDATE), periodic jobs once per installation, and a job
whose worker was killed is run again after its lease (services/jobs/service.py).
"""

from __future__ import annotations

import logging
from typing import Any

from services.db import make_engine
from services.jobs import queue, registry

log = logging.getLogger("amtsweg.jobs")


def run(settings: Any, threads: int | None = None) -> None:
    from services.documents.render import warm_up
    from services.logs import configure_logging
    from services.procedures import registry as procedures

    configure_logging(settings)
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    logging.getLogger("huey").setLevel(logging.WARNING)  # a line per task: our jobs log outcomes
    logging.getLogger("huey.consumer").setLevel(logging.INFO)
    threads = threads or settings.worker_threads
    engine = make_engine(settings.database_url, pool_size=threads + 2)
    procedures.bind(engine)
    registry.load_all()
    transport = queue.Transport(engine, settings)
    queue.register(engine, transport)
    seconds = warm_up()  # fonts and hyphenation once, before the first receipt
    log.info("PDF renderer warmed up in %.2f s", seconds)
    transport.tick()  # what was queued while no worker ran
    consumer = transport.huey.create_consumer(
        workers=threads,
        worker_type="thread",
        periodic=True,
        initial_delay=0.05,
        backoff=1.5,
        max_delay=1.0,  # SQLite transport is polled: an idle worker looks at least every second
        check_worker_health=True,
    )
    log.info(
        "job worker with %d thread(s) on %s", threads, queue.queue_location(settings.database_url)
    )
    consumer.run()
