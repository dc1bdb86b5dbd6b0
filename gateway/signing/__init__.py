"""Signed containers: signers, formats (CAdES, PAdES, XAdES, ASiC) and validation."""
