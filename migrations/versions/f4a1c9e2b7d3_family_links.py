"""family e-cards: links from a guardian to family members (亲情服务)

Art. 19, 20, 35: a holder shows the e-card of a family member (elderly, child, …) after the member's
consent (a one-time code to the member's mobile, kept as an HMAC, or a check at an outlet; a minor
child: document check only). Tokens shown are audit entries about the member.

Revision ID: f4a1c9e2b7d3
Revises: c4f1a2d9e7b3
Create Date: 2026-12-01 17:00:00

"""
from alembic import op
import sqlalchemy as sa

import app.models.base


revision = 'f4a1c9e2b7d3'
down_revision = 'c4f1a2d9e7b3'  # h/phone's (merged here); was 545c5707328b
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('family_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('guardian_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('relation', sa.Enum('elderly', 'child', 'spouse', 'other', name='relation', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status', sa.Enum('pending', 'active', 'removed', name='linkstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('consent', sa.Enum('code', 'outlet', 'minor', name='consent', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by', sa.Integer(), nullable=True),
    sa.Column('removed_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('removed_by', sa.String(length=16), nullable=True),
    sa.Column('removed_by_staff', sa.Integer(), nullable=True),
    sa.Column('code_salt', sa.String(length=32), nullable=True),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('code_attempts', sa.Integer(), nullable=False),
    sa.Column('code_expires_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['confirmed_by'], ['staff_users.id'], name=op.f('fk_family_links_confirmed_by_staff_users')),
    sa.ForeignKeyConstraint(['guardian_id'], ['persons.id'], name=op.f('fk_family_links_guardian_id_persons')),
    sa.ForeignKeyConstraint(['member_id'], ['persons.id'], name=op.f('fk_family_links_member_id_persons')),
    sa.ForeignKeyConstraint(['removed_by_staff'], ['staff_users.id'], name=op.f('fk_family_links_removed_by_staff_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_family_links'))
    )
    with op.batch_alter_table('family_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_family_links_guardian_id'), ['guardian_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_family_links_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_family_links_status'), ['status'], unique=False)


def downgrade():
    with op.batch_alter_table('family_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_family_links_status'))
        batch_op.drop_index(batch_op.f('ix_family_links_member_id'))
        batch_op.drop_index(batch_op.f('ix_family_links_guardian_id'))
    op.drop_table('family_links')
