"""SOAP: the SEV OVV IntegrationService client and hub stand-in (sev_*), and the Trembita service."""
