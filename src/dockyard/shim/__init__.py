"""dockyard-shim: one per container. Holds the container's stdio and logs,
reaps it as a subreaper, records its exit status durably, and serves the
control socket (shimapi.protocol) so the daemon can come and go."""
