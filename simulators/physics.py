"""Tissue heat transfer around cryoprobes: a 2-D planar enthalpy model with Pennes perfusion.

Why this shape: the plane is the cross-section through the probe tips (probes are long cylinders
perpendicular to it), which is where the ice ball is widest and where the juxtaneural needles sit.
2-D lets several probes, bone and soft tissue, a carbon dioxide pocket around a nerve and a warm
saline pool coexist, and an explicit finite-volume step on a 1.5 mm grid runs a 30-minute
procedure in a fraction of a second. Every parameter and its source is in ``docs/simulator.md``.

The enthalpy method stores volumetric enthalpy ``H`` (J/m³, zero at the solidus) per cell and
derives temperature from it, so latent heat is released over the mushy range without tracking
the freezing front. Heat fluxes are computed face by face, so the scheme conserves energy to
round-off; :class:`EnergyLedger` books every source and sink and the tests check the balance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

T_SOLIDUS_C = -8.0  # tissue fully frozen below (cryosurgery modelling convention, see docs)
T_LIQUIDUS_C = -1.0  # tissue starts to freeze below
T_BODY_C = 37.0  # arterial blood and initial tissue temperature
BLOOD_HEAT_CAPACITY = 3.8e6  # J/(m³·K): ρc of blood, 1050 kg/m³ × 3617 J/(kg·K)

Phase = Literal["idle", "freeze", "thaw_passive", "thaw_active", "done"]
PHASES: tuple[Phase, ...] = ("idle", "freeze", "thaw_passive", "thaw_active", "done")


@dataclass(frozen=True, slots=True)
class Material:
    """Thermal properties of one tissue in its unfrozen and frozen states (SI units)."""

    name: str
    k_unfrozen: float  # W/(m·K)
    k_frozen: float  # W/(m·K)
    c_unfrozen: float  # volumetric heat capacity, J/(m³·K)
    c_frozen: float  # J/(m³·K)
    latent: float  # volumetric latent heat of the tissue water, J/m³
    perfusion: float  # Pennes blood perfusion rate, 1/s (m³ blood per m³ tissue per s)


SOFT_TISSUE = Material("soft tissue", 0.5, 2.0, 3.6e6, 1.8e6, 250e6, 0.0005)
BONE = Material("bone", 0.4, 0.9, 2.4e6, 1.6e6, 80e6, 0.0003)
NERVE = Material("nerve", 0.5, 2.0, 3.6e6, 1.8e6, 250e6, 0.0008)
CO2_POCKET = Material("CO2 pocket", 0.04, 0.04, 0.4e6, 0.4e6, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Disc:
    """A circular region of the plane, in millimetres from the domain centre."""

    x_mm: float
    y_mm: float
    r_mm: float

    def mask(self, xs: FloatArray, ys: FloatArray) -> npt.NDArray[np.bool_]:
        return np.asarray((xs - self.x_mm) ** 2 + (ys - self.y_mm) ** 2 <= self.r_mm ** 2)


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned rectangle of the plane, in millimetres from the domain centre."""

    x0_mm: float
    y0_mm: float
    x1_mm: float
    y1_mm: float

    def mask(self, xs: FloatArray, ys: FloatArray) -> npt.NDArray[np.bool_]:
        return np.asarray((xs >= self.x0_mm) & (xs <= self.x1_mm)
                          & (ys >= self.y0_mm) & (ys <= self.y1_mm))


@dataclass(frozen=True, slots=True)
class Annulus:
    """A ring around a point (a fluid layer around a nerve), in millimetres."""

    x_mm: float
    y_mm: float
    r_in_mm: float
    r_out_mm: float

    def mask(self, xs: FloatArray, ys: FloatArray) -> npt.NDArray[np.bool_]:
        d2 = (xs - self.x_mm) ** 2 + (ys - self.y_mm) ** 2
        return np.asarray((d2 > self.r_in_mm ** 2) & (d2 <= self.r_out_mm ** 2))


Region = Disc | Box | Annulus


@dataclass(frozen=True, slots=True)
class Probe:
    """A cryoprobe crossing the plane; its tip follows the console phase.

    Freeze drives the tip toward ``freeze_c`` (argon Joule–Thomson), active thaw toward
    ``active_thaw_c`` (helium), each with time constant ``tau_s``; in passive thaw and idle
    the probe is not driven and its cells exchange heat like the tissue around them.
    """

    x_mm: float
    y_mm: float
    r_mm: float = 0.85  # 17-gauge probe, 1.7 mm outer diameter
    freeze_c: float = -140.0
    active_thaw_c: float = 20.0
    tau_s: float = 20.0


