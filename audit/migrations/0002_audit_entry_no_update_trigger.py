"""A database trigger that refuses any UPDATE of an audit entry (MariaDB/MySQL and SQLite).

Only UPDATE: Django's test flush empties tables with DELETE, and retention of the log itself is
the database administrator's. On MySQL with binary logging on, a user without SUPER (or without
``log_bin_trust_function_creators``) may not create triggers: the migration then warns and goes
on, the application's guard (``audit.models``) stays, and docs/operations.md gives the statement
to run as a privileged user.
"""

import warnings

from django.db import DatabaseError, migrations

MYSQL_CREATE = (
    "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry FOR EACH ROW "
    "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit entries are append-only'"
)
SQLITE_CREATE = (
    "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END"
)
DROP = "DROP TRIGGER IF EXISTS audit_entry_no_update"


def create_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(SQLITE_CREATE)
    elif vendor == "mysql":
        try:
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(MYSQL_CREATE)
        except DatabaseError as exc:
            warnings.warn(
                f"audit: the no-update trigger was not created ({exc}); run as a privileged user: "
                f"{MYSQL_CREATE}",
                stacklevel=1,
            )


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor in ("sqlite", "mysql"):
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_audit_entry")]

    # Not atomic: MySQL cannot run DDL inside a transaction (it commits implicitly).
    operations = [migrations.RunPython(create_trigger, drop_trigger, atomic=False, elidable=False)]
