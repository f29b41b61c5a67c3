"""The contract between the core and dockyard-shim: the shim's command line
and the messages on its control socket. Data only, shared by both sides
(like containerd's api/ protobufs)."""