@dataclass(frozen=True, slots=True)
class PhaseSpan:
    """The console in one phase from ``start_s`` to ``end_s`` (session seconds)."""

    phase: Phase
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Injection:
    """A thermal-protection manoeuvre from ``start_s`` (to ``end_s``, or the end).

    ``co2``: the region turns into a gas pocket (low conductivity, no perfusion) and stays so.
    ``saline``: the region is held at ``temp_c`` while the injection lasts, then is tissue again.
    Both dissect soft tissue only: bone cells inside the region are left as they are.
    """

    kind: Literal["co2", "saline"]
    region: Region
    start_s: float
    end_s: float | None = None
    temp_c: float = 37.0


@dataclass(frozen=True, slots=True)
class Point:
    """Where a thermocouple tip sits, in millimetres from the domain centre."""

    x_mm: float
    y_mm: float


@dataclass(frozen=True, slots=True)
class Setup:
    """Everything the physics needs: anatomy, probes, their schedule and the sensor tips."""

    probes: tuple[Probe, ...]
    phases: tuple[PhaseSpan, ...]
    sensors: tuple[Point, ...]
    bone: tuple[Region, ...] = ()
    nerves: tuple[Region, ...] = ()
    injections: tuple[Injection, ...] = ()
    size_mm: float = 90.0

    def phase_at(self, t: float) -> Phase:
        for span in self.phases:
            if span.start_s <= t < span.end_s:
                return span.phase
        return "idle"


@dataclass
class EnergyLedger:
    """Heat (J per metre of probe length) added to the tissue by each mechanism."""

    probes: float = 0.0
    perfusion: float = 0.0
    saline: float = 0.0
    material_change: float = 0.0
    initial: float = 0.0
    final: float = 0.0

    @property
    def imbalance(self) -> float:
        """Final minus initial enthalpy minus every booked source: zero for a conserving scheme."""
        sources = self.probes + self.perfusion + self.saline + self.material_change
        return self.final - self.initial - sources


@dataclass
class PhysicsResult:
    """True tissue temperatures at the sensor tips, sampled at every physics step."""

    t: FloatArray  # s, shape (n,)
    temps: FloatArray  # °C, shape (n, sensors)
    dt_s: float
    dx_mm: float
    ledger: EnergyLedger
    field_c: FloatArray  # final temperature field, °C
    xs_mm: FloatArray = field(repr=False, default_factory=lambda: np.zeros(0))

    def isotherm_radius_mm(self, level_c: float, x_mm: float = 0.0, y_mm: float = 0.0) -> float:
        """Distance along +x from a point to where the field first warms past ``level_c``.

        Linear interpolation between cell centres on the grid row nearest ``y_mm``, so the
        answer is not quantised to the cell size (0 when the point itself is warmer).
        """
        row = self.field_c[int(np.argmin(np.abs(self.xs_mm - y_mm)))]
        xs = self.xs_mm
        ahead = xs >= x_mm - 1e-9
        xr, tr = xs[ahead], row[ahead]
        if len(tr) == 0 or tr[0] > level_c:
            return 0.0
        warm = np.nonzero(tr > level_c)[0]
        if len(warm) == 0:
            return float(xr[-1] - x_mm)
        j = int(warm[0])
        frac = (level_c - tr[j - 1]) / (tr[j] - tr[j - 1])
        return float(xr[j - 1] + frac * (xr[j] - xr[j - 1]) - x_mm)


