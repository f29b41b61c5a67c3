"""Registry: the OCI distribution-spec client (client/) and server (server/)."""
