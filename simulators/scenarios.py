"""Named, seeded procedures with the alarms a correct monitor raises on them.

Each :class:`Scenario` is an anatomy (probes, bone, nerves), a console phase schedule, needle
positions, optional manoeuvres and faults, and its :class:`Expectations`: alarm ids
``<channel>.<condition>`` (conditions of :class:`monitor.engine.spec.Condition`, default nerve
thresholds of :mod:`monitor.config.defaults`) that must be raised and that must not be. The
tests check those expectations against the raw traces; end-to-end tests check the engine
against them.
Device-level alarms use ``<device>.device_lost`` with the channels' device id (``sim``).
Geometry: millimetres in the plane through the probe tips; the probe of most scenarios sits at
the origin inside a vertebral body of radius 12 mm centred 6 mm behind it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from monitor.model import Role, Status
from simulators.physics import (
    Annulus,
    Disc,
    Injection,
    PhaseSpan,
    PhysicsResult,
    Point,
    Probe,
    Setup,
    simulate,
)
from simulators.sensors import NEEDLE_TAU_S, PROBE_TAU_S, acquire, first_order_lag
from simulators.trace import Channel, Trace, TraceEvent

COLD = ("below_warning", "below_critical", "freezing", "predicted_below_critical",
        "falling_fast")
HOT = ("above_warning", "above_critical")
PHYSIOLOGICAL = COLD + HOT


@dataclass(frozen=True, slots=True)
class Expectations:
    """The oracle: alarm ids that must be raised and ids that must never be raised."""

    raised: frozenset[str] = frozenset()
    not_raised: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Sensor:
    """A channel and where its thermocouple tip sits."""

    channel: Channel
    at: Point
    tau_s: float = NEEDLE_TAU_S


@dataclass(frozen=True, slots=True)
class StatusFault:
    """``channel`` reports ``status`` (not a value) from ``start_s`` until ``end_s``."""

    channel: str
    status: Status
    start_s: float
    end_s: float | None = None


@dataclass(frozen=True, slots=True)
class Unplug:
    """The device vanishes (USB pulled) from ``start_s`` and comes back at ``end_s``."""

    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Spikes:
    """Mains interference: single-sample spikes of ``min_c``..``max_c`` (either sign)."""

    channels: tuple[str, ...]
    mean_interval_s: float
    min_c: float
    max_c: float


Fault = StatusFault | Unplug | Spikes


@dataclass(frozen=True)
class Scenario:
    """A documented procedure; :meth:`generate` turns it into sensor traces."""

    name: str
    summary: str
    description: str
    anatomy: Setup
    sensors: tuple[Sensor, ...]
    duration_s: float
    expected: Expectations
    faults: tuple[Fault, ...] = ()
    noise_sd_c: float = 0.07
    # What the operator types during the procedure: (session seconds, a stdin command line such
    # as "mark co2"), in time order. ``cryoguard demo`` applies them, so the demo shows the
    # intervention on screen, in the event stream and in the session.
    operator_actions: tuple[tuple[float, str], ...] = ()

    @property
    def channels(self) -> tuple[Channel, ...]:
        return tuple(s.channel for s in self.sensors)

    @property
    def phases(self) -> tuple[PhaseSpan, ...]:
        return self.anatomy.phases

    def physics(self) -> PhysicsResult:
        """True tissue temperatures at the sensor tips (cached: the physics has no noise)."""
        setup = replace(self.anatomy, sensors=tuple(s.at for s in self.sensors))
        return _physics(setup, self.duration_s)

    def generate(self, seed: int = 0, rate_hz: float = 10.0) -> Trace:
        """Sensor traces at ``rate_hz``: lag, noise (seeded), quantisation, then faults."""
        if rate_hz <= 0:
            raise ValueError(f"rate_hz must be positive, got {rate_hz}")
        phys = self.physics()
        taus = np.array([s.tau_s for s in self.sensors])
        lagged = first_order_lag(phys.t, phys.temps, taus)
        t = np.arange(0.0, self.duration_s + 1e-9, 1.0 / rate_hz)
        rng = np.random.default_rng(seed)
        values = acquire(phys.t, lagged, t, rng, noise_sd_c=self.noise_sd_c)
        status = np.zeros(values.shape, dtype=np.int8)
        ids = [s.channel.id for s in self.sensors]
        events: list[TraceEvent] = [
            TraceEvent(kind=inj.kind, start_s=inj.start_s,
                       end_s=self.duration_s if inj.end_s is None else inj.end_s,
                       detail=_injection_detail(inj))
            for inj in self.anatomy.injections]
        for fault in self.faults:
            if isinstance(fault, StatusFault):
                end = self.duration_s + 1.0 if fault.end_s is None else fault.end_s
                rows = (t >= fault.start_s) & (t < end)
                status[rows, ids.index(fault.channel)] = int(fault.status)
            elif isinstance(fault, Unplug):
                events.append(TraceEvent("unplug", fault.start_s, fault.end_s,
                                         detail="device unplugged"))
            else:
                events.extend(_add_spikes(fault, t, values, ids, rng))
        values[status != int(Status.OK)] = np.nan
        events.sort(key=lambda e: (e.start_s, e.kind))
        return Trace(scenario=self.name, channels=self.channels, t=t, values=values,
                     status=status, events=tuple(events), phases=self.phases, rate_hz=rate_hz)


@functools.lru_cache(maxsize=32)
def _physics(setup: Setup, duration_s: float) -> PhysicsResult:
    return simulate(setup, duration_s)


def injection_marks(injections: Iterable[Injection]) -> tuple[tuple[float, str], ...]:
    """The operator's mark for each injection, at the moment the physics injects it."""
    return tuple(sorted((inj.start_s, f"mark {inj.kind}") for inj in injections))


