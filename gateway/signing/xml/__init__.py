"""XML signatures: hardened parsing, canonicalization, XMLDSig core and XAdES properties."""
