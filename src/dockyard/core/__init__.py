"""The containerd layer, run inside dockyardd: content store, overlay
snapshotter, layer application, image store, bundles and the task service
that drives one dockyard-shim per container through its command line and
socket. The core never imports the shim or runtime packages."""
