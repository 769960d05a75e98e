"""Test peers written from the vendors' manuals, sharing no code with drivers/ or simulators/.

CryoGuard's own emulators were written by the same hands as its drivers, so they agreed with
them even where both were wrong. These peers are written from the manuals' text (sections
cited in each module and in docs/devices.md) so a driver test against them can fail.
"""
