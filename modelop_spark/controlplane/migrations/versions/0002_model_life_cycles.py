"""model life cycles: instances, snapshot stage, test data and lineage

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mlc_instances',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('process', sa.String(length=200), nullable=False),
    sa.Column('snapshot_id', sa.String(length=36), nullable=True),
    sa.Column('model_name', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('trigger', sa.JSON(), nullable=False),
    sa.Column('current_step', sa.JSON(), nullable=True),
    sa.Column('waiting_for', sa.JSON(), nullable=True),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.Column('workflow', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('mlc_instances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mlc_instances_snapshot_id'), ['snapshot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mlc_instances_state'), ['state'], unique=False)

    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('test_data', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('parent_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('trained_by_job', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_snapshots_trained_by_job'), ['trained_by_job'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_snapshots_trained_by_job'))
        batch_op.drop_column('trained_by_job')
        batch_op.drop_column('parent_id')
        batch_op.drop_column('test_data')
        batch_op.drop_column('stage')
    with op.batch_alter_table('mlc_instances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mlc_instances_state'))
        batch_op.drop_index(batch_op.f('ix_mlc_instances_snapshot_id'))
    op.drop_table('mlc_instances')
