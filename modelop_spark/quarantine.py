"""The one shape of a rejected row, whichever stage rejected it.

A rejected row keeps the job's key columns, the stage that rejected it, every reason, and the
whole original record as JSON text, so nothing is lost and a rerun after a fix can replay it.
"""

from __future__ import annotations

from typing import Literal

Stage = Literal["read", "input_schema", "model", "output_schema"]
STAGES: tuple[str, ...] = ("read", "input_schema", "model", "output_schema")

STAGE_COLUMN = "_stage"
REASONS_COLUMN = "_reasons"
RECORD_COLUMN = "_record"

QUARANTINE_DDL = f"{STAGE_COLUMN} string, {REASONS_COLUMN} array<string>, {RECORD_COLUMN} string"

# Rows rejected before the model (stages read and input_schema) can travel through the model pass
# beside the rows it scores, so one pass over the input finds both. Such a row carries in
# REJECTED_MARK a JSON object {"stage", "reasons", "record"}; the column is null on a row that goes
# on to the model. One column, not three: every column sent to the Python workers costs per row.
REJECTED_MARK = "_ms_rejected"
