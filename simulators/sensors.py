"""What a thermocouple makes of the tissue temperature: lag, noise and quantisation.

A needle thermocouple needs 10-15 s to settle (docs/clinical-defaults.md, source [9]): modelled
as a first-order lag with time constant ``tau_s`` (95 % after 3τ, so τ = 4 s settles in 12 s).
Acquisition adds Gaussian noise and rounds to the 0.1 °C resolution of the instruments the
drivers read.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

NEEDLE_TAU_S = 4.0  # 3τ = 12 s: inside the 10-15 s settling (docs/clinical-defaults.md)
PROBE_TAU_S = 1.0  # engineering choice: thermocouple bonded inside the probe tip
NOISE_SD_C = 0.07  # engineering choice: about the 0.1 °C resolution of the instruments
RESOLUTION_C = 0.1  # display resolution of the emulated instruments


def first_order_lag(t: FloatArray, x: FloatArray, tau_s: FloatArray) -> FloatArray:
    """Response of first-order sensors (one column each) to inputs ``x`` sampled at ``t``.

    The input is taken as linear between samples, for which the update is exact, so the result
    does not depend on the physics step. The sensor starts settled at ``x[0]``.
    """
    y = np.empty_like(x)
    y[0] = x[0]
    tau = np.asarray(tau_s, dtype=float)
    for i in range(1, len(t)):
        h = t[i] - t[i - 1]
        slope = (x[i] - x[i - 1]) / h
        decay = np.exp(-h / tau)
        y[i] = x[i] - tau * slope + (y[i - 1] - x[i - 1] + tau * slope) * decay
    return y


def acquire(t_phys: FloatArray, lagged: FloatArray, t_out: FloatArray,
            rng: np.random.Generator, noise_sd_c: float = NOISE_SD_C,
            resolution_c: float = RESOLUTION_C) -> FloatArray:
    """Resample lagged sensor outputs at the acquisition times, add noise, quantise."""
    out = np.empty((len(t_out), lagged.shape[1]))
    for c in range(lagged.shape[1]):
        out[:, c] = np.interp(t_out, t_phys, lagged[:, c])
    out += rng.normal(0.0, noise_sd_c, size=out.shape)
    return np.round(out / resolution_c) * resolution_c
