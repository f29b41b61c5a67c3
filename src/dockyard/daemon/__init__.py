"""dockyardd: owns containers, images, volumes, networks, builds and events;
persists its state under the data root and drives the core."""
