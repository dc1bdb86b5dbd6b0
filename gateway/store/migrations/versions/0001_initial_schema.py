"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 09:46:35.935727
"""

import sqlalchemy as sa
from alembic import op

import gateway.store.models

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', gateway.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', gateway.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    op.create_table('incoming',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('msg_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('msg_type', sa.Integer(), nullable=False),
    sa.Column('from_edrpou', sa.String(length=16), nullable=False),
    sa.Column('from_name', sa.String(length=500), nullable=False),
    sa.Column('from_sys_id', sa.String(length=100), nullable=True),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.Column('message_sha256', sa.String(length=64), nullable=False),
    sa.Column('indication', sa.String(length=32), nullable=True),
    sa.Column('reg_number', sa.String(length=100), nullable=True),
    sa.Column('reg_date', sa.String(length=32), nullable=True),
    sa.Column('reject_reason', sa.Text(), nullable=True),
    sa.Column('received_at', gateway.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', gateway.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('msg_id')
    )
    with op.batch_alter_table('incoming', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incoming_status'), ['status'], unique=False)

    op.create_table('partners',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('edrpou', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('sev_system_id', sa.String(length=100), nullable=True),
    sa.Column('xroad_client', sa.String(length=300), nullable=True),
    sa.Column('xroad_service', sa.String(length=300), nullable=True),
    sa.Column('cert_pem', sa.Text(), nullable=True),
    sa.Column('created_at', gateway.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('edrpou')
    )
    op.create_table('status_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity', sa.String(length=16), nullable=False),
    sa.Column('entity_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('at', gateway.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('status_history', schema=None) as batch_op:
        batch_op.create_index('ix_status_history_entity', ['entity', 'entity_id'], unique=False)

    op.create_table('incoming_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incoming_id', sa.String(length=36), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('signature_sha256', sa.String(length=64), nullable=True),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['incoming_id'], ['incoming.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('incoming_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incoming_files_incoming_id'), ['incoming_id'], unique=False)

    op.create_table('outgoing',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('msg_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('to_edrpou', sa.String(length=16), nullable=False),
    sa.Column('to_name', sa.String(length=500), nullable=False),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.Column('message_sha256', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', gateway.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_until', gateway.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('api_key_id', sa.Integer(), nullable=True),
    sa.Column('created_at', gateway.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', gateway.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('msg_id')
    )
    with op.batch_alter_table('outgoing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outgoing_status'), ['status'], unique=False)
        batch_op.create_index('ix_outgoing_work', ['status', 'next_attempt_at'], unique=False)

    op.create_table('acknowledgements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=4), nullable=False),
    sa.Column('msg_id', sa.String(length=64), nullable=False),
    sa.Column('ref_msg_id', sa.String(length=64), nullable=False),
    sa.Column('ack_type', sa.Integer(), nullable=False),
    sa.Column('reg_number', sa.String(length=100), nullable=True),
    sa.Column('reg_date', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('outgoing_id', sa.String(length=36), nullable=True),
    sa.Column('incoming_id', sa.String(length=36), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message_sha256', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', gateway.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_until', gateway.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', gateway.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incoming_id'], ['incoming.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outgoing_id'], ['outgoing.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('msg_id')
    )
    with op.batch_alter_table('acknowledgements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acknowledgements_ref_msg_id'), ['ref_msg_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_acknowledgements_status'), ['status'], unique=False)

    op.create_table('idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('api_key_id', sa.Integer(), nullable=True),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_sha256', sa.String(length=64), nullable=False),
    sa.Column('outgoing_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', gateway.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], ),
    sa.ForeignKeyConstraint(['outgoing_id'], ['outgoing.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('api_key_id', 'key', name='uq_idempotency_key')
    )
    op.create_table('outgoing_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outgoing_id', sa.String(length=36), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('content_type', sa.String(length=200), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('signature_sha256', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['outgoing_id'], ['outgoing.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outgoing_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outgoing_files_outgoing_id'), ['outgoing_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outgoing_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outgoing_files_outgoing_id'))

    op.drop_table('outgoing_files')
    op.drop_table('idempotency_keys')
    with op.batch_alter_table('acknowledgements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_acknowledgements_status'))
        batch_op.drop_index(batch_op.f('ix_acknowledgements_ref_msg_id'))

    op.drop_table('acknowledgements')
    with op.batch_alter_table('outgoing', schema=None) as batch_op:
        batch_op.drop_index('ix_outgoing_work')
        batch_op.drop_index(batch_op.f('ix_outgoing_status'))

    op.drop_table('outgoing')
    with op.batch_alter_table('incoming_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incoming_files_incoming_id'))

    op.drop_table('incoming_files')
    with op.batch_alter_table('status_history', schema=None) as batch_op:
        batch_op.drop_index('ix_status_history_entity')

    op.drop_table('status_history')
    op.drop_table('partners')
    with op.batch_alter_table('incoming', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incoming_status'))

    op.drop_table('incoming')
    op.drop_table('api_keys')
