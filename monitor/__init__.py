"""CryoGuard: watches nerve-adjacent thermocouples during spine cryoablation."""

__version__ = "0.1.0"
