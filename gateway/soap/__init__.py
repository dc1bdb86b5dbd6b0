"""SOAP: the SEV OVV IntegrationService client (`sev_client`) and the hub stand-in (`sev_hub`)."""
