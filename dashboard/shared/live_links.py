"""Live training in a link: ``?<key>_at=N`` trains the page's live model to step N when the link opens.

Live training cannot be frozen in a URL, but its settings and seed are in the link already (every
control is bound to it), so a step count is enough: a session that opens the link builds the same
trainer and steps it to N under a progress bar (``live_training.trainer_for``). Training is
deterministic in the number of steps, however they are chunked (``tests/dashboard/test_live_links.py``
checks each live trainer), so the link shows the same picture every time. The sidebar's "Link to
this view" adds the step count of the page's live trainers (``link_parameters``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

# A link can carry a step count, ``?<key>_at=N``: a session that opens it trains the new trainer to step N
# (settings and seed come from the link too), under a progress bar. Training is deterministic in the step
# count, however the steps are chunked, so the same link shows the same picture every time.
LINK_STEPS = "_at"
MAX_LINK_STEPS = 20_000
LINK_CHUNK = 50  # steps between two updates of the progress bar
SLOT_PREFIX = "live::"  # session_state keys of live_training's slots


def link_steps(key: str, query: Mapping[str, str]) -> int:
    """The step count a link asks of ``key``'s trainer (``?<key>_at=N``), 0 when none or not a valid count."""
    text = query.get(f"{key}{LINK_STEPS}", "")
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_LINK_STEPS else 0


def train_to(trainer, steps: int, progress: Callable[[float], None] | None = None) -> None:
    """Step ``trainer`` to ``steps`` in chunks (the same state as one call: training is deterministic)."""
    while trainer.step_count < steps and trainer.stopped is None:
        trainer.step(min(LINK_CHUNK, steps - trainer.step_count))
        if progress is not None:
            progress(min(1.0, trainer.step_count / steps))


def link_parameters(state: Mapping, page: str) -> dict[str, str]:
    """``{<key>_at: step count}`` of the live trainers built on ``page`` that have trained: for its link."""
    return {f"{name[len(SLOT_PREFIX):]}{LINK_STEPS}": str(s.trainer.step_count) for name, s in state.items()
            if isinstance(name, str) and name.startswith(SLOT_PREFIX) and getattr(s, "page", None) == page
            and s.trainer.step_count > 0}
