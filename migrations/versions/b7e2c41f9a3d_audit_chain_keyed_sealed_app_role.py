"""audit chain keyed and sealed; TRUNCATE refused; the ssc_app role (Art. 16)

The chain's hashes become HMACs with the audit key (``AUDIT_KEY``, never in the database). Entries
written before keep their SHA-256 hashes: the head records from which entry on the chain is keyed
(``keyed_from``) and a seal, an HMAC over that number and the head's hash now, computed here with the
application's audit key (so run ``flask db upgrade`` with the same ``SSC_AUDIT_KEY`` / instance folder as
the application).

On PostgreSQL:

* TRUNCATE of the audit trail is refused as UPDATE and DELETE already are, and the head can only move
  forward (its seal and ``keyed_from`` never change, it is never deleted);
* the group role ``ssc_app`` (NOLOGIN, created if missing; the migrating role needs CREATEROLE for that,
  or a DBA creates it first) gets what the application needs and no more: read and write on every table,
  but only SELECT and INSERT on ``audit_log`` and moving ``audit_head`` forward. It owns nothing, so it can
  neither drop nor disable a trigger. Tables that later migrations create (as the same owner) are granted
  to it by default privileges. The application connects as a login role that is a member of ``ssc_app``
  (README, Configuration); migrations run as the owner (``MIGRATION_DATABASE_URL``).

Revision ID: b7e2c41f9a3d
Revises: 8cc265985fc4
Create Date: 2026-12-01 11:20:00

"""
from alembic import op
import sqlalchemy as sa
from flask import current_app

# revision identifiers, used by Alembic.
revision = 'b7e2c41f9a3d'
down_revision = '8cc265985fc4'
branch_labels = None
depends_on = None

APP_ROLE = "ssc_app"


def _seal_head() -> None:
    from app.privacy.audit_chain import seal

    bind = op.get_bind()
    head = bind.execute(sa.text("SELECT id, seq, hash FROM audit_head")).all()
    if not head:
        return  # the application creates the head with its first entry, keyed from 1
    key = current_app.config["AUDIT_KEY"].encode("utf-8")
    for row in head:
        bind.execute(sa.text("UPDATE audit_head SET keyed_from = :k, seal = :s WHERE id = :id"),
                     {"k": row.seq + 1, "s": seal(key, row.seq + 1, row.hash), "id": row.id})


def upgrade():
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.add_column(sa.Column('keyed_from', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('seal', sa.String(length=64), nullable=True))
    _seal_head()
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.alter_column('keyed_from', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('seal', existing_type=sa.String(length=64), nullable=False)

    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
    """)
    op.execute("""
        CREATE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.seq > OLD.seq
               AND NEW.keyed_from = OLD.keyed_from AND NEW.seal = OLD.seal THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'audit_head only moves forward (Art. 16)';
        END $$;
    """)
    op.execute("""
        CREATE TRIGGER audit_head_forward_only BEFORE UPDATE OR DELETE ON audit_head
        FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only();
    """)
    op.execute("""
        CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
    """)
    op.execute(f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                BEGIN
                    CREATE ROLE {APP_ROLE} NOLOGIN;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- created meanwhile
                END;
            END IF;
        END $$;
    """)
    schema = op.get_bind().dialect.identifier_preparer.quote(op.get_bind().scalar(sa.text("SELECT current_schema()")))
    for statement in (
        f"GRANT USAGE ON SCHEMA {schema} TO {APP_ROLE}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {APP_ROLE}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {APP_ROLE}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_head FROM {APP_ROLE}",
        f"GRANT UPDATE (seq, hash) ON audit_head TO {APP_ROLE}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {APP_ROLE}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {APP_ROLE}",
    ):
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        schema = op.get_bind().dialect.identifier_preparer.quote(
            op.get_bind().scalar(sa.text("SELECT current_schema()")))
        for statement in (
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON TABLES FROM {APP_ROLE}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON SEQUENCES FROM {APP_ROLE}",
            f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {APP_ROLE}",
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {APP_ROLE}",
            f"REVOKE ALL ON SCHEMA {schema} FROM {APP_ROLE}",
        ):
            op.execute(statement)
        op.execute("DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head")
        op.execute("DROP TRIGGER IF EXISTS audit_head_forward_only ON audit_head")
        op.execute("DROP FUNCTION IF EXISTS audit_head_forward_only()")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    # Entries written since keep their keyed hashes, which the older code cannot check: it reports the
    # first of them as edited. Downgrading is for development databases.
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.drop_column('seal')
        batch_op.drop_column('keyed_from')
