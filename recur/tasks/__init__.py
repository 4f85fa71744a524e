"""The tasks ``recur train --task`` knows, by name (see :mod:`recur.tasks.spec`)."""

from recur.tasks import caption, classify, clips, dna, forecast, lm, tag, translate
from recur.tasks.saved import open_run
from recur.tasks.spec import Option, Prepared, SavedRun, TaskSpec

TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        lm.SPEC,
        classify.SPEC,
        translate.SPEC,
        caption.SPEC,
        clips.SPEC,
        tag.SPEC,
        dna.SPEC,
        forecast.SPEC,
    )
}

__all__ = ["TASKS", "Option", "Prepared", "SavedRun", "TaskSpec", "open_run"]
