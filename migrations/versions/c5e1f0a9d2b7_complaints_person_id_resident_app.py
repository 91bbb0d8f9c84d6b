"""complaints.person_id: a complaint filed by a signed-in cardholder in the phone app is followed there (Art. 29)

Revision ID: c5e1f0a9d2b7
Revises: 545c5707328b
Create Date: 2026-12-01 16:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c5e1f0a9d2b7'
down_revision = 'f4a1c9e2b7d3'  # relinked at merge (was 545c5707328b)
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_complaints_person_id'), ['person_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_complaints_person_id_persons'), 'persons', ['person_id'], ['id'])


def downgrade():
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_complaints_person_id_persons'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_complaints_person_id'))
        batch_op.drop_column('person_id')
