"""Two database roles on Postgres: the owner migrates; ``serve`` and ``worker`` run as a role
that reads and writes every table but may only read and append to the audit log.

A table's owner can always ``ALTER TABLE … DISABLE TRIGGER`` and ``TRUNCATE``, which no
trigger can refuse, so an append-only audit log needs the service to run as someone else.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text

AUDIT_TABLE = "audit_events"
# Read by the readiness probe; written only by migrations.
READ_ONLY_TABLES = frozenset({"alembic_version"})


def grant_statements(connection: Connection, role: str) -> list[str]:
    """The GRANTs that give ``role`` what the service needs in the current schema, and no more."""
    quote = connection.dialect.identifier_preparer.quote
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    tables = connection.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
    ).scalars()
    grantee, where = quote(role), quote(schema)
    statements = [f"GRANT USAGE ON SCHEMA {where} TO {grantee}"]
    for table in tables:
        name = f"{where}.{quote(table)}"
        statements.append(f"REVOKE ALL ON {name} FROM {grantee}")
        if table == AUDIT_TABLE:
            statements.append(f"GRANT SELECT, INSERT ON {name} TO {grantee}")
        elif table in READ_ONLY_TABLES:
            statements.append(f"GRANT SELECT ON {name} TO {grantee}")
        else:
            statements.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {grantee}")
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {where} TO {grantee}")
    # The owner's partition DDL (storage/partitions.py), where migration 0010 created it.
    functions = connection.execute(
        text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = CAST(:s AS regnamespace) "
            "AND p.proname IN ('modelmon_create_partition', 'modelmon_drop_partition') ORDER BY 1"
        ),
        {"s": schema},
    ).scalars()
    statements += [f"GRANT EXECUTE ON FUNCTION {function} TO {grantee}" for function in functions]
    return statements


def grant_service_role(owner: Engine, role: str) -> list[str]:
    """Run :func:`grant_statements` as the owner, in one transaction; the statements run."""
    with owner.begin() as connection:
        statements = grant_statements(connection, role)
        for statement in statements:
            connection.execute(text(statement))
    return statements


_ROLE_QUERY = text(
    """
    SELECT current_user AS role,
           pg_has_role(current_user, c.relowner, 'USAGE') AS owns,
           has_table_privilege(c.oid, 'UPDATE') AS can_update,
           has_table_privilege(c.oid, 'DELETE') AS can_delete,
           has_table_privilege(c.oid, 'TRUNCATE') AS can_truncate
    FROM pg_class c
    WHERE c.oid = to_regclass(:table)
    """
)


def audit_privilege_problems(engine: Engine) -> list[str]:
    """What the connected role may do to the audit log beyond reading and appending; empty
    when it is a proper service role (always on SQLite, which has no roles)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as connection:
        row = connection.execute(_ROLE_QUERY, {"table": AUDIT_TABLE}).mappings().one_or_none()
    if row is None:
        return []
    problems = []
    if row["owns"]:
        problems.append(
            f"the database role {row['role']!r} owns {AUDIT_TABLE} (or is a superuser or a member of its "
            "owner), so it can disable the append-only trigger and truncate the audit log"
        )
    refused = [name for name in ("update", "delete", "truncate") if row[f"can_{name}"]]
    if refused:
        problems.append(f"the database role {row['role']!r} may {', '.join(refused).upper()} {AUDIT_TABLE}")
    return problems
