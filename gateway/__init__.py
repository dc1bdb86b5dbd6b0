"""Signature and exchange gateway of a Ukrainian city council (SEV OVV, Trembita)."""

__version__ = "0.1.0"
