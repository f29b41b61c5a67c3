"""The builder: Dockerfiles to images (docker's classic builder API).

Sits between the daemon and the core. `dockerignore` is stdlib-only so the
CLI can share its pattern semantics; nothing else here is for clients."""