def _injection_detail(inj: Injection) -> str:
    if inj.kind == "saline":
        return f"warm saline at {inj.temp_c:g} °C"
    return "carbon dioxide insulation"


def _add_spikes(fault: Spikes, t: np.ndarray, values: np.ndarray, ids: list[str],
                rng: np.random.Generator) -> list[TraceEvent]:
    """Single-sample spikes at Poisson times; at least 5 s apart so each stands alone."""
    events: list[TraceEvent] = []
    when = float(rng.exponential(fault.mean_interval_s)) + 5.0
    while when < float(t[-1]):
        i = int(np.searchsorted(t, when))
        channel = fault.channels[int(rng.integers(len(fault.channels)))]
        size = float(rng.uniform(fault.min_c, fault.max_c)) * float(rng.choice([-1.0, 1.0]))
        values[i, ids.index(channel)] = round(values[i, ids.index(channel)] + size, 1)
        events.append(TraceEvent("spike", float(t[i]), float(t[i]), channel=channel,
                                 detail=f"{size:+.1f} °C"))
        when += 5.0 + float(rng.exponential(fault.mean_interval_s))
    return events


# Building blocks ----------------------------------------------------------------------------

DEVICE = "sim"
VERTEBRA = Disc(-6.0, 0.0, 12.0)


def _ch(cid: str, label: str, role: Role, index: int) -> Channel:
    return Channel(id=cid, label=label, role=role, index=index, device=DEVICE)


def _probe_sensor(index: int, at: Point, n: int = 1) -> Sensor:
    return Sensor(_ch(f"P{n}", f"cryoprobe {n} tip", Role.PROBE, index), at, PROBE_TAU_S)


def _nerve_sensor(cid: str, label: str, index: int, at: Point) -> Sensor:
    return Sensor(_ch(cid, label, Role.NERVE, index), at)


def _schedule(*spans: tuple[str, float]) -> tuple[PhaseSpan, ...]:
    """Phases from (name, minutes) pairs, starting with a 1-minute idle baseline."""
    out = [PhaseSpan("idle", 0.0, 60.0)]
    start = 60.0
    for name, minutes in spans:
        end = start + minutes * 60.0
        out.append(PhaseSpan(name, start, end))  # type: ignore[arg-type]
        start = end
    out.append(PhaseSpan("done", start, float("inf")))
    return tuple(out)


DOUBLE_FREEZE = _schedule(("freeze", 10), ("thaw_passive", 8), ("freeze", 10),
                          ("thaw_active", 2))  # 10-8-10 min, then a helium thaw
#                                     to remove the probes (docs/clinical-defaults.md)
SINGLE_FREEZE = _schedule(("freeze", 10), ("thaw_active", 2))


def _ids(channels: Iterable[str], conditions: Iterable[str]) -> frozenset[str]:
    conds = tuple(conditions)
    return frozenset(f"{c}.{cond}" for c in channels for cond in conds)


