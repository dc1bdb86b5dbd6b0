"""The development PKI (root, qualified-CA-like issuing CA, seal, TSA, OCSP, CRL) and its services."""
