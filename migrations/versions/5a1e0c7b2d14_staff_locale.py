"""staff_users.locale: the back office language each member of staff chose (issue 14)

Revision ID: 5a1e0c7b2d14
Revises: 0e10b218dc52
Create Date: 2026-12-01 14:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "5a1e0c7b2d14"
down_revision = "0e10b218dc52"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("locale", sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("locale")
