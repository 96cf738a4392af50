"""Jobs: everything slow or periodic (receipts, mail, reminders, purges, retention, yearly
runs) runs in job workers, never in a web request. See docs/adr/0008-job-queue.md."""