class _Grid:
    """Per-cell material arrays and the enthalpy ↔ temperature maps."""

    def __init__(self, setup: Setup, dx_mm: float) -> None:
        n = max(9, round(setup.size_mm / dx_mm)) | 1  # odd: the centre is a cell centre
        self.n = n
        self.dx = dx_mm * 1e-3
        self.xs_mm: FloatArray = ((np.arange(n) + 0.5) * dx_mm - n * dx_mm / 2.0).astype(np.float64)
        self.X, self.Y = np.meshgrid(self.xs_mm, self.xs_mm)
        shape = (n, n)
        self.ku = np.empty(shape)
        self.kf = np.empty(shape)
        self.cu = np.empty(shape)
        self.cf = np.empty(shape)
        self.latent = np.empty(shape)
        self.perf = np.empty(shape)
        self.assign(np.ones(shape, dtype=bool), SOFT_TISSUE)
        for region in setup.bone:
            self.assign(region.mask(self.X, self.Y), BONE)
        for region in setup.nerves:
            self.assign(region.mask(self.X, self.Y), NERVE)

    def assign(self, mask: npt.NDArray[np.bool_], m: Material) -> None:
        self.ku[mask] = m.k_unfrozen
        self.kf[mask] = m.k_frozen
        self.cu[mask] = m.c_unfrozen
        self.cf[mask] = m.c_frozen
        self.latent[mask] = m.latent
        self.perf[mask] = m.perfusion * BLOOD_HEAT_CAPACITY
        self.refresh()

    def refresh(self) -> None:
        span = T_LIQUIDUS_C - T_SOLIDUS_C
        self.cmush = 0.5 * (self.cu + self.cf) + self.latent / span
        self.h_liquidus = self.cmush * span
        self.inv_cf = 1.0 / self.cf
        self.inv_cu = 1.0 / self.cu
        self.inv_cmush = 1.0 / self.cmush

    def enthalpy(self, temp: FloatArray, mask: npt.NDArray[np.bool_] | None = None) -> FloatArray:
        """H(T) for the cells of ``mask`` (all cells when None)."""
        sel = (slice(None),) if mask is None else (mask,)
        t = np.broadcast_to(temp, self.ku.shape)[sel] if np.ndim(temp) else np.full(
            self.ku[sel].shape, float(temp))
        cf, cm, cu, hl = self.cf[sel], self.cmush[sel], self.cu[sel], self.h_liquidus[sel]
        return np.where(t <= T_SOLIDUS_C, cf * (t - T_SOLIDUS_C),
                        np.where(t >= T_LIQUIDUS_C, hl + cu * (t - T_LIQUIDUS_C),
                                 cm * (t - T_SOLIDUS_C)))

    def temperature(self, h: FloatArray) -> FloatArray:
        return np.where(h <= 0.0, T_SOLIDUS_C + h * self.inv_cf,
                        np.where(h >= self.h_liquidus,
                                 T_LIQUIDUS_C + (h - self.h_liquidus) * self.inv_cu,
                                 T_SOLIDUS_C + h * self.inv_cmush))

    def stable_dt(self) -> float:
        alpha = max(float((self.ku / self.cu).max()), float((self.kf / self.cf).max()))
        return 0.9 * self.dx ** 2 / (4.0 * alpha)


