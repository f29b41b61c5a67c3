"""API parity with a real Docker engine: the same operations on Debian's
dockerd 20.10 (Engine API 1.41) and on dockyardd, through the raw Engine API
pinned at /v1.41, and the answers compared.

1. Shapes: every key path in dockerd's JSON (recursively; list items by the
   union of their keys; keys that are data -- IDs, label names, network names,
   ports -- folded to "*") must be in dockyardd's answer with the same JSON
   type (null, {} and [] are different things to clients). Extra keys in
   dockyardd's answers are fine (the current API has more than 1.41).
2. Errors: the same status code and the same message, IDs normalised.

What dockerd reports only because of its storage driver or runtime, and what
API 1.41 says that the current API changed, is listed in ALLOWED / the error
exceptions below with the reason."""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from _support.daemon import busybox_tar
from _support.dockerd import private_dockerd_or_skip, unavailable_reason
from _support.engine import Engine

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))

API = "/v1.41"


class Api(Engine):
    """Engine calls pinned at API 1.41."""

    def __init__(self, socket_path: str, pool: str) -> None:
        super().__init__(socket_path)
        # A /24 from this engine's own claimed address pool: no other engine or host route uses it.
        self.spare_subnet = str(list(ipaddress.ip_network(pool.split(",")[0].removeprefix("base=")).subnets(new_prefix=24))[-1])

    def call(self, method: str, path: str, **kw: Any) -> tuple[int, bytes, dict[str, str]]:  # type: ignore[override]
        return super().call(method, API + path, **kw)


# -- the scenario, run the same way on both engines ------------------------------------

HEALTHCHECK = {"Test": ["CMD-SHELL", "true"], "Interval": 300_000_000, "Timeout": 1_000_000_000, "Retries": 3}


