"""Container networking on the kernel's own objects: network namespaces,
veth pairs, Linux bridges and macvlan links (rtnetlink through pyroute2),
iptables for NAT, isolation and published ports, a userland proxy for
127.0.0.1, and an embedded DNS server for user-defined networks.

Below the daemon (which maps the Engine API and containers onto it), above
nothing of ours but ``_sys``, ``fsutil`` and ``errdefs``. Modules:

* naming      per-daemon names of links and chains (no collisions between engines)
* netns       namespace files, sockets made inside a namespace
* netlink     links, addresses, routes
* ipam        address pools and allocation
* iptables    the daemon's chains, rendered whole and loaded atomically
* portmap     published ports: requests, host ports bound by the daemon
* proxy       dockyard-proxy, the per-container userland proxy (splice)
* dns         the embedded DNS server at 127.0.0.11
* hostfiles   /etc/hosts, /etc/resolv.conf contents
* model       persisted records; controller: the whole life cycle
"""
