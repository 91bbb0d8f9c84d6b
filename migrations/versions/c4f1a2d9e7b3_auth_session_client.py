"""auth_sessions.client: what signed in, for the holder's list of signed-in devices (issue 15, Art. 19)

A short description ("Chrome · Android") taken from the User-Agent at sign-in, never the full header.

Revision ID: c4f1a2d9e7b3
Revises: 545c5707328b
Create Date: 2026-12-01 16:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4f1a2d9e7b3'
down_revision = '545c5707328b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client', sa.String(length=80), nullable=True))


def downgrade():
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_column('client')