def populate(api: Api) -> dict[str, Any]:
    """Create the same objects on an engine; return what the shape tests read."""
    t0 = int(time.time()) - 1
    api.ok("POST", "/volumes/create", 201, body={"Name": "pvol", "Labels": {"k": "v"}})
    net = api.ok("POST", "/networks/create", 201, body={"Name": "pnet", "Labels": {"n": "1"}, "CheckDuplicate": True})
    run = api.create("prun", Cmd=["sleep", "300"], Env=["A=1"], Labels={"tier": "web"},
                     ExposedPorts={"80/tcp": {}}, Volumes={"/anon": {}}, Healthcheck=HEALTHCHECK,
                     HostConfig={"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]},
                                 "Binds": ["pvol:/data"], "NetworkMode": "pnet"},
                     NetworkingConfig={"EndpointsConfig": {"pnet": {"Aliases": ["web"]}}})
    api.ok("POST", f"/containers/{run}/start", 204)
    created = api.create("pcreated", Cmd=["echo", "hi"])
    exited = api.run("sh", "-c", "echo x > /new; rm -rf /home; exit 3", name="pexited")
    api.wait(exited)
    # One container's whole life, for the events.
    ev = api.run("true", name="pev")
    api.wait(ev)
    api.ok("DELETE", f"/containers/{ev}", 204)
    api.until(lambda: api.inspect(run)["State"].get("Health", {}).get("Status") == "healthy", timeout=30)
    api.until(lambda: len(api.inspect(run)["State"]["Health"]["Log"]) >= 2, timeout=30)
    plain = api.run("sleep", "300", name="pplain")  # no health probes: its ExecIDs only has ours
    eid = api.ok("POST", f"/containers/{plain}/exec", 201,
                 body={"Cmd": ["sh", "-c", "exit 2"], "AttachStdout": True, "AttachStderr": True})["Id"]
    api.call("POST", f"/exec/{eid}/start", body={"Detach": False, "Tty": False})
    t1 = int(time.time()) + 1
    none = {"label": ["parity-prunes-nothing"]}  # prune answers without removing the scenario's objects
    return {
        "create answer": api.ok("POST", "/containers/create", 201, query={"name": "panswer"},
                                body={"Image": "busybox", "Cmd": ["true"]}),
        "wait answer": api.wait(exited),
        "update answer": api.ok("POST", f"/containers/{created}/update", 200, body={"CpuShares": 512}),
        "exec create answer": api.ok("POST", f"/containers/{plain}/exec", 201, body={"Cmd": ["true"]}),
        "volume create answer": api.ok("POST", "/volumes/create", 201, body={"Name": "pvol2"}),
        "containers prune": api.ok("POST", "/containers/prune", 200, query={"filters": none}),
        "volumes prune": api.ok("POST", "/volumes/prune", 200, query={"filters": none}),
        "networks prune": api.ok("POST", "/networks/prune", 200, query={"filters": none}),
        "images prune": api.ok("POST", "/images/prune", 200, query={"filters": {"dangling": ["true"], **none}}),
        "container inspect with size": api.ok("GET", f"/containers/{exited}/json", 200, query={"size": True}),
        "container running": api.inspect(run),
        "container after exec": api.inspect(plain),
        "container exited": api.inspect(exited),
        "container created": api.inspect(created),
        "containers list": api.ok("GET", "/containers/json", 200, query={"all": True, "size": True}),
        "images list": api.ok("GET", "/images/json", 200),
        "image inspect": api.ok("GET", "/images/busybox/json", 200),
        "image history": api.ok("GET", "/images/busybox/history", 200),
        "volumes list": api.ok("GET", "/volumes", 200),
        "volume inspect": api.ok("GET", "/volumes/pvol", 200),
        "networks list": api.ok("GET", "/networks", 200),
        "network inspect": api.ok("GET", f"/networks/{net['Id']}", 200),
        "info": api.ok("GET", "/info", 200),
        "version": api.ok("GET", "/version", 200),
        "system df": api.ok("GET", "/system/df", 200),
        "top": api.ok("GET", f"/containers/{run}/top", 200),
        "changes": api.ok("GET", f"/containers/{exited}/changes", 200),
        "stats": api.ok("GET", f"/containers/{run}/stats", 200, query={"stream": False}),
        "exec inspect": api.ok("GET", f"/exec/{eid}/json", 200),
        "events": [json.loads(line) for line in api.call(
            "GET", "/events", query={"since": t0, "until": t1, "filters": {"container": ["pev"]}})[1].splitlines()],
        "network create": net,
        "ids": {"run": run, "created": created, "exited": exited, "net": net["Id"]},
    }


@pytest.fixture(scope="module")
def engines(daemon):
    with private_dockerd_or_skip() as dockerd:
        dockerd.import_busybox(busybox_tar())
        ref, ours = Api(dockerd.socket, dockerd.pool), Api(daemon.socket, daemon.pool)
        with ThreadPoolExecutor(2) as pool:
            got = list(pool.map(populate, (ref, ours)))
        try:
            yield (ref, got[0]), (ours, got[1])
        finally:
            for api in (ref, ours):
                clean(api)


def clean(api: Api) -> None:
    """Remove what the scenario (or a bad request an engine accepted) made: dockerd
    keeps networks' bridges when it stops, dockyardd's teardown counts them as leaks."""
    for c in api.ok("GET", "/containers/json", 200, query={"all": True}):
        api.rm(c["Id"])
    for n in api.ok("GET", "/networks", 200):
        if n["Name"] not in ("bridge", "host", "none"):
            api.call("DELETE", f"/networks/{n['Id']}")
    for v in api.ok("GET", "/volumes", 200)["Volumes"] or []:
        api.call("DELETE", f"/volumes/{v['Name']}")


# -- shapes ------------------------------------------------------------------------------

