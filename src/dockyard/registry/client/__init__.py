"""A client for OCI distribution-spec registries (and Docker Hub's v2 API):
HTTP with keep-alive, token and basic auth from WWW-Authenticate challenges,
manifests and blobs in both directions. Synchronous and thread-safe, so
layers transfer in parallel threads."""

from .auth import AuthConfig, decode_registry_auth, encode_registry_auth
from .client import BlobUpload, Registry, RegistryError, endpoint_host

__all__ = ["AuthConfig", "BlobUpload", "Registry", "RegistryError", "decode_registry_auth",
           "encode_registry_auth", "endpoint_host"]
