"""Several instances on one database: the channel poll lease; document bodies in the database

Revision ID: 0006_scale
Revises: 0004_trembita
"""

import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = '0006_scale'
down_revision = '0005_console'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('poll_leases',
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=True),
    sa.Column('lease_until', gateway.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('channel')
    )
    op.create_table('stored_bodies',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )


def downgrade() -> None:
    op.drop_table('stored_bodies')
    op.drop_table('poll_leases')
