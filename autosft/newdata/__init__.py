"""After the search: data that arrives once a model is exported, read through the study's own pipeline.

:mod:`.rows` loads a new file as the study's loader and encoder prepare rows and embeds rows with
the exported model; :mod:`.drift` compares new rows with the training split (``autosft drift``);
:mod:`.ranking` picks the rows of an unlabelled pool to label next (``autosft rank-unlabeled``).
"""

from __future__ import annotations

from autosft.newdata.rows import (
    StudyData,
    as_split,
    embed,
    load_new_rows,
    load_study,
    open_export,
    require_data_file,
)

__all__ = ["StudyData", "as_split", "embed", "load_new_rows", "load_study", "open_export", "require_data_file"]
