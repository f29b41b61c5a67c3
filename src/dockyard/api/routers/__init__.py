"""One module per resource; each exposes register(router, daemon)."""
