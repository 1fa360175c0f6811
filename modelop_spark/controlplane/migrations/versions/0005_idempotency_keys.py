"""creation safe to retry (the Idempotency-Key of each job, snapshot and model creation), and
an index for each query on the dispatch path

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'idempotency_keys',
        sa.Column('principal', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('resource_id', sa.String(length=36), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('principal', 'kind', 'key'),
    )
    op.create_index('ix_idempotency_keys_created_at', 'idempotency_keys', ['created_at'])
    with op.batch_alter_table('jobs') as batch:
        batch.create_index('ix_jobs_status_lease_expires', ['status', 'lease_expires'])
        batch.create_index('ix_jobs_lease_owner_status', ['lease_owner', 'status'])
        batch.create_index('ix_jobs_created_at', ['created_at'])


def downgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.drop_index('ix_jobs_created_at')
        batch.drop_index('ix_jobs_lease_owner_status')
        batch.drop_index('ix_jobs_status_lease_expires')
    op.drop_index('ix_idempotency_keys_created_at', table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
