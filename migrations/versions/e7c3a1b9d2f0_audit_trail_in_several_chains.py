"""the audit trail in several chains (issue 18; Art. 16)

One chain serialised every audited transaction on its head row (200 audited commits/s with 8 writers on this
machine). The trail becomes K chains side by side: each entry names its ``chain`` (an ``audit_head`` row)
and its position ``pos`` in it, which the hash covers; ``seq`` stays the written order across all chains and
is assigned by the database from now on. Every existing entry is chain 1 at the position it had, so its
hash is unchanged and the trail verifies as before. The application creates the heads of chains 2..K as it
first needs them.

Revision ID: e7c3a1b9d2f0
Revises: d18a5ca1e000
Create Date: 2026-12-01 20:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = "e7c3a1b9d2f0"
down_revision = "d18a5ca1e000"
branch_labels = None
depends_on = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("pos", sa.Integer(), nullable=True))
    if _postgresql():  # filling a new column is not an edit of the trail: the owner lifts the guard for it
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    op.execute("UPDATE audit_log SET pos = seq")
    if _postgresql():
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("pos", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index("ux_audit_log_chain_pos", ["chain", "pos"], unique=True)
    if _postgresql():  # SQLite's INTEGER PRIMARY KEY numbers rows by itself
        op.execute("CREATE SEQUENCE audit_log_seq_seq OWNED BY audit_log.seq")
        op.execute("SELECT setval('audit_log_seq_seq', COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1, false)")
        op.execute("ALTER TABLE audit_log ALTER COLUMN seq SET DEFAULT nextval('audit_log_seq_seq')")
        # the application's role draws from it (the default privileges of b7e2c41f9a3d grant it if it exists)
        op.execute("""
            DO $$ BEGIN
                IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'ssc_app') THEN
                    GRANT USAGE, SELECT ON SEQUENCE audit_log_seq_seq TO ssc_app;
                END IF;
            END $$;
        """)


def downgrade():
    # Only a trail that is still one chain can go back (entries of other chains would collide), and the older
    # code hashes ``seq`` where this one hashes ``pos``: downgrading is for development databases.
    if op.get_bind().scalar(sa.text("SELECT COUNT(*) FROM audit_log WHERE chain <> 1")):
        raise RuntimeError("the audit trail has entries in chains other than 1: it cannot become one chain again")
    if _postgresql():
        op.execute("ALTER TABLE audit_log ALTER COLUMN seq DROP DEFAULT")
        op.execute("DROP SEQUENCE audit_log_seq_seq")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ux_audit_log_chain_pos")
        batch_op.drop_column("pos")
        batch_op.drop_column("chain")