def _nerve_anatomy(*nerve_points: Point, phases: tuple[PhaseSpan, ...],
                   injections: tuple[Injection, ...] = ()) -> Setup:
    return Setup(probes=(Probe(0.0, 0.0),), phases=phases, sensors=(), bone=(VERTEBRA,),
                 nerves=tuple(Disc(p.x_mm, p.y_mm, 1.5) for p in nerve_points),
                 injections=injections)


def _end(phases: tuple[PhaseSpan, ...], tail_s: float) -> float:
    return phases[-1].start_s + tail_s


ROUTINE_FORAMEN = Point(22.0, 0.0)
ROUTINE_EPIDURAL = Point(0.0, 26.0)


def _routine_geometry(phases: tuple[PhaseSpan, ...]) -> tuple[Setup, tuple[Sensor, ...]]:
    """One probe in the body, the foraminal needle 22 mm away, an epidural needle 26 mm away."""
    anatomy = _nerve_anatomy(ROUTINE_FORAMEN, ROUTINE_EPIDURAL, phases=phases)
    sensors = (_probe_sensor(0, Point(0.0, 0.0)),
               _nerve_sensor("N1", "L4 right neuroforamen", 1, ROUTINE_FORAMEN),
               _nerve_sensor("N2", "L4 epidural", 2, ROUTINE_EPIDURAL))
    return anatomy, sensors


# The scenarios ------------------------------------------------------------------------------

def _routine() -> Scenario:
    anatomy, sensors = _routine_geometry(DOUBLE_FREEZE)
    return Scenario(
        name="routine",
        summary="two 10-min freezes with an 8-min passive thaw; nerves stay above 20 °C",
        description=(
            "The textbook case: one probe in the vertebral body, the foraminal needle 22 mm away "
            "and an epidural needle 26 mm away. The ice ball grows through both freezes but the "
            "nerves stay warm: no physiological alarm."),
        anatomy=anatomy,
        sensors=sensors,
        duration_s=_end(DOUBLE_FREEZE, 240.0),
        expected=Expectations(not_raised=_ids(("N1", "N2"), PHYSIOLOGICAL)),
    )


def _approach() -> Scenario:
    return Scenario(
        name="approach",
        summary="the foraminal nerve cools to about 13 °C: warnings, no critical alarm",
        description=(
            "The foraminal needle sits 14.6 mm from the probe. The second freeze takes it to "
            "about 13 °C: below the 15 °C warning, above the 10 °C protection limit."),
        anatomy=_nerve_anatomy(Point(14.6, 0.0), phases=DOUBLE_FREEZE),
        sensors=(_probe_sensor(0, Point(0.0, 0.0)),
                 _nerve_sensor("N1", "L4 right neuroforamen", 1, Point(14.6, 0.0))),
        duration_s=_end(DOUBLE_FREEZE, 240.0),
        expected=Expectations(
            raised=_ids(("N1",), ("below_warning",)),
            not_raised=_ids(("N1",), ("below_critical", "freezing", "predicted_below_critical",
                                      "falling_fast", *HOT))),
    )


def _breach() -> Scenario:
    return Scenario(
        name="breach",
        summary="unprotected nerve 7.5 mm from the probe falls through 10 °C and 0 °C",
        description=(
            "No protection and a needle only 7.5 mm from the probe: the nerve reading falls "
            "monotonically through the warning, the 10 °C limit and 0 °C during one 10-minute "
            "freeze, like the canine epidural data (lowest temperature at the end of the freeze)."),
        anatomy=_nerve_anatomy(Point(7.5, 0.0), phases=SINGLE_FREEZE),
        sensors=(_probe_sensor(0, Point(0.0, 0.0)),
                 _nerve_sensor("N1", "L4 right neuroforamen", 1, Point(7.5, 0.0))),
        duration_s=_end(SINGLE_FREEZE, 300.0),
        expected=Expectations(
            raised=_ids(("N1",), ("below_warning", "below_critical", "freezing",
                                  "predicted_below_critical", "falling_fast")),
            not_raised=_ids(("N1",), HOT)),
    )


CO2_NERVE = Point(11.0, 0.0)
CO2_AT_S = 476.0  # the lagged N1 reading crosses 15 °C here without protection


