"""Registries: ``client`` speaks the OCI distribution protocol to them (pull,
push, auth); ``server`` serves it."""