def _bilinear(xs_mm: FloatArray, points: Sequence[Point]) -> tuple[
        npt.NDArray[np.intp], FloatArray]:
    """Flat indices (p, 4) and weights (p, 4) to sample a field at each point."""
    n = len(xs_mm)
    dx = float(xs_mm[1] - xs_mm[0])
    idx = np.zeros((len(points), 4), dtype=np.intp)
    w = np.zeros((len(points), 4))
    for p, pt in enumerate(points):
        fx = (pt.x_mm - xs_mm[0]) / dx
        fy = (pt.y_mm - xs_mm[0]) / dx
        i0 = int(np.clip(math.floor(fx), 0, n - 2))
        j0 = int(np.clip(math.floor(fy), 0, n - 2))
        ax = float(np.clip(fx - i0, 0.0, 1.0))
        ay = float(np.clip(fy - j0, 0.0, 1.0))
        idx[p] = [j0 * n + i0, j0 * n + i0 + 1, (j0 + 1) * n + i0, (j0 + 1) * n + i0 + 1]
        w[p] = [(1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay]
    return idx, w


def simulate(setup: Setup, duration_s: float, *, dx_mm: float = 1.5,
             dt_s: float | None = None) -> PhysicsResult:
    """Integrate the tissue temperature field for ``duration_s`` seconds.

    Explicit finite volumes: fluxes through cell faces with the harmonic mean conductivity
    (so a gas layer really insulates), Pennes perfusion scaled by the unfrozen fraction (no
    blood flows in frozen tissue), probes and saline as fixed-temperature cells whose heat
    exchange is booked in the ledger. Zero-flux outer boundary: the domain is wide enough that
    perfusion holds its edge at body temperature.
    """
    grid = _Grid(setup, dx_mm)
    dt = grid.stable_dt() if dt_s is None else dt_s
    steps = max(1, math.ceil(duration_s / dt))
    dt = duration_s / steps
    area = grid.dx ** 2
    coef = dt / grid.dx ** 2
    h = grid.enthalpy(np.full(grid.ku.shape, T_BODY_C))
    ledger = EnergyLedger(initial=float(h.sum() * area))

    probe_masks = []
    for probe in setup.probes:
        mask = Disc(probe.x_mm, probe.y_mm, max(probe.r_mm, 0.5 * dx_mm * 1.01)).mask(
            grid.X, grid.Y)
        if not mask.any():  # thinner than a cell: the nearest cell is the probe
            dist = (grid.X - probe.x_mm) ** 2 + (grid.Y - probe.y_mm) ** 2
            mask = dist == dist.min()
        probe_masks.append(mask)
    tips = [T_BODY_C for _ in setup.probes]
    bone = np.zeros(grid.ku.shape, dtype=bool)
    for region in setup.bone:
        bone |= region.mask(grid.X, grid.Y)
    injections = [(inj, inj.region.mask(grid.X, grid.Y) & ~bone) for inj in setup.injections]
    co2_done = [False] * len(injections)
    idx, weights = _bilinear(grid.xs_mm, setup.sensors)

    n = grid.n
    temps = np.empty((steps + 1, len(setup.sensors)))
    k = np.empty((n, n))
    kx = np.empty((n, n - 1))
    ky = np.empty((n - 1, n))
    div = np.empty((n, n))
    temp = grid.temperature(h)
    temps[0] = (temp.ravel()[idx] * weights).sum(axis=1)
    span = T_LIQUIDUS_C - T_SOLIDUS_C
    for step in range(1, steps + 1):
        t0 = (step - 1) * dt
        # Manoeuvres that start now.
        for m, (inj, mask) in enumerate(injections):
            if inj.kind == "co2" and not co2_done[m] and t0 >= inj.start_s:
                before = h[mask].sum()
                grid.assign(mask, CO2_POCKET)
                h[mask] = grid.enthalpy(temp, mask)
                ledger.material_change += float((h[mask].sum() - before) * area)
                co2_done[m] = True
        # Conduction, face by face.
        frac = np.clip((temp - T_SOLIDUS_C) / span, 0.0, 1.0)
        np.multiply(grid.ku - grid.kf, frac, out=k)
        k += grid.kf
        np.multiply(k[:, 1:], k[:, :-1], out=kx)
        kx *= 2.0
        kx /= k[:, 1:] + k[:, :-1]
        kx *= temp[:, 1:] - temp[:, :-1]
        np.multiply(k[1:, :], k[:-1, :], out=ky)
        ky *= 2.0
        ky /= k[1:, :] + k[:-1, :]
        ky *= temp[1:, :] - temp[:-1, :]
        div.fill(0.0)
        div[:, :-1] += kx
        div[:, 1:] -= kx
        div[:-1, :] += ky
        div[1:, :] -= ky
        perfusion = grid.perf * frac * (T_BODY_C - temp) * dt
        ledger.perfusion += float(perfusion.sum() * area)
        h += div * coef
        h += perfusion
        # Fixed-temperature cells: saline pools and driven probes.
        for inj, mask in injections:
            if inj.kind == "saline" and inj.start_s <= t0 and (
                    inj.end_s is None or t0 < inj.end_s):
                fixed = grid.enthalpy(np.array(inj.temp_c), mask)
                ledger.saline += float((fixed - h[mask]).sum() * area)
                h[mask] = fixed
        phase = setup.phase_at(t0)
        for p, (probe, mask) in enumerate(zip(setup.probes, probe_masks, strict=True)):
            target = {"freeze": probe.freeze_c, "thaw_active": probe.active_thaw_c}.get(phase)
            if target is None:
                tips[p] = float(temp[mask].mean())
                continue
            tips[p] = target + (tips[p] - target) * math.exp(-dt / probe.tau_s)
            fixed = grid.enthalpy(np.array(tips[p]), mask)
            ledger.probes += float((fixed - h[mask]).sum() * area)
            h[mask] = fixed
        temp = grid.temperature(h)
        temps[step] = (temp.ravel()[idx] * weights).sum(axis=1)
    ledger.final = float(h.sum() * area)
    times = (np.arange(steps + 1) * dt).astype(np.float64)
    return PhysicsResult(t=times, temps=temps, dt_s=dt, dx_mm=dx_mm, ledger=ledger,
                         field_c=temp, xs_mm=grid.xs_mm)