def _co2_rescue() -> Scenario:
    anatomy = _nerve_anatomy(CO2_NERVE, phases=SINGLE_FREEZE, injections=(
        Injection("co2", Annulus(CO2_NERVE.x_mm, CO2_NERVE.y_mm, 1.6, 5.0), CO2_AT_S),))
    return Scenario(
        name="co2-rescue",
        summary="a fall toward 10 °C stopped by carbon dioxide injected at about 15 °C",
        description=(
            "The foraminal needle is 11 mm from the probe; unprotected it would reach about 7 °C. "
            "When it reads about 15 °C the operator injects carbon dioxide around the nerve "
            "(Tomasian 2016, Fig. 1 and 3): the gas layer insulates it, the reading bottoms out "
            "above 10 °C and recovers."),
        anatomy=anatomy,
        sensors=(_probe_sensor(0, Point(0.0, 0.0)),
                 _nerve_sensor("N1", "L4 right neuroforamen", 1, CO2_NERVE)),
        duration_s=_end(SINGLE_FREEZE, 300.0),
        expected=Expectations(
            raised=_ids(("N1",), ("below_warning",)),
            not_raised=_ids(("N1",), ("below_critical", "freezing", "predicted_below_critical",
                                      *HOT))),
        operator_actions=injection_marks(anatomy.injections),
    )


SALINE_NERVE = Point(14.0, 0.0)


def _warm_saline() -> Scenario:
    anatomy = _nerve_anatomy(SALINE_NERVE, phases=SINGLE_FREEZE, injections=(
        Injection("saline", Annulus(SALINE_NERVE.x_mm, SALINE_NERVE.y_mm, 1.6, 4.0),
                  300.0, 330.0, temp_c=47.0),))
    return Scenario(
        name="warm-saline",
        summary="warm saline around the nerve overshoots it to about 46 °C",
        description=(
            "At minute 5 of the freeze the operator protects the nerve with saline that is too "
            "warm (47 °C, 30 s). The nerve reading overshoots to about 46 °C after the "
            "injection stops (sensor lag), through the 42 °C warning and the 45 °C limit, "
            "then falls back faster than 6 °C/min (a falling-fast advisory) and cools without "
            "reaching the cold warnings."),
        anatomy=anatomy,
        sensors=(_probe_sensor(0, Point(0.0, 0.0)),
                 _nerve_sensor("N1", "L4 right neuroforamen", 1, SALINE_NERVE)),
        duration_s=_end(SINGLE_FREEZE, 120.0),
        expected=Expectations(
            raised=_ids(("N1",), (*HOT, "falling_fast")),
            not_raised=_ids(("N1",), ("below_warning", "below_critical", "freezing",
                                      "predicted_below_critical"))),
        operator_actions=injection_marks(anatomy.injections),
    )


def _open_tc() -> Scenario:
    anatomy, sensors = _routine_geometry(SINGLE_FREEZE)
    return Scenario(
        name="open-tc",
        summary="the foraminal thermocouple breaks at minute 5 of the freeze: OPEN status",
        description=(
            "Routine geometry; at t = 360 s the N1 thermocouple wire breaks and the device "
            "reports it open for the rest of the procedure. The monitor must raise a sensor "
            "alarm (it has lost its only view of that nerve), never a temperature."),
        anatomy=anatomy,
        sensors=sensors,
        duration_s=_end(SINGLE_FREEZE, 120.0),
        expected=Expectations(
            raised=frozenset({"N1.sensor_open"}),
            not_raised=_ids(("N1", "N2"), PHYSIOLOGICAL) | frozenset({"N2.sensor_open"})),
        faults=(StatusFault("N1", Status.OPEN, 360.0),),
    )


def _unplug() -> Scenario:
    anatomy, sensors = _routine_geometry(SINGLE_FREEZE)
    return Scenario(
        name="unplug",
        summary="the device disappears for 5 s mid-freeze and comes back",
        description=(
            "Routine geometry; at t = 300 s the USB cable is pulled and put back 5 s later. "
            "The trace keeps its samples but marks the window (an unplug event); readings() "
            "leaves them out. The monitor must report the device lost and recover."),
        anatomy=anatomy,
        sensors=sensors,
        duration_s=_end(SINGLE_FREEZE, 120.0),
        expected=Expectations(raised=frozenset({f"{DEVICE}.device_lost"}),
                              not_raised=_ids(("N1", "N2"), PHYSIOLOGICAL)),
        faults=(Unplug(300.0, 305.0),),
    )


