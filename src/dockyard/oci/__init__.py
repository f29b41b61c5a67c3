"""Pure data of the OCI and Docker specs: digests, references, media types,
runtime-spec defaults. Standard library only; no I/O beyond bytes."""
