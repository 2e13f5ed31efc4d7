"""engine.training: the trainer protocol (stop codes, rewind, resume, time-budgeted ticks).

Exercised through a minimal ``BaseTrainer`` subclass and through ``engine.mle.MLETrainer``, whose
too-high learning rate really diverges. Rewind checks demand exact equality: the same float64
operations in the same order must give the same bits.
"""

import math

import numpy as np

from engine.mle import MLEConfig, MLETrainer
from engine.training import NON_FINITE, BaseTrainer, StopReason, TrainerStopped

DATA = np.random.default_rng(0).normal(0.7, 1.5, 500)
STANDARDISED = (DATA - DATA.mean()) / DATA.std()


# ---------------------------------------------------------------- stopping
def test_too_high_learning_rate_really_diverges_and_stops():
    trainer = MLETrainer(MLEConfig(optimizer="sgd", lr=50.0), STANDARDISED)
    out = trainer.step(100)
    assert trainer.stopped is not None and trainer.stopped.code == NON_FINITE == "non_finite"
    assert len(out) == trainer.stopped.step == trainer.step_count < 100
    detail = trainer.stopped.detail
    assert detail["metric"] in out[-1] and detail["value"] in ("nan", "inf", "-inf")
    assert not math.isfinite(out[-1][detail["metric"]])
    assert detail["lr"] == 50.0 and detail["optimizer"] == "sgd"
    assert all(isinstance(v, str | int | float | bool) for v in detail.values())
    # Stopped: no more steps, no exception, nothing changes.
    assert trainer.step(5) == [] and trainer.step_count == len(out)
    assert trainer.snapshot().path.shape == (len(out) + 1, 2)
    trainer.reset()
    assert trainer.stopped is None and trainer.step_count == 0 and trainer.history == []
    assert len(trainer.step(2)) == 2


def test_resume_after_rewinding_and_lowering_the_learning_rate():
    trainer = MLETrainer(MLEConfig(optimizer="sgd", lr=50.0), STANDARDISED)
    start = trainer.state_dict()
    trainer.step(100)
    assert trainer.stopped is not None
    trainer.set_lr(0.1)
    assert trainer.step(1) == []  # set_lr alone does not clear the stop
    trainer.load_state_dict(start)  # the rewind restores that moment's settings too (lr = 50) ...
    assert trainer.lr == 50.0 and trainer.stopped is None and trainer.step_count == 0
    trainer.set_lr(0.1)  # ... so the page lowers the lr after rewinding
    trainer.resume()
    out = trainer.step(200)
    assert len(out) == 200 and trainer.stopped is None
    assert abs(out[-1]["mu"]) < 1e-3  # standardised data: MLE (0, 0)


def test_resume_rewinds_to_the_last_finite_state_but_keeps_the_new_lr():
    trainer = MLETrainer(MLEConfig(optimizer="sgd", lr=0.05), STANDARDISED)
    trainer.step(20)  # sane steps
    good = trainer.snapshot()
    trainer.set_lr(50.0)
    trainer.step(100)  # diverges within this call
    assert trainer.stopped is not None and not np.isfinite(trainer.history[-1]["loss"])
    trainer.set_lr(0.05)  # what the student does after reading the warning
    trainer.resume()
    assert trainer.stopped is None and trainer.step_count == 20 and len(trainer.history) == 20
    np.testing.assert_array_equal(trainer.snapshot().means, good.means)  # back before the failed call
    assert trainer.lr == 0.05  # ... with the lowered learning rate kept
    out = trainer.step(300)
    assert len(out) == 300 and trainer.stopped is None and abs(out[-1]["mu"]) < 1e-2


def test_resume_without_rewind_keeps_the_broken_state():
    trainer = MLETrainer(MLEConfig(optimizer="sgd", lr=50.0), STANDARDISED)
    trainer.step(100)
    count = trainer.step_count
    trainer.resume(rewind=False)
    assert trainer.step_count == count and trainer.stopped is None


def test_injected_nan_loss_pauses_the_trainer(monkeypatch):
    trainer = MLETrainer(MLEConfig(), DATA)
    trainer.step(3)
    real_loss = trainer._loss
    monkeypatch.setattr(trainer, "_loss", lambda xb: real_loss(xb) * float("nan"))
    out = trainer.step(10)
    assert len(out) == 1 and math.isnan(out[0]["loss"])
    assert trainer.stopped == StopReason("non_finite", 4, {"metric": "loss", "value": "nan", "lr": 0.05,
                                                          "optimizer": "adam", "family": "gaussian"})
    assert isinstance(trainer.stopped, TrainerStopped)
    assert trainer.step(1) == []


def test_base_trainer_loop_stops_on_any_non_finite_metric():
    class Countdown(BaseTrainer):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def _step(self):
            self.calls += 1
            return {"loss": 1.0, "other": -math.inf if self.calls == 3 else 2.0}

        def _state(self):
            return {"calls": self.calls}

        def _load_state(self, state):
            self.calls = state["calls"]

        def _reset(self):
            self.calls = 0

        def snapshot(self):
            return self.calls

    t = Countdown()
    out = t.step(10)
    assert len(out) == 3 and t.calls == 3
    assert t.stopped == StopReason("non_finite", 3, {"metric": "other", "value": "-inf"})
    assert t.step(10) == [] and t.calls == 3
    t.resume()  # rewinds to before the failing step(10) call: nothing of it is kept
    assert t.calls == 0 and t.step_count == 0 and t.history == []
    assert len(t.step(2)) == 2 and t.calls == 2
    saved = t.state_dict()
    assert saved["calls"] == 2 and saved["stopped"] is None and len(saved["history"]) == 2


def test_step_for_respects_the_step_cap():
    trainer = MLETrainer(MLEConfig(), DATA)
    out = trainer.step_for(10.0, max_steps=25)
    assert len(out) == 25 and trainer.step_count == 25
    assert 1 <= len(trainer.step_for(0.0)) <= 1  # a zero budget still takes one step
