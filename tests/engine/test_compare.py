"""The race of the five families (engine.compare) and the DDPM's variational bound it reports."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine import compare
from engine.diffusion import Schedule, ScheduleConfig, variational_bound
from engine.gan.modes import MODE_STD, mode_centers, sample_data
from engine.likelihood import em_mixture


def test_the_mixture_trainer_takes_em_mixtures_iterations_one_at_a_time():
    x = sample_data("ring8", 800, 0)
    trainer = compare.MixtureTrainer(x, k=8, seed=3)
    trainer.step(12)
    fit = em_mixture(x, 8, seed=3, max_iter=12, tol=-math.inf)  # exactly 12 iterations
    model = trainer.model()
    order = np.argsort(model.means[:, 0], kind="stable")  # em_mixture sorts its components
    assert np.allclose(model.means[order], fit.means, atol=1e-10)
    assert np.allclose(model.covs[order], fit.covs, atol=1e-10)
    assert trainer.history[-1]["log_likelihood"] == pytest.approx(fit.log_likelihood_history[-2], abs=1e-10)


def test_the_ddpm_bound_lies_above_the_exact_nll_and_tightens_with_more_steps():
    """Gaussian data N(0, I) in 2D with its exact noise predictor eps*(x_t) = sqrt(1 - abar_t) x_t: the bound
    (an upper bound on -log p) is above the exact NLL, log 2 pi + E|x|^2 / 2 = 2.84 nats, and closer with T."""
    x0 = torch.randn(4000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    nll = float((0.5 * x0.pow(2).sum(1) + math.log(2 * math.pi)).mean())
    bounds = {}
    for steps in (100, 1000):
        schedule = Schedule(ScheduleConfig("cosine", steps))

        def eps(xt, t, schedule=schedule):
            return (1 - schedule.extract("alpha_bar", t, xt)).sqrt() * xt

        bounds[steps] = float(variational_bound(schedule, eps, x0, torch.Generator().manual_seed(1)).mean())
    assert nll < bounds[1000] < bounds[100]
    assert bounds[1000] - nll < 1.0


@pytest.fixture(scope="module")
def ring_race():
    train, heldout = sample_data("ring8", 2000, 0), sample_data("ring8", 600, 1)
    race = compare.Race(train, heldout, modes=(mode_centers("ring8"), MODE_STD["ring8"]))
    race.step(20)
    return race


def test_every_family_is_scored_by_the_same_protocol(ring_race):
    board = ring_race.scoreboard()
    assert list(board) == list(compare.FAMILIES)
    for family, score in board.items():
        assert score.floor == ring_race.floor and score.ratio == score.sliced_w2 / score.floor
        assert score.n_modes == 8 and 0 <= score.modes_covered <= 8
        assert score.steps == ring_race.lanes[family].trainer.step_count or score.round < ring_race.step_count
    assert board["mixture"].evaluations == 0 and board["gan"].evaluations == 1
    assert board["ddpm"].evaluations == 100 and board["flow"].evaluations == 40
    assert board["gan"].log_likelihood == {} and board["flow"].log_likelihood == {}
    vae = board["vae"].log_likelihood
    assert vae["elbo"] <= vae["iwae"] + 0.02 and vae["iwae"] <= vae["exact"] + 0.05  # ELBO <= IWAE <= log p
    mixture = ring_race.lanes["mixture"].trainer.model()
    held = ring_race._score_heldout[:compare.N_LIKELIHOOD]
    assert board["mixture"].log_likelihood["exact"] == pytest.approx(float(np.mean(mixture.logpdf(held))))
    assert "bound" in board["ddpm"].log_likelihood


def test_the_floor_is_data_against_data_and_em_gets_near_it_on_the_ring(ring_race):
    assert 0 < ring_race.floor < 0.5
    mixture = ring_race.scoreboard()["mixture"]
    assert mixture.ratio < 2 and mixture.modes_covered == 8  # 8 components on 8 round modes: EM finds them
    assert ring_race.lanes["mixture"].reached.get(2) is not None


def test_a_race_is_deterministic_in_its_rounds():
    train, heldout = sample_data("moons", 600, 0), sample_data("moons", 200, 1)
    a, b = compare.Race(train, heldout), compare.Race(train, heldout)
    a.step(4)
    b.step(2)
    b.step(2)
    for family in compare.FAMILIES:
        assert a.lanes[family].trainer.history == b.lanes[family].trainer.history, family


def test_views_have_the_shapes_the_page_draws(ring_race):
    bounds = compare.bounds_of(ring_race.train)
    views = {f: compare.view(f, lane.trainer, bounds, grid=20, paths=7) for f, lane in ring_race.lanes.items()}
    assert views["mixture"]["density"].shape == views["gan"]["d"].shape == (20, 20)
    assert views["vae"]["grid"].shape == (22, 41, 2)
    assert views["ddpm"]["paths"].shape[0] == views["flow"]["paths"].shape[0] == 7
    assert np.allclose(views["flow"]["paths"][:, -1], ring_race.lanes["flow"].trainer.trajectories(7, 0)[-1])


def test_points_on_a_line_do_not_break_the_mixture():
    x = np.column_stack([np.linspace(-2, 2, 300), np.zeros(300)])  # every y is 0
    trainer = compare.MixtureTrainer(x, k=3)
    trainer.step(20)
    assert trainer.stopped is None and np.isfinite(trainer.history[-1]["log_likelihood"])


def test_a_race_stops_at_its_round_limit_until_reset():
    race = compare.Race(sample_data("moons", 300, 0), sample_data("moons", 100, 1), families=("mixture",),
                        max_rounds=3)
    assert len(race.step(5)) == 3 and race.stopped.code == "rounds" and race.step_count == 3
    race.resume()  # play after the stop: the lanes may go on, the race does not
    assert race.step(1) == [] and race.stopped is not None
    race.reset()
    assert race.stopped is None and len(race.step(2)) == 2
    assert len(race.history) == 1  # the race keeps its latest round only


def test_networks_built_at_once_in_many_threads_get_their_seeds_weights():
    """Every session is a thread of one process: construction under engine.training.seeded is one at a time,
    so a network's initial weights depend on its seed alone, not on who else is building."""
    import threading

    from engine.diffusion.live import Diffusion2DConfig, Diffusion2DTrainer
    from engine.gan.live import GANArchitecture, GANSettings
    from engine.gan.nets import GANNets

    points = sample_data("moons", 200, 0)
    reference = Diffusion2DTrainer(Diffusion2DConfig(seed=5, eval_every=10**9), points).model.state_dict()
    gan = GANNets(GANArchitecture(seed=5), GANSettings()).g.state_dict()
    built, failures = [], []

    def build() -> None:
        for _ in range(3):
            trainer = Diffusion2DTrainer(Diffusion2DConfig(seed=5, eval_every=10**9), points)
            nets = GANNets(GANArchitecture(seed=5), GANSettings())
            built.append((trainer.model.state_dict(), nets.g.state_dict()))

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for ddpm, g in built:
        failures += [k for k in reference if not torch.equal(ddpm[k], reference[k])]
        failures += [k for k in gan if not torch.equal(g[k], gan[k])]
    assert len(built) == 12 and not failures
