"""Configuration refuses to run production with development defaults."""

import pytest

from services.config import DEFAULT_SECRET, InsecureConfiguration, Settings


def test_production_refuses_default_secret():
    with pytest.raises(InsecureConfiguration, match="AMTSWEG_SECRET_KEY"):
        Settings(env="production", secret_key=DEFAULT_SECRET, base_url="https://amt.example")


def test_production_refuses_plain_http_base_url():
    with pytest.raises(InsecureConfiguration, match="https"):
        Settings(env="production", secret_key="k" * 40, base_url="http://amt.example")


def test_production_with_real_secret_starts(monkeypatch):
    monkeypatch.setenv("AMTSWEG_ENV", "production")
    monkeypatch.setenv("AMTSWEG_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("AMTSWEG_BASE_URL", "https://amt.example")
    monkeypatch.setenv("AMTSWEG_SMTP_HOST", "mail.amt.example")
    monkeypatch.setenv("AMTSWEG_MAIL_FROM", "Stadt <steueramt@amt.example>")
    settings = Settings()
    assert settings.is_production and settings.secret_key == "k" * 40


def test_development_defaults_to_embedded_sqlite(monkeypatch):
    monkeypatch.delenv("AMTSWEG_DATABASE_URL", raising=False)
    assert Settings(_env_file=None).database_url.startswith("sqlite:///")


def test_production_refuses_mail_to_files_only():
    with pytest.raises(InsecureConfiguration, match="AMTSWEG_SMTP_HOST"):
        Settings(env="production", secret_key="k" * 40, base_url="https://amt.example")