# Maps whose keys are data (names, IDs, ports), not field names: their keys fold to "*".
DATA_MAPS = ("*.Labels", "*.Ports", "*.PortBindings", "*.ExposedPorts", ".Config.Volumes", "*.NetworkSettings.Networks",
             "*.Options", "*.DriverOpts", "*.LogConfig.Config", ".Containers", "*.Actor.Attributes", "*.GraphDriver.Data",
             "*.IndexConfigs", ".Runtimes", "*.Sysctls", "*.Tmpfs", "*.StorageOpt", ".networks", ".Status",
             "*.Details", "[]*.Labels", "[]*.Ports", "[]*.Networks")

# Paths where dockyardd need not match dockerd 20.10, each with the reason.
_KMEM = "API 1.42 removed KernelMemory and omits KernelMemoryTCP when unset (version-history v1.42)"
ALLOWED: dict[str, dict[str, str]] = {
    "container running": {".ExecIDs*": "dockerd lists a running health probe in ExecIDs (a race); dockyard's probes "
                                       "are internal. 'container after exec' checks ExecIDs without probes"},
    # swagger 1.45 ImageSummary: RepoDigests and Labels are required, x-nullable: false.
    "images list": {"[].RepoDigests": "non-nullable in the current API", "[].Labels": "non-nullable in the current API"},
    "system df": {".Images[].RepoDigests": "non-nullable in the current API",
                  ".Images[].Labels": "non-nullable in the current API",
                  ".Volumes[].Labels": "swagger 1.45 Volume.Labels is x-nullable: false"},
    "volumes list": {".Volumes[].Labels": "swagger 1.45 Volume.Labels is x-nullable: false"},
}
for _name in ("container running", "container after exec", "container exited", "container created",
              "container inspect with size"):
    ALLOWED.setdefault(_name, {}).update({".HostConfig.KernelMemory": _KMEM, ".HostConfig.KernelMemoryTCP": _KMEM})


def jtype(v: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "bool", type(None): "null",
            int: "number", float: "number"}[type(v)]


