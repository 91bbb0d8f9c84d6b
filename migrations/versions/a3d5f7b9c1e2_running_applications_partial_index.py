"""running applications: a flag and a partial index for the overdue list (issue 18; Art. 10, 25)

The overdue list looked at every running card (cards.status accepted / in production) and its application
to find the few due soon: 14,800 lookups at 1M cardholders, ~120 ms for the count and as much for the page,
growing with the city. ``card_applications.running`` (kept by the lifecycle's state change) and a partial
index on (due_on, id) WHERE running make the list one index range: what it shows, nothing more.

Revision ID: a3d5f7b9c1e2
Revises: e7c3a1b9d2f0
Create Date: 2026-12-01 20:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = "a3d5f7b9c1e2"
down_revision = "e7c3a1b9d2f0"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("card_applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("running", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    op.execute("UPDATE card_applications SET running = true WHERE card_id IN "
               "(SELECT id FROM cards WHERE status IN ('accepted', 'in_production'))")
    with op.batch_alter_table("card_applications", schema=None) as batch_op:
        batch_op.create_index("ix_card_applications_running_due", ["due_on", "id"], unique=False,
                              postgresql_where=sa.text("running"), sqlite_where=sa.text("running"))


def downgrade():
    with op.batch_alter_table("card_applications", schema=None) as batch_op:
        batch_op.drop_index("ix_card_applications_running_due", postgresql_where=sa.text("running"),
                            sqlite_where=sa.text("running"))
        batch_op.drop_column("running")
