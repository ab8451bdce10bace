"""What a training run records: the one :class:`History` every lesson's trainer returns
(:func:`course_utils.training.fit` fills it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter

import numpy as np


@dataclass
class History:
    """What a training run records (:func:`fit` fills it).

    Per update: ``losses`` (in the unit the update reports: the loss function's, or bits
    per character for the character model), ``grad_norms`` (the global gradient norm
    *before* clipping, where the update measures it) and ``clipped`` (whether clipping
    shortened the gradient, where the update says). Every ``log_every`` updates:
    ``log_steps``, ``log_times`` and ``log_losses`` (the mean loss since the last log).
    Evaluations: ``eval_steps``, ``eval_times``, ``evals``. ``epoch_losses``: mean loss of
    each pass over the data. ``n_steps``: updates taken; ``items_seen``: items trained on
    (e.g. characters). ``seconds``: training time on ``clock`` ('wall' or 'cpu'), without
    the time spent evaluating unless the run counted it; ``cpu_seconds``: process CPU time
    of the run. ``stopped_at``: the update at which a ``diverged`` or ``solved`` hook
    stopped the run (None: it ran to its budget), ``diverged`` and ``message`` say why.
    ``result``: what was trained (a model, or a list of numpy parameters). The lessons'
    own words for these records (``loss``, ``eval_mse``, ``val_bpc`` …) are read-only
    views (:data:`LESSON_VIEWS`).
    """

    name: str = ""
    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    clipped: list[bool] = field(default_factory=list)
    epoch_losses: list[float] = field(default_factory=list)
    log_steps: list[int] = field(default_factory=list)
    log_times: list[float] = field(default_factory=list)
    log_losses: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_times: list[float] = field(default_factory=list)
    evals: list[float] = field(default_factory=list)
    n_steps: int = 0
    items_seen: int = 0
    clock: str = "wall"
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    stopped_at: int | None = None
    diverged: bool = False
    message: str = ""
    result: object = field(default=None, repr=False, compare=False)

    @property
    def n_updates(self) -> int:
        return len(self.losses)

    @property
    def final_eval(self) -> float:
        """The last evaluation (NaN if none)."""
        return self.evals[-1] if self.evals else float("nan")

    def smoothed(self, window: int = 20) -> np.ndarray:
        """Moving average of ``losses`` over ``window`` updates (shorter at the start)."""
        x = np.asarray(self.losses, dtype=float)
        if x.size == 0:
            return x
        c = np.cumsum(np.insert(x, 0, 0.0))
        idx = np.arange(1, x.size + 1)
        lo = np.maximum(0, idx - window)
        return (c[idx] - c[lo]) / (idx - lo)

    def final_loss(self, last: int = 20) -> float:
        """Mean loss over the last ``last`` updates (inf if training diverged)."""
        if self.diverged or not self.losses:
            return float("inf")
        return float(np.mean(self.losses[-last:]))

    @property
    def final_mse(self) -> float:
        """The last evaluation MSE (notebook 07)."""
        return self.evals[-1]

    final_val_bpc = final_eval  # notebook 08


# The lessons' words for the same records (read-only views): name -> History field.
LESSON_VIEWS = {"loss": "losses", "grad_norm": "grad_norms", "params": "result",  # 06
                "model": "result", "steps": "eval_steps", "eval_mse": "evals",  # 07
                "val_steps": "eval_steps", "val_times": "eval_times", "val_bpc": "evals",  # 08
                "times": "log_times", "train_bpc": "log_losses", "chars_seen": "items_seen"}
for _view, _name in LESSON_VIEWS.items():
    setattr(History, _view, property(attrgetter(_name), doc=f"``{_name}`` (a lesson's word for it)"))
