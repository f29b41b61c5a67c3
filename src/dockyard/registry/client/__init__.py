"""A client for OCI distribution-spec registries (and Docker Hub's v2 API):
HTTP with keep-alive, token and basic auth from WWW-Authenticate challenges,
manifests and blobs in both directions. Synchronous and thread-safe, so
layers transfer in parallel threads.

Names load on first use (PEP 562): the CLI reads credentials through
``dockerconfig`` without paying for ssl and http.client."""

_FROM = {"AuthConfig": "auth", "decode_registry_auth": "auth", "encode_registry_auth": "auth",
         "BlobUpload": "client", "Registry": "client", "RegistryError": "client", "endpoint_host": "client"}

__all__ = sorted(_FROM)


def __getattr__(name: str) -> object:
    module = _FROM.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    __import__(f"{__name__}.{module}")  # not importlib: it drags warnings into the CLI's path
    import sys
    return getattr(sys.modules[f"{__name__}.{module}"], name)
