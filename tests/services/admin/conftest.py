"""Fixtures of the admin-area tests: administrators of both municipalities."""

from __future__ import annotations

import pytest

from tests.conftest import make_staff


@pytest.fixture
def admin(db, municipality):
    return make_staff(db, municipality, "admin", "Anna Admin", ["clerk", "admin"])


@pytest.fixture
def foreign_admin(db, other_municipality):
    return make_staff(db, other_municipality, "fadmin", "Frank Fremdadmin", ["admin"])