def shape(value: Any, path: str = "", out: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    out = {} if out is None else out
    out.setdefault(path, set()).add(jtype(value))
    if isinstance(value, dict):
        data = any(fnmatch.fnmatchcase(path, p) for p in DATA_MAPS)
        for k, v in value.items():
            shape(v, f"{path}.{'*' if data else k}", out)
    elif isinstance(value, list):
        for item in value:
            shape(item, path + "[]", out)
    return out


def shape_differences(name: str, ref: Any, ours: Any) -> list[str]:
    want, got = shape(ref), shape(ours)
    allowed = ALLOWED.get(name, {})
    problems = []
    for path, types in sorted(want.items()):
        if any(fnmatch.fnmatchcase(path, p) for p in allowed):
            continue
        if path not in got:
            problems.append(f"missing {path or '<root>'} ({'/'.join(sorted(types))})")
        elif got[path] != types:
            problems.append(f"type of {path or '<root>'}: dockerd {'/'.join(sorted(types))}, "
                            f"dockyardd {'/'.join(sorted(got[path]))}")
    return problems


SHAPES = ["container running", "container after exec", "container exited", "container created", "containers list", "images list",
          "image inspect", "image history", "volumes list", "volume inspect", "networks list", "network inspect",
          "info", "version", "system df", "top", "changes", "stats", "exec inspect", "events", "network create",
          "create answer", "wait answer", "update answer", "exec create answer", "volume create answer",
          "containers prune", "volumes prune", "networks prune", "images prune", "container inspect with size"]


@pytest.mark.parametrize("name", SHAPES)
def test_json_shape(engines, name):
    (_, ref), (_, ours) = engines
    problems = shape_differences(name, ref[name], ours[name])
    assert not problems, f"{name}: dockyardd differs from dockerd:\n  " + "\n  ".join(problems)


def test_event_sequence(engines):
    (_, ref), (_, ours) = engines
    seq = [[(e["Type"], e["Action"]) for e in got["events"]] for got in (ref, ours)]
    assert seq[1] == seq[0]


# -- errors ------------------------------------------------------------------------------

def normalise(message: str, api: Api, ids: dict[str, str]) -> str:
    message = re.sub(r"sha256:[0-9a-f]{64}", "<digest>", message)
    message = re.sub(r"\b[0-9a-f]{64}\b", "<id>", message)
    message = re.sub(r"\b[0-9a-f]{12}\b", "<short-id>", message)
    return message.replace(api.spare_subnet, "<subnet>")


def bad_create(**config: Any) -> tuple[str, str, dict[str, Any]]:
    return "POST", "/containers/create", {"body": dict({"Image": "busybox", "Cmd": ["true"]}, **config)}


# (name, method, path with {run}/{created}/{exited}/{net}/{subnet}, call arguments)
ERRORS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("inspect unknown container", "GET", "/containers/nope/json", {}),
    ("remove unknown container", "DELETE", "/containers/nope", {}),
    ("start unknown container", "POST", "/containers/nope/start", {}),
    ("inspect unknown image", "GET", "/images/nope/json", {}),
    ("remove unknown image", "DELETE", "/images/nope", {}),
    ("history unknown image", "GET", "/images/nope/history", {}),
    ("inspect unknown volume", "GET", "/volumes/nope", {}),
    ("remove unknown volume", "DELETE", "/volumes/nope", {}),
    ("inspect unknown network", "GET", "/networks/nope", {}),
    ("remove unknown network", "DELETE", "/networks/nope", {}),
    ("inspect unknown exec", "GET", "/exec/nope/json", {}),
    ("create from unknown image", *bad_create(Image="nope")),
    ("create with a name in use", "POST", "/containers/create", {"query": {"name": "prun"}, "body": {"Image": "busybox"}}),
    ("create with a bad name", "POST", "/containers/create", {"query": {"name": "bad name!"}, "body": {"Image": "busybox"}}),
    ("create on an unknown network", *bad_create(HostConfig={"NetworkMode": "nonet"})),
    ("create with too little memory", *bad_create(HostConfig={"Memory": 1024})),
    ("create with swap below memory", *bad_create(HostConfig={"Memory": 64 << 20, "MemorySwap": 32 << 20})),
    ("create with an unknown restart policy", *bad_create(HostConfig={"RestartPolicy": {"Name": "bogus"}})),
    ("create with a negative retry count", *bad_create(HostConfig={"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}})),
    ("create with restart and auto-remove", *bad_create(HostConfig={"RestartPolicy": {"Name": "always"}, "AutoRemove": True})),
    ("create with a bad host port", *bad_create(HostConfig={"PortBindings": {"80/tcp": [{"HostPort": "notaport"}]}})),
    ("create with a bad container port", *bad_create(HostConfig={"PortBindings": {"abc/tcp": [{"HostPort": "80"}]}})),
    ("create with an unknown mount type", *bad_create(HostConfig={"Mounts": [{"Type": "bogus", "Target": "/x"}]})),
    ("create with a missing bind source", *bad_create(HostConfig={"Mounts": [{"Type": "bind", "Source": "/no/such/dir", "Target": "/x"}]})),
    ("create with a relative mount target", *bad_create(HostConfig={"Mounts": [{"Type": "volume", "Target": "rel"}]})),
    ("create with a bad bind spec", *bad_create(HostConfig={"Binds": ["/a:/b:/c:/d"]})),
    ("create with a relative bind target", *bad_create(HostConfig={"Binds": ["/tmp:rel"]})),
    ("create with an unknown network mode", *bad_create(HostConfig={"NetworkMode": "container:nope"})),
    ("create with a bad body", "POST", "/containers/create", {"raw": b"{not json", "headers": {"Content-Type": "application/json"}}),
    ("list containers with an unknown filter", "GET", "/containers/json", {"query": {"filters": {"bogus": ["x"]}}}),
    ("list containers with bad filters JSON", "GET", "/containers/json", {"query": {"filters": "{nope"}}),
    ("list containers with a bad status filter", "GET", "/containers/json", {"query": {"all": True, "filters": {"status": ["sleepy"]}}}),
    ("list images with an unknown filter", "GET", "/images/json", {"query": {"filters": {"bogus": ["x"]}}}),
    ("list volumes with an unknown filter", "GET", "/volumes", {"query": {"filters": {"bogus": ["x"]}}}),
    ("list networks with an unknown filter", "GET", "/networks", {"query": {"filters": {"bogus": ["x"]}}}),
    ("events with an unknown filter", "GET", "/events", {"query": {"until": 1, "filters": {"bogus": ["x"]}}}),
    ("events with since after until", "GET", "/events", {"query": {"since": 20, "until": 10}}),
    ("remove a running container", "DELETE", "/containers/{run}", {}),
    ("start a started container", "POST", "/containers/{run}/start", {}),
    ("stop a stopped container", "POST", "/containers/{exited}/stop", {}),
    ("kill a stopped container", "POST", "/containers/{exited}/kill", {}),
    ("kill with a bad signal", "POST", "/containers/{run}/kill", {"query": {"signal": "SIGNOPE"}}),
    ("pause a stopped container", "POST", "/containers/{exited}/pause", {}),
    ("unpause a running container", "POST", "/containers/{run}/unpause", {}),
    ("exec in a stopped container", "POST", "/containers/{exited}/exec", {"body": {"Cmd": ["true"]}}),
    ("exec in a created container", "POST", "/containers/{created}/exec", {"body": {"Cmd": ["true"]}}),
    ("exec without a command", "POST", "/containers/{run}/exec", {"body": {"Cmd": []}}),
    ("top of a stopped container", "GET", "/containers/{exited}/top", {}),
    ("rename to a name in use", "POST", "/containers/{created}/rename", {"query": {"name": "prun"}}),
    ("wait with a bad condition", "POST", "/containers/{exited}/wait", {"query": {"condition": "never"}}),
    ("logs without streams", "GET", "/containers/{exited}/logs", {}),
    ("archive of a missing path", "GET", "/containers/{exited}/archive", {"query": {"path": "/no/such"}}),
    ("remove an image in use", "DELETE", "/images/busybox", {}),
    ("remove a volume in use", "DELETE", "/volumes/pvol", {}),
    ("create a volume with a bad name", "POST", "/volumes/create", {"body": {"Name": "bad/name"}}),
    ("create a volume with an unknown driver", "POST", "/volumes/create", {"body": {"Name": "v2", "Driver": "nodriver"}}),
    ("create a duplicate network", "POST", "/networks/create", {"body": {"Name": "pnet", "CheckDuplicate": True}}),
    ("create a network with an unknown driver", "POST", "/networks/create", {"body": {"Name": "n2", "Driver": "nodriver"}}),
    ("create a network with a bad subnet", "POST", "/networks/create", {"body": {"Name": "n3", "IPAM": {"Config": [{"Subnet": "10.1.2.3/99"}]}}}),
    ("create a network with a gateway outside", "POST", "/networks/create",
     {"body": {"Name": "n4", "IPAM": {"Config": [{"Subnet": "{subnet}", "Gateway": "192.0.2.1"}]}}}),
    ("remove a network in use", "DELETE", "/networks/pnet", {}),
    ("remove a predefined network", "DELETE", "/networks/bridge", {}),
    ("connect an unknown container", "POST", "/networks/pnet/connect", {"body": {"Container": "nope"}}),
    # (a created container may be connected to a network that does not exist yet, for swarm's attachable networks)
    ("connect to an unknown network", "POST", "/networks/nope/connect", {"body": {"Container": "prun"}}),
    ("disconnect a container not connected", "POST", "/networks/pnet/disconnect", {"body": {"Container": "pexited"}}),
    ("an unknown route", "GET", "/no/such/route", {}),
    ("create with an unknown log driver", *bad_create(HostConfig={"LogConfig": {"Type": "bogus"}})),
    ("create with a bad healthcheck interval", *bad_create(Healthcheck={"Test": ["CMD", "true"], "Interval": 100})),
    ("create with an unknown capability", *bad_create(HostConfig={"CapAdd": ["CAP_BOGUS"]})),
    ("create with a duplicate mount point", *bad_create(HostConfig={"Binds": ["/tmp:/x", "/tmp:/x"]})),
    ("create with memory below the reservation", *bad_create(HostConfig={"Memory": 8 << 20, "MemoryReservation": 16 << 20})),
    ("create with a bad tmpfs option", *bad_create(HostConfig={"Mounts": [{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": -5}}]})),
    ("resize a stopped container", "POST", "/containers/{exited}/resize", {"query": {"h": 10, "w": 10}}),
    ("logs of an unknown container", "GET", "/containers/nope/logs", {"query": {"stdout": True}}),
    ("put an archive to a missing directory", "PUT", "/containers/{exited}/archive", {"query": {"path": "/no/such"}, "raw": b""}),
    ("tag an unknown image", "POST", "/images/nope/tag", {"query": {"repo": "x", "tag": "y"}}),
    ("tag with a bad repository name", "POST", "/images/busybox/tag", {"query": {"repo": "Bad:Name"}}),
    ("create a volume with an unknown option", "POST", "/volumes/create", {"body": {"Name": "v3", "DriverOpts": {"foo": "bar"}}}),
    ("connect an already connected container", "POST", "/networks/pnet/connect", {"body": {"Container": "prun"}}),
    ("update with a bad restart policy", "POST", "/containers/{created}/update", {"body": {"RestartPolicy": {"Name": "bogus"}}}),
]


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\{(run|created|exited|net|subnet)\}", lambda m: ids[m.group(1)], value)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


def error_answer(api: Api, got: dict[str, Any], method: str, path: str, kw: dict[str, Any]) -> tuple[int, str]:
    ids = dict(got["ids"], subnet=api.spare_subnet)
    status, data, _ = api.call(method, fill(path, ids), **fill(kw, ids))
    try:
        message = json.loads(data)["message"] if data.strip() else ""
    except (ValueError, KeyError, TypeError):
        message = f"<not a JSON message: {data[:200]!r}>"
    return status, normalise(message, api, ids)


# Where the current API (or the project's rule that a client's mistake is a 4xx, never
# a 500) answers otherwise than dockerd 20.10: (status, message or pattern, why).
_LOWER = "moby 23+ words filter errors in lower case (filters.invalidFilter)"
_CLIENT = "dockerd 20.10 answers 500 for a client's mistake; dockyard (as the current API for most) 400"
CURRENT_API: dict[str, tuple[int, str | re.Pattern[str], str]] = {
    "inspect unknown image": (404, "No such image: nope:latest", "moby 24+ (ErrImageDoesNotExist, no 'no such image:' wrap)"),
    "create with an unknown restart policy": (
        400, "invalid restart policy: unknown policy 'bogus'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
        "moby 25 ValidateRestartPolicy"),
    "create with a negative retry count": (400, "invalid restart policy: maximum retry count cannot be negative",
                                           "moby 25 ValidateRestartPolicy"),
    "create with a bad bind spec": (400, "invalid volume specification: '/a:/b:/c:/d'", _CLIENT),
    "create with a relative bind target": (
        400, "invalid volume specification: '/tmp:rel': invalid mount config for type \"bind\": invalid mount path: "
             "'rel' mount path must be absolute", _CLIENT),
    "create with a bad body": (400, re.compile(r"invalid JSON: .+"),
                               "moby 23+ ReadJSON: 400 'invalid JSON: <decoder error>' (the decoder's words differ)"),
    "list containers with an unknown filter": (400, "invalid filter 'bogus'", _LOWER),
    "list containers with bad filters JSON": (400, re.compile(r"invalid filter.*"), _CLIENT),
    "list containers with a bad status filter": (400, "invalid filter 'status=sleepy'", _LOWER),
    "list images with an unknown filter": (400, "invalid filter 'bogus'", _LOWER),
    "list volumes with an unknown filter": (400, "invalid filter 'bogus'", _LOWER),
    "list networks with an unknown filter": (400, "invalid filter 'bogus'", _LOWER),
    "remove a running container": (
        409, 'cannot remove container "/prun": container is running: stop the container before removing or force remove',
        "moby 25 reworded it"),
    "kill a stopped container": (409, "cannot kill container: <id>: container <id> is not running",
                                 "moby 25 lower-cased both parts"),
    "unpause a running container": (409, "Container <id> is not paused", _CLIENT),
    "wait with a bad condition": (400, 'invalid condition: "never"', "API 1.42: 400 for an invalid condition"),
    "create a network with a bad subnet": (
        400, "invalid network config:\ninvalid subnet 10.1.2.3/99: invalid CIDR block notation",
        "moby 25 ValidateIPAM checks the IPAM config before libnetwork sees it"),
    "create a network with a gateway outside": (
        400, "invalid network config:\ninvalid gateway 192.0.2.1: parent subnet <subnet> doesn't contain this address",
        "moby 25 ValidateIPAM"),
    # dockerd creates these and fails the start; dockyard refuses the create, so no half-made
    # container stays (project rule), with a 400: after a 404 from create, docker clients pull the image.
    "create on an unknown network": (400, "network nonet not found", "checked at create, see above"),
    "create with an unknown network mode": (400, "No such container: nope", "checked at create, see above"),
    "update with a bad restart policy": (
        400, "invalid restart policy: unknown policy 'bogus'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
        "moby 25 ValidateRestartPolicy"),
    "tag with a bad repository name": (400, "invalid reference format: repository name (library/Bad) must be lowercase",
                                       "distribution/reference 0.6 names the repository; moby 25 answers 400"),
    "create with a bad tmpfs option": (400, 'invalid mount config for type "tmpfs": invalid tmpfs size: must not be negative',
                                       "dockerd passes size=-5 on to the mount; dockyard refuses nonsense at create"),
    "disconnect a container not connected": (400, "container <id> is not connected to network pnet",
                                             "moby 25 dropped 'the'; " + _CLIENT),
}


@pytest.mark.parametrize("name,method,path,kw", ERRORS, ids=[e[0] for e in ERRORS])
def test_error(engines, name, method, path, kw):
    (ref_api, ref), (api, ours) = engines
    got = error_answer(api, ours, method, path, kw)
    if name in CURRENT_API:
        status, message, _why = CURRENT_API[name]
        ok = got[0] == status and (message.fullmatch(got[1]) if isinstance(message, re.Pattern) else got[1] == message)
        assert ok, f"{name}: the current API says {(status, message)}, dockyardd {got}"
        return
    want = error_answer(ref_api, ref, method, path, kw)
    if want[0] < 300:  # dockerd accepts it: so must dockyardd
        assert got[0] == want[0], f"{name}: dockerd accepted it ({want[0]}), dockyardd {got}"
    else:
        assert got == want, f"{name}: dockerd {want}, dockyardd {got}"


def test_network_create_overlapping(engines):
    answers = []
    for api, _ in engines:
        subnet = api.spare_subnet
        first = api.ok("POST", "/networks/create", 201, body={"Name": "pover1", "IPAM": {"Config": [{"Subnet": subnet}]}})
        try:
            answers.append(error_answer(api, {"ids": {}}, "POST", "/networks/create",
                                        {"body": {"Name": "pover2", "IPAM": {"Config": [{"Subnet": subnet}]}}}))
        finally:
            api.ok("DELETE", f"/networks/{first['Id']}", 204)
    assert answers[0] == (403, "Pool overlaps with other one on this address space")
    # moby 23+ prefixes the IPAM error: "invalid pool request: ..."
    assert answers[1] == (403, "invalid pool request: Pool overlaps with other one on this address space")
