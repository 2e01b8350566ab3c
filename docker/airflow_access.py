"""Liftline's Airflow roles and the first admin, for the FAB auth manager (run by airflow-init).

Three roles, each a superset of the one before:
- Analyst: reads DAGs, runs, task logs, the report page and the alerts the runs post.
- Manager: an Analyst who also triggers runs (with their Params), clears and marks tasks and
  runs, and edits Variables. No Connections, Pools or user management: those stay with Admin.
- Admin: Airflow's built-in role (everything).

Idempotent: a rerun adds what is missing and never removes a permission granted by hand in the
UI. The admin is created only when no user has that name; an existing one is left as it is.
"""

from __future__ import annotations

import os
import sys

ANALYST, MANAGER, ADMIN = "Analyst", "Manager", "Admin"


def role_configs(sm) -> list[dict]:  # noqa: ANN001 - the FAB security manager
    """The Liftline roles as FAB `bulk_sync_roles` wants them, built from FAB's own sets."""
    from airflow.providers.fab.www.security import permissions as p

    variables = [
        (p.ACTION_CAN_ACCESS_MENU, p.RESOURCE_ADMIN_MENU),
        (p.ACTION_CAN_ACCESS_MENU, p.RESOURCE_VARIABLE),
        *((action, p.RESOURCE_VARIABLE) for action in
          (p.ACTION_CAN_CREATE, p.ACTION_CAN_READ, p.ACTION_CAN_EDIT, p.ACTION_CAN_DELETE)),
    ]
    return [
        {"role": ANALYST, "perms": list(sm.VIEWER_PERMISSIONS)},
        {"role": MANAGER, "perms": [*sm.VIEWER_PERMISSIONS, *sm.USER_PERMISSIONS, *variables]},
    ]


def first_admin_from_env() -> dict[str, str]:
    """The first admin's account from .env; a one-line error naming what is missing."""
    names = {"username": "AIRFLOW_ADMIN_USERNAME", "password": "AIRFLOW_ADMIN_PASSWORD",
             "email": "AIRFLOW_ADMIN_EMAIL"}
    values = {key: os.environ.get(var, "").strip() for key, var in names.items()}
    missing = [names[key] for key, value in values.items() if not value]
    if missing:
        raise SystemExit(f"{', '.join(missing)} not set: add to .env (see .env.example)")
    return values


def main() -> int:
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    admin = first_admin_from_env()
    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        sm.sync_roles()  # FAB's built-in roles (Viewer, User, Op, Admin) and their permissions
        sm.bulk_sync_roles(role_configs(sm))
        if sm.find_user(username=admin["username"]):
            print(f"admin {admin['username']!r} exists: left unchanged")
        else:
            user = sm.add_user(admin["username"], "Liftline", "Admin", admin["email"],
                               sm.find_role(ADMIN), admin["password"])
            if not user:
                raise SystemExit(f"could not create admin {admin['username']!r}: see the log above")
            print(f"admin {admin['username']!r} created")
        print("roles: " + ", ".join(sorted(r.name for r in sm.get_all_roles())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
