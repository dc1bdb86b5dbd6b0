"""SOAP: the SEV OVV IntegrationService client (`sev_client`, envelopes in `sev_wire`), its two wire
dialects and value parsing (`sev_dialect`), the SEV channel of the workers (`sev_channel`) and the
hub stand-in (`sev_hub`, `sev_hub_store`, envelopes in `soapxml`), which production code never
imports."""
