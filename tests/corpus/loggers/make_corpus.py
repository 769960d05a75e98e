"""Writes the logger corpus beside this file (run from the repository root; kept for review:
the files themselves are committed, and the tests read those)."""
from datetime import datetime, timedelta
from pathlib import Path

out = Path("tests/corpus/loggers")

def nerve(t):  # a nerve-side needle falling through 15 and 10 °C and recovering
    if t < 300:
        return 34.0 - 0.02 * t
    if t < 900:
        return 28.0 - 20.0 * (t - 300) / 600
    return min(30.0, 8.0 + (t - 900) * 0.03)


def fahrenheit(c):
    return c * 9 / 5 + 32

def probe(t):
    return 36.0 if t < 120 else max(-150.0, 36.0 - (t - 120) * 2.5)

# 1. Raspberry Pi logger: ISO timestamps, 1 s, ragged rows (a sensor that did not answer)
lines = ["timestamp,probe_1,probe_2,probe_3"]
t0 = datetime(2024, 5, 1, 9, 12, 3, 250000)
for i in range(0, 1200):
    ts = (t0 + timedelta(seconds=i)).isoformat()
    row = [ts, f"{nerve(i):.2f}", f"{probe(i):.2f}", f"{36.5 - 0.001 * i:.2f}"]
    if i in (400, 401, 777):
        row = row[:3]  # probe_3 missing: ragged
    lines.append(",".join(row))
(out / "raspberry-pi-iso.csv").write_text("\n".join(lines) + "\n")

# 2. Handheld 4-channel logger: 8-line preamble, dd-mm-yyyy, quoted values, empty T4, 5 s
pre = ['"Data Logger Export"', '"Model","TC-4CH"', '"Serial No.","A1234567"',
       '"Start","14-03-2025 08:30:00"', '"Interval","00:00:05"', '"Points","240"',
       '"Thermocouple","K"', '"Unit","°C"']
lines = [*pre, '"No.","Date/Time","T1 (°C)","T2 (°C)","T3 (°C)","T4 (°C)"']
t0 = datetime(2025, 3, 14, 8, 30, 0)
for k in range(240):
    t = k * 5
    ts = (t0 + timedelta(seconds=t)).strftime("%d-%m-%Y %H:%M:%S")
    lines.append(f'"{k + 1}","{ts}","{nerve(t):.1f}","{probe(t):.1f}","{36.0:.1f}",""')
(out / "handheld-4ch-preamble.csv").write_text("\r\n".join(lines) + "\r\n", encoding="cp1252")

# 3. European calibration table: ';', decimal commas, no time column
lines = ["Kalibrierprotokoll;Thermoelement Typ T;;", "Datum;12.02.2025;;", ";;;",
         "Messpunkt;Referenz (°C);Prüfling 1 (°C);Prüfling 2 (°C)"]
for k, ref in enumerate([-40.0, -20.0, 0.0, 20.0, 37.0, 45.0]):
    lines.append(f"{k + 1};{ref:.2f};{ref + 0.12:.2f};{ref - 0.07:.2f}".replace(".", ","))
(out / "calibration-eu.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

# 4. PicoLog-style hh:mm:ss export, 1 s; and one recorded in volts
lines = ["Time,TC-08 Ch1 (°C),TC-08 Ch2 (°C)"]
for i in range(900):
    h, rem = divmod(i + 36000 - 30, 3600)
    m, s = divmod(rem, 60)
    lines.append(f"{h % 24:02d}:{m:02d}:{s:02d},{nerve(i):.3f},{probe(i):.3f}")
(out / "picolog-hhmmss.csv").write_text("\n".join(lines) + "\n")
lines = ["Time,Channel 1 (V),Channel 2 (V)"]
for i in range(120):
    lines.append(f"00:{i // 60:02d}:{i % 60:02d},{0.0012 - i * 1e-6:.6f},{0.0008:.6f}")
(out / "picolog-volts.csv").write_text("\n".join(lines) + "\n")

# 5. Artisan CSV export: tab, Date/Unit preamble line, Time1 mm:ss, °F, an Event column
lines = ["Date:14.03.2025\tUnit:F\tCHARGE:00:00\tTP:\tDRYe:\tFCs:\tFCe:\tSCs:\tSCe:\tDROP:\t"
         "COOL:\tTime:08:30", "Time1\tTime2\tET\tBT\tEvent"]
for i in range(0, 1200, 2):
    mm, ss = divmod(i, 60)
    event = "CHARGE" if i == 0 else ""
    lines.append(f"{mm:02d}:{ss:02d}\t{mm:02d}:{ss:02d}\t{fahrenheit(probe(i)):.1f}\t"
                 f"{fahrenheit(nerve(i)):.1f}\t{event}")
(out / "artisan-fahrenheit.csv").write_text("\n".join(lines) + "\n")

# 6. PicoScope-style: a units row under the header, time in ms
lines = ["Time,Channel A,Channel B", "(ms),(°C),(°C)"]
for i in range(0, 600):
    lines.append(f"{i * 500},{nerve(i * 0.5):.3f},{probe(i * 0.5):.3f}")
(out / "picoscope-units-row.csv").write_text("\n".join(lines) + "\n")
