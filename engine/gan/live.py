"""Live training of a GAN on 2D points: the trainer behind the GAN page's live section.

    from dataclasses import replace
    from engine.gan.live import GAN2DTrainer, PRESETS, sample_data, mode_centers, MODE_STD

    preset = PRESETS["cover_all"]
    data = sample_data(preset.dataset, 10_000, rng=0)
    trainer = GAN2DTrainer(data, preset.architecture, preset.settings,
                           modes=(mode_centers("ring8"), MODE_STD["ring8"]))
    trainer.step(500)                      # 500 generator iterations: [{"d_loss", "g_loss"}, ...]
    trainer.update(replace(trainer.settings, g_lr=1e-4))   # live, no restart
    trainer.evaluations[-1]                # {"step", "sliced_w2", "modes_covered", "high_quality"}
    picture = trainer.snapshot()           # GANSnapshot: samples, D heatmap, gradients, manifold

``step_count`` counts history entries: one per generator iteration of ``step`` and one per
update of ``step_only``. A stop's detail (``StopReason.detail``) carries ``loss``, ``g_lr``,
``d_lr``, ``g_optimizer`` and ``d_optimizer``. Data, the mode metric and the data sets live in
``engine.gan.modes`` (re-exported here); the networks and optimisers in ``engine.gan.nets``.

Speed (benchmarks/bench_gan2d.py): ~600 generator iterations/s on one busy CPU core with the
defaults. Run it with one torch thread: with two threads on a loaded machine every small op
waits for the other core and throughput falls 30-100x.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from engine.checks import positive, whole_number
from engine.gan.losses import LOSSES, discriminator_loss, generator_loss, gradient_penalty, probability_output
from engine.gan.modes import (  # noqa: F401  (re-exported: the contract names them here)
    EVAL_SAMPLES,
    GAN_DATASETS,
    MODE_STD,
    ModeReport,
    mode_centers,
    mode_coverage,
    sample_data,
)
from engine.gan.nets import GANNets
from engine.training import BaseTrainer

OPTIMIZERS = ("adam", "rmsprop", "sgd")


@dataclass(frozen=True)
class GANArchitecture:
    """What a change of rebuilds both networks (the page starts a new trainer)."""

    latent_dim: int = 2  # 2: the manifold view shows the whole latent space, and 2D data need no more
    width: int = 64  # hidden units per layer of both nets: covers ring8 in ~5,000 iterations at ~1 ms each;
    #                  128 is ~2x slower per iteration on a CPU core (benchmarks/bench_gan2d.py)
    depth: int = 2  # hidden layers: enough for the 25-grid; each extra layer costs ~25% speed
    seed: int = 0  # initial weights (G, D) and the noise / minibatch stream

    def __post_init__(self):
        whole_number(self.latent_dim, "latent_dim", 1)
        whole_number(self.width, "width", 1)
        whole_number(self.depth, "depth", 1)
        whole_number(self.seed, "seed", 0)


@dataclass(frozen=True)
class GANSettings:
    """What can change while training (``GAN2DTrainer.update``), with no restart."""

    loss: str = "non_saturating"  # Goodfellow's practical choice: strong gradients when D wins early
    d_steps: int = 1  # D updates per G iteration; 1 suits the JS losses, WGAN wants 5
    g_optimizer: str = "adam"  # Adam with beta1 = 0.5 (Radford et al. 2016) is the GAN workhorse
    g_lr: float = 1e-3  # 2D nets are small: 1e-3 moves samples across the view in ~100s of steps
    d_optimizer: str = "adam"
    d_lr: float = 1e-3
    batch_size: int = 256  # large enough that every ring8 mode is in each batch (~32 each)
    pack: int = 1  # PacGAN packing (Lin et al. 2018): D sees `pack` samples at once; 1 = plain GAN
    clip: float = 0.01  # WGAN weight clipping bound (Arjovsky et al. 2017, alg. 1)
    gp_weight: float = 10.0  # WGAN-GP penalty weight lambda (Gulrajani et al. 2017)
    beta1: float = 0.5  # Adam's first-moment decay; 0.9 (the default elsewhere) oscillates in GANs

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"unknown GAN loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        for name in ("g_optimizer", "d_optimizer"):
            if getattr(self, name) not in OPTIMIZERS:
                raise ValueError(f"{name} must be one of {OPTIMIZERS}, got {getattr(self, name)!r}")
        whole_number(self.d_steps, "d_steps", 1)
        whole_number(self.pack, "pack", 1)
        if whole_number(self.batch_size, "batch_size", 1) < self.pack:
            raise ValueError(f"batch_size ({self.batch_size}) must be >= pack ({self.pack})")
        for name in ("g_lr", "d_lr", "clip"):
            positive(getattr(self, name), name)
        if not (math.isfinite(self.gp_weight) and self.gp_weight >= 0):
            raise ValueError(f"gp_weight must be a finite number >= 0, got {self.gp_weight}")
        if not 0.0 <= self.beta1 < 1.0:
            raise ValueError(f"beta1 must be in [0, 1), got {self.beta1}")


@dataclass(frozen=True)
class Preset:
    dataset: str
    architecture: GANArchitecture
    settings: GANSettings


PRESETS = {
    # G learns 100x faster than D, with Adam's beta1 = 0.9 (momentum): every sample runs together to
    # wherever D currently says "real"; D, far slower, only then turns that place "fake", and the
    # clump's momentum carries it on along the ring. A tight clump circles the ring, rarely resting
    # on a mode. Measured on the page's data (10,000 points, rng 0), one torch thread: seeds 0-7 cover
    # at most 3 of the 8 modes at every evaluation (every 100 iterations) through 25,000 iterations,
    # 0.03-0.36 on average; now and then the clump overshoots far out of view (sliced W2 > 3 at
    # 3.5-8.5% of evaluations through 20,000 iterations, seeds 0-2). The former setting (G 2e-3,
    # D 1e-4, beta1 0.5) broke out: more than 3 modes from iteration 9,900 on seed 5 (8/8 by 14,000)
    # and 14,500 on seed 2 (8/8 at 17,500).
    "collapse": Preset("ring8", GANArchitecture(latent_dim=2, width=64, depth=2, seed=0),
                       GANSettings(loss="non_saturating", g_lr=3e-3, d_lr=3e-5, batch_size=256, beta1=0.9)),
    # Balanced learning rates, Adam(0.5, 0.999) and PacGAN packing 2 (D judges pairs, so a batch
    # lacking modes is detectable): 8/8 ring modes with >= 80% high quality in ~4,000-9,000
    # iterations (seeds 100-104 for choosing; table b of the benchmark reports seeds 0-4).
    "cover_all": Preset("ring8", GANArchitecture(latent_dim=2, width=64, depth=2, seed=0),
                        GANSettings(loss="non_saturating", g_lr=1e-3, d_lr=1e-3, batch_size=256, pack=2)),
}


@dataclass(frozen=True, eq=False)
class GANSnapshot:
    """What the live section draws, as numpy arrays (float64)."""

    step: int
    real: np.ndarray  # (n, 2) a fixed subset of the data (<= 1000)
    fake: np.ndarray  # (n, 2) G(z) for a fixed z batch (stable frames)
    bounds: tuple  # (xmin, xmax, ymin, ymax) of the view
    xs: np.ndarray  # (grid,)
    ys: np.ndarray  # (grid,)
    d_values: np.ndarray  # (grid, grid) [iy, ix]: sigmoid(D) for probability losses, raw critic value otherwise
    d_is_probability: bool
    gradients: np.ndarray  # (n, 2) -d(generator loss of that sample)/dx at each fake point
    manifold: np.ndarray  # (L, M, 2) image under G of grid lines in latent coordinates 1-2 (others 0)


class GAN2DTrainer(BaseTrainer):
    """Alternating GAN updates on 2D points, with live settings (see the module docstring).

    Each ``step`` is one generator iteration after ``settings.d_steps`` discriminator updates,
    each on a fresh minibatch of data and noise. WGAN clips D's weights after every D update;
    WGAN-GP adds ``gp_weight`` times the gradient penalty to D's loss. Every ``eval_every``
    entries (and at 0) an evaluation on 2,500 samples from a fixed z is appended to
    ``evaluations``: sliced W2 to a fixed data subset and, with ``modes``, the mode metric.
    History entries: "d_loss" (the last D update's loss; for wgan_gp without the penalty, so it
    stays minus the critic's W1 estimate) and "g_loss". Deterministic given ``architecture.seed``.
    """

    N_REAL = 1000  # data points in a snapshot
    N_FAKE = 500  # generated points in a snapshot (fixed z)
    SW_DIRECTIONS = 64  # sliced W2: direction noise ~1% of the value, a few ms per evaluation

    def __init__(self, data, architecture: GANArchitecture, settings: GANSettings,
                 modes: tuple[np.ndarray, float] | None = None, eval_every: int = 100):
        super().__init__()
        x = np.asarray(data, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 2 or len(x) < 2 or not np.all(np.isfinite(x)):
            raise ValueError(f"data must be a finite (n, 2) array with n >= 2, got shape {x.shape}")
        self.data, self.architecture, self.settings = x, architecture, settings
        self.modes = None if modes is None else (np.asarray(modes[0], dtype=float), positive(modes[1], "mode std"))
        self.eval_every = whole_number(eval_every, "eval_every", 1)
        self._x = torch.as_tensor(x, dtype=torch.float32)
        seed = int(architecture.seed)
        pick = np.random.default_rng(seed + 3)
        replace_ = len(x) < 2 * EVAL_SAMPLES  # small uploads: bootstrap draws
        idx = pick.choice(len(x), 2 * EVAL_SAMPLES, replace=replace_)
        self._eval_data, floor_draw = x[idx[:EVAL_SAMPLES]], x[idx[EVAL_SAMPLES:]]
        self._sw_cache = None
        self.sliced_w2_floor = self._sliced_w2(floor_draw)
        self._real_view = x[np.sort(pick.choice(len(x), min(self.N_REAL, len(x)), replace=False))]
        lo, hi = np.percentile(x, [0.5, 99.5], axis=0)
        centre, half = (lo + hi) / 2, max(float(np.max(hi - lo)) / 2 * 1.3, 0.5)  # square view, 30% margin
        self._bounds = (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)
        zgen = torch.Generator().manual_seed(seed + 2)  # fixed z: evaluation and snapshot frames
        self._z_eval = torch.randn((EVAL_SAMPLES, architecture.latent_dim), generator=zgen)
        self._mode = "both"
        self._gen = torch.Generator()
        self._reset()

    # ---- settings
    def update(self, settings: GANSettings) -> None:
        """Apply new settings from the next update: lr / betas keep optimiser state; an optimiser
        kind change rebuilds that network's optimiser; a ``pack`` change rebuilds D (fresh D)."""
        if not isinstance(settings, GANSettings):
            raise TypeError(f"settings must be a GANSettings, got {type(settings).__name__}")
        old, self.settings = self.settings, settings
        self.nets.apply(old, settings)

    def _settings(self) -> dict:
        return {"settings": self.settings}

    def _apply_settings(self, settings: dict) -> None:
        self.update(settings["settings"])

    def _stop_detail(self) -> dict:
        s = self.settings
        return {"loss": s.loss, "g_lr": s.g_lr, "d_lr": s.d_lr, "g_optimizer": s.g_optimizer,
                "d_optimizer": s.d_optimizer}

    # ---- training
    def _reset(self) -> None:
        self.nets = GANNets(self.architecture, self.settings)
        self._gen.manual_seed(int(self.architecture.seed) + 1)
        self.evaluations: list[dict] = []
        self._evaluate(0)

    def _batch(self, b: int) -> torch.Tensor:
        return self._x[torch.randint(len(self._x), (b,), generator=self._gen)]  # (b, 2), with replacement

    def _noise(self, b: int) -> torch.Tensor:
        return torch.randn((b, self.architecture.latent_dim), generator=self._gen)

    def _d_update(self) -> torch.Tensor:
        s, n = self.settings, self.nets
        b = s.batch_size - s.batch_size % s.pack  # whole packs only
        with torch.no_grad():
            fake = n.g(self._noise(b))
        real, fake = n.pack(self._batch(b)), n.pack(fake)  # (b / pack, 2 pack) each
        out = n.d(torch.cat([real, fake])).squeeze(1)  # one pass over both halves: half the per-op overhead
        loss = discriminator_loss(s.loss, out[: len(real)], out[len(real):])
        total = loss
        if s.loss == "wgan_gp" and s.gp_weight > 0:
            total = loss + s.gp_weight * gradient_penalty(lambda t: n.d(t).squeeze(1), real, fake, self._gen)
        n.d_opt.zero_grad(set_to_none=True)
        total.backward()
        n.d_opt.step()
        if s.loss == "wgan":  # Arjovsky et al. 2017, alg. 1: keep the critic in a compact set
            with torch.no_grad():
                torch._foreach_clamp_min_(n.d_params, -s.clip)
                torch._foreach_clamp_max_(n.d_params, s.clip)
        return loss.detach()

    def _g_loss(self, train: bool) -> torch.Tensor:
        s, n = self.settings, self.nets
        b = s.batch_size - s.batch_size % s.pack
        fake = n.pack(n.g(self._noise(b)))
        loss = generator_loss(s.loss, n.d(fake).squeeze(1))
        if train:
            n.g_opt.zero_grad(set_to_none=True)
            loss.backward(inputs=n.g_params)  # D's weights get no gradient from G's step
            n.g_opt.step()
        return loss.detach()

    def _d_loss_now(self) -> torch.Tensor:
        s, n = self.settings, self.nets
        b = s.batch_size - s.batch_size % s.pack
        with torch.no_grad():
            real, fake = n.pack(self._batch(b)), n.pack(n.g(self._noise(b)))
            return discriminator_loss(s.loss, n.d(real).squeeze(1), n.d(fake).squeeze(1))

    def _step(self) -> dict[str, float]:
        if self._mode == "d":
            d_loss = self._d_update()
            with torch.no_grad():
                g_loss = self._g_loss(train=False)
        elif self._mode == "g":
            g_loss = self._g_loss(train=True)
            d_loss = self._d_loss_now()
        else:
            for _ in range(self.settings.d_steps):
                d_loss = self._d_update()
            g_loss = self._g_loss(train=True)
        d_v, g_v = torch.stack([d_loss, g_loss]).tolist()  # one conversion, not two
        if (self.step_count + 1) % self.eval_every == 0:  # BaseTrainer counts this step after we return
            self._evaluate(self.step_count + 1)
        return {"d_loss": d_v, "g_loss": g_v}

    def step_only(self, which: str, n: int = 1) -> list[dict]:
        """n updates of D alone ("d") or G alone ("g"); each entry also holds the other network's
        loss, evaluated on a fresh batch, not trained. Stops on non-finite values like ``step``."""
        if which not in ("d", "g"):
            raise ValueError(f"which must be 'd' or 'g', got {which!r}")
        self._mode = which
        try:
            return self.step(n)
        finally:
            self._mode = "both"

    # ---- evaluation and drawing
    def _sliced_w2(self, points: np.ndarray) -> float:
        """sliced_wasserstein(points, eval data, SW_DIRECTIONS, p=2, rng=0) for 2,500 points, with
        the data side's sorted projections computed once (fixed directions: a smooth curve)."""
        if not np.all(np.isfinite(points)):
            return math.nan
        if self._sw_cache is None:
            theta = np.random.default_rng(0).standard_normal((self.SW_DIRECTIONS, 2))  # as sliced_wasserstein draws
            theta /= np.linalg.norm(theta, axis=1, keepdims=True)
            self._sw_cache = (theta, np.sort(theta @ np.ascontiguousarray(self._eval_data.T), axis=1))
        theta, data_sorted = self._sw_cache
        proj = np.sort(theta @ np.ascontiguousarray(points.T), axis=1)  # (K, 2500)
        return float(np.mean((proj - data_sorted) ** 2) ** 0.5)

    @torch.inference_mode()
    def _evaluate(self, step: int) -> None:
        fake = self.nets.g(self._z_eval).double().numpy()  # (2500, 2)
        entry = {"step": step, "sliced_w2": self._sliced_w2(fake)}
        if self.modes is not None:
            report = mode_coverage(fake, *self.modes)
            entry |= {"modes_covered": float(report.modes_covered), "high_quality": report.high_quality}
        self.evaluations.append(entry)

    def snapshot(self, grid: int = 64, bounds: tuple[float, float, float, float] | None = None) -> GANSnapshot:
        grid = whole_number(grid, "grid", 2)
        b = tuple(float(v) for v in (bounds or self._bounds))
        n, s = self.nets, self.settings
        xs, ys = np.linspace(b[0], b[1], grid), np.linspace(b[2], b[3], grid)
        with torch.inference_mode():
            gx, gy = np.meshgrid(xs, ys)  # [iy, ix]
            pts = torch.as_tensor(np.column_stack([gx.ravel(), gy.ravel()]), dtype=torch.float32)
            d = n.d(pts.repeat(1, s.pack)).squeeze(1)  # a point packed with copies of itself
            d = torch.sigmoid(d) if probability_output(s.loss) else d
            manifold = n.g(self._latent_grid()).double().numpy().reshape(-1, 41, 2)
        z = self._z_eval[: self.N_FAKE].clone()
        fake = n.g(z).detach().requires_grad_(True)  # (n, 2): the loss's gradient with respect to each point
        rows = fake.shape[0] // s.pack
        loss = generator_loss(s.loss, n.d(n.pack(fake[: rows * s.pack])).squeeze(1)) * rows  # a sum over rows
        (grad,) = torch.autograd.grad(loss, fake, allow_unused=True)
        grad = torch.zeros_like(fake) if grad is None else grad
        return GANSnapshot(self.step_count, self._real_view, fake.detach().double().numpy(), b, xs, ys,
                           d.double().numpy().reshape(grid, grid), probability_output(s.loss),
                           -grad.double().numpy(), manifold)

    def _latent_grid(self) -> torch.Tensor:
        """(L * 41, latent_dim): 11 lines per latent axis over [-2.5, 2.5] (+-2.5 std of N(0, 1))."""
        t = torch.linspace(-2.5, 2.5, 41)
        k = torch.linspace(-2.5, 2.5, 11)
        dim = self.architecture.latent_dim
        if dim == 1:
            return t[:, None]
        z = torch.zeros((2, 11, 41, dim))
        z[0, :, :, 0], z[0, :, :, 1] = t[None, :], k[:, None]  # lines along coordinate 1
        z[1, :, :, 0], z[1, :, :, 1] = k[:, None], t[None, :]  # lines along coordinate 2
        return z.reshape(-1, dim)

    # ---- state
    def _state(self) -> dict:
        return {"settings": asdict(self.settings), "nets": self.nets.state(),
                "generator": self._gen.get_state().numpy().copy(),
                "evaluations": [dict(e) for e in self.evaluations]}

    def _load_state(self, state: dict) -> None:
        self.update(GANSettings(**state["settings"]))
        self.nets.load(state["nets"])
        self._gen.set_state(torch.as_tensor(np.array(state["generator"], dtype=np.uint8)))
        self.evaluations = [dict(e) for e in state["evaluations"]]

