"""ASGI entry point: ``uvicorn services.asgi:app``."""

from services.app import create_app

app = create_app()
