"""ModelOp's asset roles (``assetRole`` on a job's input), spelled once.

A monitor picks its inputs by role: the reference (``TRAINING_DATA`` or ``BASELINE_DATA``), the
new data (``COMPARATOR_DATA``), labeled test data (``TEST_DATA``); a ``TEST_RESULT_COMPARATOR``
asset is the DMN that judges the result, never data to read.
"""

from __future__ import annotations

__all__ = ["BASELINE_ROLES", "COMPARATOR_ROLES", "DMN_ROLE", "TEST_ROLES", "is_role"]

BASELINE_ROLES: tuple[str, ...] = ("TRAINING_DATA", "BASELINE_DATA")
COMPARATOR_ROLES: tuple[str, ...] = ("COMPARATOR_DATA",)
TEST_ROLES: tuple[str, ...] = ("TEST_DATA",)
DMN_ROLE = "TEST_RESULT_COMPARATOR"


def is_role(role: str | None, roles: tuple[str, ...] | str) -> bool:
    """Roles compare without case (``baseline_data`` is ``BASELINE_DATA``)."""
    wanted = (roles,) if isinstance(roles, str) else roles
    return role is not None and role.upper() in wanted
