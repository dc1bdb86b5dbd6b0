"""Трембіта: deliverMessage calls taken, by X-Road client and request id

Revision ID: 0004_trembita
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = '0004_trembita'
down_revision = '0002_sev'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('trembita_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client', sa.String(length=300), nullable=False),
    sa.Column('xroad_id', sa.String(length=200), nullable=False),
    sa.Column('msg_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', gateway.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('client', 'xroad_id', name='uq_trembita_request')
    )


def downgrade() -> None:
    op.drop_table('trembita_requests')
