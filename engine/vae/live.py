"""Live training of a VAE on 2D toy points: the trainer behind the VAE page (``engine.training`` protocol).

    from engine import toy2d
    from engine.vae.model import VAEConfig, VAETrainer      # (VAETrainer is defined here, re-exported there)

    trainer = VAETrainer(VAEConfig(latent_dim=1), toy2d.sample("moons", 1000, 0))
    trainer.step(25)[-1]        # {"loss", "elbo", "reconstruction", "kl", "log_px", "eval_elbo", "gap"}
    trainer.set_beta(8.0)       # live: the KL term's weight from the next step
    picture = trainer.snapshot()
    picture.elbo + picture.gap  # == picture.log_px: all three on the same fixed evaluation points
    picture.collapsed           # posterior collapse, judged from what the page shows (VAESnapshot)

A stop's detail (``StopReason.detail``) carries ``lr``, ``beta`` and ``latent_dim``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from engine.training import BaseTrainer, load_optimizer_state, optimizer_state, to_plain
from engine.vae.grid import log_marginal_grid
from engine.vae.model import VAE, VAEConfig, _check_positive, gaussian_kl

# Posterior collapse, judged from what the page shows (VAESnapshot.collapsed). Measured on the page's
# data (512 points of each toy2d set, seed 0, lr 2e-3, latent 1 and 2, steps 100-2000, checked every
# 10): at beta = 1 the KL stays >= 0.56 nats per point and the reconstructions keep >= 28% of the
# data's variance; at beta = 8 every set crosses both thresholds by step 490 and stays collapsed
# (moons, latent 1: from step 407, checked every step; the old rule, the training batch's KL < 0.05
# after step 300, held only from step 448, with the reconstructions long shrunk to a point).
COLLAPSE_KL = 0.1  # nats per point on the evaluation points: the codes carry almost nothing
COLLAPSE_SPREAD = 0.1  # reconstructions keep < 10% of the data's variance: visibly shrunk towards one point
COLLAPSE_MIN_STEPS = 100  # a freshly initialised net also maps everything near one point (spread ~0, KL ~0.02);
#   at beta = 1 it leaves that state by step 20 at lr 2e-3 and by step 56 at the page's lowest lr, 3e-4


def variance_kept(points, reference) -> float:
    """Total variance of ``points`` (n, d) as a fraction of that of ``reference`` (m, d): trace of the
    covariances, so 1 is "as spread out as the data" and 0 is "all on one point"."""
    points, reference = np.asarray(points, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    return float(points.var(0).sum() / reference.var(0).sum())


@dataclass(frozen=True, eq=False)
class VAESnapshot:
    """What the VAE page draws, as numpy arrays, and the numbers it prints.

    ``log_px``, ``elbo``, ``gap``, ``reconstruction`` and ``kl`` are means over the same fixed
    evaluation points (``eval_points`` of the data) at the current parameters, so
    ``elbo + gap == log_px`` and ``elbo == reconstruction - kl`` (to float64 rounding). The
    per-step "elbo" in ``history`` is something else: the one-sample estimate on each step's
    training batch, before that step's update.
    """

    step: int
    data: np.ndarray  # (n, 2) the training points
    reconstructions: np.ndarray  # (n, 2) decoder mean at the encoder mean
    samples: np.ndarray  # (n_samples, 2) decoder means of z ~ N(0, I)
    noisy_samples: np.ndarray  # (n_samples, 2) the same plus observation noise: draws from p(x)
    latents: np.ndarray  # (n, latent_dim) encoder means of the data
    latent_stds: np.ndarray  # (n, latent_dim) encoder stds
    obs_std: np.ndarray  # (2,) the Gaussian observation std
    eval_points: int  # data points the numbers below average over: config.eval_points (or all) less any
    #                   the quadrature refused (log_marginal_grid's NaN: not converged, or beyond its box)
    log_px: float  # exact mean log p(x) on the evaluation points (quadrature)
    elbo: float  # mean ELBO (beta = 1) there: reconstruction - kl
    gap: float  # log_px - elbo (the mean KL(q(z|x) || p(z|x)))
    reconstruction: float  # mean E_q[log p(x|z)] there, ELBO_SAMPLES draws per point
    kl: float  # mean KL(q(z|x) || p(z)) there, closed form
    reconstruction_spread: float  # variance_kept(reconstructions, data)
    history: dict  # metric name -> (steps,) array; "log_px" / "eval_elbo" / "gap" only at "exact_steps"

    @property
    def collapsed(self) -> bool:
        """Posterior collapse as it shows on screen: codes carry almost no information (``kl``) and
        the reconstructions have shrunk towards one point (``reconstruction_spread``), after the
        first ``COLLAPSE_MIN_STEPS`` steps (an untrained net looks collapsed too)."""
        return (self.step >= COLLAPSE_MIN_STEPS and self.kl < COLLAPSE_KL
                and self.reconstruction_spread < COLLAPSE_SPREAD)


class VAETrainer(BaseTrainer):
    """Live training of a VAE on 2D points (a latent of 1 or 2 dimensions), full batch, Adam.

    Metrics of each step: "loss" (-mean beta-ELBO), "elbo", "reconstruction", "kl" (batch means,
    one-sample estimates, before the step's update). Every ``config.eval_every`` steps (and at
    step 1) also, after the update and on a fixed subset of ``eval_points`` data points: "log_px",
    the exact mean log p(x) (``log_marginal_grid``), "eval_elbo", the mean ELBO (beta = 1, 64
    samples per point, with its own fixed-seed generator so evaluating never changes the training
    noise), and "gap" = log_px - eval_elbo.
    Deterministic given ``config.seed``. ``set_beta`` / ``set_lr`` act from the next step and
    survive ``resume()`` and ``reset()``.
    """

    N_SAMPLES = 500  # prior samples in a snapshot
    ELBO_SAMPLES = 64  # per point, for the gap's ELBO: one-sample std ~1 nat, so ~0.012 nats on 128 points

    def __init__(self, config: VAEConfig, data):
        super().__init__()
        x = np.asarray(data, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != config.data_dim or len(x) == 0 or not np.all(np.isfinite(x)):
            raise ValueError(f"data must be a finite (n, {config.data_dim}) array, got shape {x.shape}")
        if config.likelihood != "gaussian" or config.latent_dim not in (1, 2):
            raise ValueError("VAETrainer is for 2D points: likelihood 'gaussian' and latent_dim 1 or 2")
        self.config, self.data = config, x
        self._x = torch.as_tensor(x, dtype=torch.float32)
        subset = np.random.default_rng(config.seed).permutation(len(x))[:config.eval_points]
        self._x_eval = self._x[np.sort(subset)]
        self.lr, self.beta = config.lr, config.beta
        self._gen = torch.Generator()
        self._exact: tuple[int, dict] | None = None  # (step, _evaluate's numbers): the snapshot's cache
        self._reset()

    def _reset(self) -> None:
        self.model = VAE(self.config)
        self._opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self._gen.manual_seed(int(self.config.seed))
        self._exact = None

    def set_lr(self, lr: float) -> None:
        self.lr = _check_positive("lr", lr)
        for group in self._opt.param_groups:
            group["lr"] = self.lr

    def set_beta(self, beta: float) -> None:
        beta = float(beta)
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be a finite number >= 0, got {beta}")
        self.beta = beta

    def _batch(self) -> torch.Tensor:
        b = self.config.batch_size
        if b is None or b >= len(self._x):
            return self._x
        return self._x[torch.randperm(len(self._x), generator=self._gen)[:b]]

    def _step(self) -> dict[str, float]:
        terms = self.model.elbo(self._batch(), self.beta, self._gen)
        loss = -terms.elbo.mean()
        self._opt.zero_grad(set_to_none=True)
        loss.backward()
        self._opt.step()
        rec, kl = terms.reconstruction.detach().mean(), terms.kl.detach().mean()
        loss_v, rec_v, kl_v = torch.stack([loss.detach(), rec, kl]).tolist()
        metrics = {"loss": loss_v, "elbo": rec_v - kl_v, "reconstruction": rec_v, "kl": kl_v}
        number = self.step_count + 1  # BaseTrainer counts this step after _step returns
        if number == 1 or number % self.config.eval_every == 0:
            exact = self._evaluate(number)
            metrics |= {"log_px": exact["log_px"], "eval_elbo": exact["elbo"], "gap": exact["gap"]}
        return metrics

    @torch.no_grad()
    def _evaluate(self, step: int) -> dict[str, float]:
        """Means over the fixed evaluation points at the current parameters, cached per step:
        "log_px", "elbo" (= "reconstruction" - "kl"), "gap" (= log_px - elbo), "reconstruction", "kl"."""
        if self._exact is None or self._exact[0] != step:
            gen = torch.Generator().manual_seed(int(self.config.seed) + 1)
            m, x = self.model, self._x_eval
            mu, log_var = m.encode(x)  # (B, L)
            z = m.reparameterize(mu.expand(self.ELBO_SAMPLES, *mu.shape), log_var, gen)  # (S, B, L) in one batch
            reconstruction = m.log_likelihood(x, m.decode(z)).double().mean(0)  # (S, B) -> (B,)
            kl = gaussian_kl(mu, log_var).double()  # (B,)
            log_px = log_marginal_grid(m, x).double()  # (B,); NaN where the quadrature refuses a point
            kept = torch.isfinite(log_px)  # every number below averages over the same points
            if not kept.any():  # nothing converged: a NaN that stops the trainer with its reason
                kept = torch.ones_like(kept)
            log_px, reconstruction, kl = (v[kept].mean().item() for v in (log_px, reconstruction, kl))
            elbo = reconstruction - kl
            self._exact = (step, {"log_px": log_px, "elbo": elbo, "gap": log_px - elbo,
                                  "reconstruction": reconstruction, "kl": kl, "points": int(kept.sum())})
        return self._exact[1]

    def _stop_detail(self) -> dict:
        return {"lr": self.lr, "beta": self.beta, "latent_dim": self.config.latent_dim}

    def _settings(self) -> dict:
        return {"lr": self.lr, "beta": self.beta}

    def _apply_settings(self, settings: dict) -> None:
        self.set_lr(settings["lr"])
        self.set_beta(settings["beta"])

    @torch.no_grad()
    def snapshot(self) -> VAESnapshot:
        m, x = self.model, self._x
        mu, log_var = m.encode(x)
        gen = torch.Generator().manual_seed(int(self.config.seed) + 2)  # the same z every snapshot: calm plots
        z = torch.randn((self.N_SAMPLES, self.config.latent_dim), generator=gen)
        out = m.decode(z)
        noisy = out + m.obs_std() * torch.randn(out.shape, generator=gen)
        exact = self._evaluate(self.step_count)
        steps = np.arange(1, len(self.history) + 1)
        at = [i for i, h in enumerate(self.history) if "log_px" in h]
        history = {k: np.array([h[k] for h in self.history]) for k in ("loss", "elbo", "reconstruction", "kl")}
        history |= {"step": steps, "exact_steps": steps[at]}
        history |= {k: np.array([self.history[i].get(k, np.nan) for i in at]) for k in ("log_px", "eval_elbo", "gap")}
        reconstructions = m.reconstruct(x).double().numpy()
        arrays = (t.double().numpy() for t in (out, noisy, mu, torch.exp(0.5 * log_var), m.obs_std()))
        return VAESnapshot(self.step_count, self.data, reconstructions, *arrays, exact["points"], exact["log_px"],
                           exact["elbo"], exact["gap"], exact["reconstruction"], exact["kl"],
                           variance_kept(reconstructions, self.data), history)

    def _state(self) -> dict:
        return {
            "model": {k: to_plain(v) for k, v in self.model.state_dict().items()},
            "lr": self.lr,
            "beta": self.beta,
            "optimizer_state": optimizer_state(self._opt),
            "generator": self._gen.get_state().numpy().copy(),
        }

    def _load_state(self, state: dict) -> None:
        self.model.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in state["model"].items()})
        self.lr, self.beta = _check_positive("lr", state["lr"]), float(state["beta"])
        self._opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        load_optimizer_state(self._opt, state["optimizer_state"])
        self._gen.set_state(torch.as_tensor(np.array(state["generator"], dtype=np.uint8)))
        self._exact = None
