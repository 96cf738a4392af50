"""Settings from the environment (prefix ``AMTSWEG_``); refuses default secrets in production."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import model_validator
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
    # Largest request body accepted for a form post (bytes).
    max_form_bytes: int = 1_000_000

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
            if problems:
                raise InsecureConfiguration(
                    "Refusing to start in production mode: " + "; ".join(problems)
                )
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"


@lru_cache
def get_settings() -> Settings:
    return Settings()
