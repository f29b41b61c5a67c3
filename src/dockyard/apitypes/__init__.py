"""What the Engine API's server and clients share: the API version range
and the stream framing. Data only; imported by api, client, cli and daemon."""

API_VERSION = "1.45"
MIN_API_VERSION = "1.24"
DEFAULT_API_VERSION = API_VERSION