def _noisy() -> Scenario:
    anatomy, sensors = _routine_geometry(SINGLE_FREEZE)
    return Scenario(
        name="noisy",
        summary="mains interference: single-sample spikes of 3-4 °C on the nerve channels",
        description=(
            "Routine geometry with an electrosurgical unit or a badly earthed pump nearby: every "
            "20 s or so one sample of a nerve channel jumps by 3.2-4.2 °C and the next is back. "
            "No needle can move that fast; the true temperatures never come near a threshold, "
            "so a spike must not raise a temperature alarm."),
        anatomy=anatomy,
        sensors=sensors,
        duration_s=_end(SINGLE_FREEZE, 120.0),
        expected=Expectations(
            raised=frozenset({"N1.implausible_jump", "N2.implausible_jump"}),
            not_raised=_ids(("N1", "N2"), ("below_warning", "below_critical", "freezing", *HOT))),
        faults=(Spikes(("N1", "N2"), 15.0, 3.2, 4.2),),
    )


def _multi_probe() -> Scenario:
    nerves = {"N1": Point(22.0, 0.0), "N2": Point(-30.0, 0.0), "N3": Point(0.0, 27.0),
              "N4": Point(0.0, -30.0)}
    labels = {"N1": "L4 right neuroforamen", "N2": "L4 left neuroforamen",
              "N3": "L4 epidural, posterior", "N4": "prevertebral, anterior"}
    skin = Point(0.0, 40.0)
    anatomy = Setup(probes=(Probe(-6.0, 0.0), Probe(6.0, 0.0)), phases=DOUBLE_FREEZE,
                    sensors=(), bone=(Disc(0.0, 0.0, 13.0),),
                    nerves=tuple(Disc(p.x_mm, p.y_mm, 1.5) for p in nerves.values()))
    sensors = (_probe_sensor(0, Point(-6.0, 0.0), 1), _probe_sensor(1, Point(6.0, 0.0), 2),
               *(_nerve_sensor(cid, labels[cid], 2 + i, p)
                 for i, (cid, p) in enumerate(nerves.items())),
               Sensor(_ch("S1", "skin at the probe entry", Role.SKIN, 6), skin))
    return Scenario(
        name="multi-probe",
        summary="two probes, four nerve needles and a skin sensor; only N1 reaches a warning",
        description=(
            "Two probes 12 mm apart in a larger tumour, double freeze. The right foraminal "
            "needle (22 mm from the centre) cools to about 13 °C; the other nerves and the skin "
            "stay above 20 °C. Checks that alarms stay on their own channel."),
        anatomy=anatomy,
        sensors=sensors,
        duration_s=_end(DOUBLE_FREEZE, 240.0),
        expected=Expectations(
            raised=frozenset({"N1.below_warning"}),
            not_raised=_ids(("N1",), ("below_critical", "freezing"))
            | _ids(("N2", "N3", "N4", "S1"), PHYSIOLOGICAL)),
    )


DEMO_PHASES = (PhaseSpan("idle", 0.0, 20.0), PhaseSpan("freeze", 20.0, 260.0),
               PhaseSpan("thaw_active", 260.0, 330.0), PhaseSpan("done", 330.0, float("inf")))


def _demo() -> Scenario:
    return Scenario(
        name="demo",
        summary="six minutes: a close needle crosses 15 °C and 10 °C within about 3 minutes",
        description=(
            "For demonstrations: a 4-minute freeze with the foraminal needle 7 mm from the "
            "probe. The reading falls fast, crosses the 15 °C warning near 2.7 minutes and the "
            "10 °C limit near 3.1 minutes; active thaw at 4.3 minutes brings it back. An "
            "epidural needle farther away stays quiet."),
        anatomy=_nerve_anatomy(Point(7.0, 0.0), Point(0.0, 24.0), phases=DEMO_PHASES),
        sensors=(_probe_sensor(0, Point(0.0, 0.0)),
                 _nerve_sensor("N1", "L4 right neuroforamen", 1, Point(7.0, 0.0)),
                 _nerve_sensor("N2", "L4 epidural", 2, Point(0.0, 24.0))),
        duration_s=360.0,
        expected=Expectations(
            raised=_ids(("N1",), ("below_warning", "below_critical", "predicted_below_critical",
                                  "falling_fast")),
            not_raised=_ids(("N1",), ("freezing", *HOT)) | _ids(("N2",), PHYSIOLOGICAL)),
    )


SCENARIOS: Mapping[str, Scenario] = MappingProxyType({
    s.name: s for s in (_routine(), _approach(), _breach(), _co2_rescue(), _warm_saline(),
                        _open_tc(), _unplug(), _noisy(), _multi_probe(), _demo())})


def get(name: str) -> Scenario:
    """The scenario called ``name``; a KeyError lists the known names."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
