"""notifications can be dismissed (the Command Center's Notifications pane)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notifications') as batch:
        batch.add_column(sa.Column('dismissed_at', sa.Float(), nullable=True))
        batch.add_column(sa.Column('dismissed_by', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notifications') as batch:
        batch.drop_column('dismissed_by')
        batch.drop_column('dismissed_at')
