"""ETSI TS 119 612 trusted lists: parsing, signature check against a pinned signer, the store of
the last good lists, and the qualification of signatures (QESig, QESeal, ...) they support."""
