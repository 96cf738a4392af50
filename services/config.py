"""Settings from the environment (prefix ``AMTSWEG_``); refuses default secrets in production."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SECRET = "insecure-development-secret-change-me"


class InsecureConfiguration(RuntimeError):
    """Raised when production mode would run with development defaults."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AMTSWEG_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    secret_key: str = DEFAULT_SECRET
    database_url: str = f"sqlite:///{ROOT / 'var' / 'amtsweg.db'}"
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    # Staff sessions end after this many minutes without a request.
    session_timeout_minutes: int = 30
    # Citizens' unfiled form drafts are deleted after this many days.
    draft_retention_days: int = 30
    # Largest request body accepted (bytes); uploads are limited per file by their slot.
    max_body_bytes: int = 60 * 1024 * 1024
    # ClamAV daemon for uploads: "unix:/run/clamav/clamd.ctl" or "tcp:host:3310"; empty: no scan.
    clamd_address: str = ""
    # Days the citizen has to answer an information request (default reply deadline).
    reply_days: int = 14
    # Outgoing mail. Without an SMTP host, mails are written as .eml files to mail_dir.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_seconds: float = 30.0
    mail_from: str = "Amtsweg <noreply@localhost>"
    # Jobs (ADR 0008): "worker": job workers run them (`amtsweg worker`; on SQLite `amtsweg
    # serve` starts one beside itself); "immediate": the process that queued a job runs it
    # right after the commit (tests, one-off commands); "manual": jobs stay queued (tests).
    jobs: Literal["worker", "immediate", "manual"] = "worker"
    # Threads per `amtsweg worker` process.
    worker_threads: int = Field(2, ge=1, le=64)
    mail_dir: Path = ROOT / "var" / "mail"
    # Requests served at once per web process: sizes the thread pool that runs the routes,
    # the requests let in at once and the database connection pool (see services/db.py).
    threads: int = Field(16, ge=1, le=512)
    # A request that finds all slots taken waits this long, then gets 503 with Retry-After.
    queue_timeout_seconds: float = Field(10.0, ge=0)
    # "json": one JSON object per line; "text": readable lines. Empty: json in production.
    log_format: Literal["json", "text", ""] = ""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # When set, GET /metrics requires "Authorization: Bearer <token>".
    metrics_token: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.env == "production":
            problems = []
            if self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32:
                problems.append(
                    "AMTSWEG_SECRET_KEY must be set to a random value of 32+ characters"
                )
            if not self.base_url.startswith("https://"):
                problems.append("AMTSWEG_BASE_URL must be an https:// address")
            if not self.smtp_host:
                problems.append("AMTSWEG_SMTP_HOST must be set (mail would only go to files)")
            if self.mail_from.rstrip(">").endswith("@localhost"):
                problems.append("AMTSWEG_MAIL_FROM must be a real sender address")
            if problems:
                raise InsecureConfiguration(
                    "Refusing to start in production mode: " + "; ".join(problems)
                )
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def logs_as_json(self) -> bool:
        return self.log_format == "json" or (not self.log_format and self.is_production)


@lru_cache
def get_settings() -> Settings:
    return Settings()
