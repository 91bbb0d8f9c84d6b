"""hot-query indexes for a Guangzhou-sized trail (issue 18)

The audit trail is searched by holder or actor and read in chain order, one page at a time: (person_id, seq)
and (actor_id, seq) replace the single-column indexes, so the newest entries of one holder come straight off
the index instead of being sorted; the action index uses the pattern operator class on PostgreSQL, so an
action prefix ("change.%") is an index range, not a scan (tests/scale/test_hot_queries.py).

Revision ID: d18a5ca1e000
Revises: 545c5707328b
Create Date: 2026-12-01 16:50:00
"""
from alembic import op


revision = "d18a5ca1e000"
down_revision = "b744c04b5f44"  # relinked at merge (was 545c5707328b)
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_person_id")
        batch_op.drop_index("ix_audit_log_actor_id")
        batch_op.drop_index("ix_audit_log_action")
        batch_op.create_index("ix_audit_log_person_seq", ["person_id", "seq"], unique=False)
        batch_op.create_index("ix_audit_log_actor_seq", ["actor_id", "seq"], unique=False)
        batch_op.create_index("ix_audit_log_action_pattern", ["action"], unique=False,
                              postgresql_ops={"action": "varchar_pattern_ops"})


def downgrade():
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_action_pattern")
        batch_op.drop_index("ix_audit_log_actor_seq")
        batch_op.drop_index("ix_audit_log_person_seq")
        batch_op.create_index("ix_audit_log_action", ["action"], unique=False)
        batch_op.create_index("ix_audit_log_actor_id", ["actor_id"], unique=False)
        batch_op.create_index("ix_audit_log_person_id", ["person_id"], unique=False)
