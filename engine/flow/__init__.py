"""Flow matching (rectified flow): the path, its exact velocity fields, Euler and Heun samplers, the link to DDIM.

matching    the maths: x_t = (1 - t) x_0 + t x_1, the velocity target, samplers, exact fields, DDIM as Euler
live        the live 2D trainer (the live DDPM's network on the flow-matching loss), judged as the DDPM is
"""

from engine.flow.matching import (  # noqa: F401  (the package's public API)
    SAMPLERS,
    Velocity,
    euler_step,
    evaluations,
    exact_velocity,
    from_vp,
    gaussian_transport,
    gaussian_velocity,
    heun_step,
    interpolate,
    posterior_data_mean,
    sample,
    straightness,
    target,
    to_vp,
    velocity_from_eps,
)
