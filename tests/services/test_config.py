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


def test_cli_refusal_in_production_prints_only_the_message(tmp_path):
    """An operator who starts production with development defaults reads the reason on one
    line, not at the end of a long traceback, and the command fails."""
    import os
    import subprocess
    import sys

    from services.config import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("AMTSWEG_")}
    env.update(AMTSWEG_ENV="production", AMTSWEG_DATABASE_URL=f"sqlite:///{tmp_path / 'a.db'}")
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve"],
        cwd=tmp_path,  # no .env file of a developer's checkout
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Refusing to start in production mode: AMTSWEG_SECRET_KEY")
