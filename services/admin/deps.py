"""The administrator behind an admin page: a logged-in staff member with the admin role."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from forms.model import Text
from services.accounts.models import StaffUser
from services.errors import Forbidden
from services.web.deps import CurrentStaff


def current_admin(staff: CurrentStaff) -> StaffUser:
    if "admin" not in staff.roles:
        raise Forbidden(
            Text(
                de="Diese Seite ist der Administration vorbehalten.",
                en="This page is for administrators.",
            )
        )
    return staff


CurrentAdmin = Annotated[StaffUser, Depends(current_admin)]
