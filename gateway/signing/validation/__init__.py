"""Signature validation: one engine, one report (INTERFACE.md), for CMS, PDF, XML and ASiC."""
