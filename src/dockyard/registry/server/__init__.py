"""dockyard-registry: a private registry for the OCI distribution-spec v1.1.

Modules: ``errors`` (the spec's error codes), ``names`` (name/tag/digest
grammar), ``manifests`` (parsing and the references a manifest makes),
``storage`` (the backend interface and the filesystem backend), ``auth``
(htpasswd basic auth, bearer tokens and their issuer), ``app`` (the HTTP
API on aiohttp), ``gc`` (the garbage collector), ``config``.
Depends on nothing of Dockyard's engine (daemon, core, api)."""
