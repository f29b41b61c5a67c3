"""Composition roots: the entry points that wire layers together."""
