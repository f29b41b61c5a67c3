"""dockyard-runtime: an OCI runtime with runc's command line.

A separate process per invocation. ``create`` forks the container's init
into a new pid namespace (through an intermediate process only when a user
namespace has to come first); init prepares the rootfs and the process, then
blocks on the exec fifo until ``start`` opens it. See docs/architecture.md
("The OCI runtime") and channel.py for the protocol between the processes.
"""
