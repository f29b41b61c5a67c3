"""dockyard-runtime: an OCI runtime with runc's command line.

A separate, single-threaded process per invocation (namespaces cannot be
entered by a multithreaded process). ``create`` forks an intermediate process
that unshares the namespaces and forks the container's init; init prepares the
rootfs, then blocks on the exec fifo until ``start`` opens it.
"""
