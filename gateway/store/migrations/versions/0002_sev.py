"""SEV: upload sessions recorded before the first chunk; offers set aside (zombies)

Revision ID: 0002_sev
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = '0002_sev'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outgoing', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transport_session', sa.String(length=100), nullable=True))
    with op.batch_alter_table('acknowledgements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transport_session', sa.String(length=100), nullable=True))
    op.create_table('channel_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('first_seen', gateway.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen', gateway.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'message_id', name='uq_channel_offer')
    )


def downgrade() -> None:
    op.drop_table('channel_offers')
    with op.batch_alter_table('acknowledgements', schema=None) as batch_op:
        batch_op.drop_column('transport_session')
    with op.batch_alter_table('outgoing', schema=None) as batch_op:
        batch_op.drop_column('transport_session')
