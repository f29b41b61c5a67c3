"""Running the stages of a build: ARG scoping, variable expansion, and one
handler per instruction. Each step's cache key is the parent state's
identity, the instruction with its expanded arguments and, for COPY/ADD
and RUN --mount=type=bind, the checksum of the files it reads. History
entries are written as docker's classic builder writes them."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import os
import posixpath
import re
import secrets
import shutil
import time
import urllib.parse
from typing import Any, Awaitable, Callable

from .. import errdefs
from ..core.images import Image, Lease
from ..oci import reference
from . import copy as cp
from . import instructions as ins
from . import parser, run, values
from .cachefrom import CacheSources
from .builder import PROXY_ARGS, Builder, BuildOptions, Output, Scratch, StepError, View, acquire, finish
from .mounts import RunMounts
from .context import BuildContext
from .dockerignore import PatternMatcher
from .fsops import Meta, RootFS
from .shell import ExpansionError, Lexer, expand_heredoc
from .state import State, host_platform

DEFAULT_SHELL = ["/bin/sh", "-c"]


def _go_quote(items: list[str]) -> str:
    """Go's %q of a []string: ["a" "b"]."""
    return "[" + " ".join(json.dumps(i) for i in items) + "]"


class Session:
    """One build: the plan, the stages' results, the build args used."""

    def __init__(self, b: Builder, ctx: BuildContext, opts: BuildOptions, out: Output, plan: ins.Plan,
                 df: parser.Dockerfile, lease: Lease) -> None:
        self.b = b
        self.lease = lease
        self.ctx = ctx
        self.opts = opts
        self.out = out
        self.plan = plan
        self.df = df
        self.lexer = Lexer(plan.escape)
        self.states: dict[int, State] = {}
        self.consumed: set[str] = set()
        self.cleanups: list[Callable[[], None]] = []
        self.step_no = 0
        self.cache_from: CacheSources | None = None
        os_, arch = host_platform()
        self.platform = opts.platform or f"{os_}/{arch}"
        self.meta = self._meta_args()
        self.stages = self._needed_stages()
        self.total = sum(1 + len(plan.stages[i].commands) for i in self.stages)
        self.workdir = b.new_workdir()  # last: nothing above may fail and leave it behind

    # -- global ARGs --------------------------------------------------------------
    def _builtin_args(self) -> dict[str, str]:
        b_os, b_arch = host_platform()
        t_os, _, rest = self.platform.partition("/")
        t_arch, _, t_variant = rest.partition("/")
        return {"BUILDPLATFORM": f"{b_os}/{b_arch}", "BUILDOS": b_os, "BUILDARCH": b_arch, "BUILDVARIANT": "",
                "TARGETPLATFORM": self.platform, "TARGETOS": t_os, "TARGETARCH": t_arch or b_arch,
                "TARGETVARIANT": t_variant}

    def _meta_args(self) -> dict[str, str]:
        """ARGs before the first FROM (with the automatic platform ARGs):
        FROM lines see them, stages only through an `ARG name` of their own."""
        builtin = self._builtin_args()
        env = dict(builtin)
        for inst in self.plan.meta_args:
            for word in inst.args:
                name, eq, default = word.partition("=")
                self.consumed.add(name)
                given = self.opts.build_args.get(name)
                if given is not None:
                    env[name] = given
                elif eq:
                    env[name] = self.expand(default, env, inst.node)
                elif name not in builtin:
                    env.pop(name, None)
        return env

    def expand(self, word: str, env: dict[str, str], node: parser.Node) -> str:
        try:
            return self.lexer.process_word(word, env)
        except ExpansionError as e:
            raise node.error(str(e)) from None

    # -- stages the target needs -----------------------------------------------------
    def _target_index(self) -> int:
        if not self.opts.target:
            return len(self.plan.stages) - 1
        s = self.plan.stage_by_name(self.opts.target)
        if s is None:
            raise errdefs.InvalidArgument(f"failed to reach build target {self.opts.target} in Dockerfile")
        return s.index

    def stage_ref(self, name: str, before: int) -> int | None:
        """The stage a FROM / --from value names, if any."""
        if name.isdigit():
            i = int(name)
            return i if i < before else None
        s = self.plan.stage_by_name(name)
        return s.index if s is not None and s.index < before else None

    def _needed_stages(self) -> list[int]:
        target = self._target_index()
        need = {target}
        todo = [target]
        while todo:
            st = self.plan.stages[todo.pop()]
            refs: list[str] = []
            try:
                refs.append(self.lexer.process_word(st.image, self.meta))
            except ExpansionError:
                pass
            for inst in st.commands:
                if inst.cmd in ("copy", "add") and inst.flag("from"):
                    refs.append(str(inst.flag("from")))
                if inst.cmd == "run":
                    for m in inst.flag("mount", []) or []:  # type: ignore[union-attr]
                        frm = values.parse_csv_options(m).get("from")
                        if frm:
                            refs.append(frm)
            for r in refs:
                try:
                    r = self.lexer.process_word(r, self.meta)
                except ExpansionError:
                    continue
                i = self.stage_ref(r.lower(), st.index)
                if i is not None and i not in need:
                    need.add(i)
                    todo.append(i)
        return sorted(need)

    # -- running --------------------------------------------------------------------
    async def run(self) -> State:
        state: State | None = None
        if self.opts.cache_from and not self.opts.no_cache:
            self.cache_from = await asyncio.to_thread(self.b.cache_sources, self.opts.cache_from)
        for i in self.stages:
            state = await StageRun(self, self.plan.stages[i]).run()
            self.states[i] = state
        assert state is not None
        return state

    async def close(self) -> None:
        for fn in reversed(self.cleanups):
            try:
                await asyncio.to_thread(fn)
            except Exception:  # cleanup goes on whatever one step left
                pass
        self.cleanups.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def warnings(self) -> list[str]:
        unused = sorted(k for k in self.opts.build_args if k not in self.consumed and k not in PROXY_ARGS)
        out = [f"[Warning] {w}\n" for w in self.df.warnings]
        if unused:
            out.append(f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n")
        return out

    async def step_header(self, node: parser.Node) -> None:
        self.step_no += 1
        await self.out.text(f"Step {self.step_no}/{self.total} : {node.original}\n")

    async def image_state(self, ref: str, platform: str, node: parser.Node, pull: bool) -> State:
        """An image as a state: local, or pulled when missing or asked."""
        b = self.b
        img: Image | None = None
        if not pull:
            try:
                img = await asyncio.to_thread(b.images.resolve, ref)
            except errdefs.NotFound:
                img = None
        if img is None:
            img = await b.backend.pull(ref, platform, self.opts.registry_auth, self.out.progress)
        want = platform or (self.opts.platform if self.opts.platform else "")
        if want:
            w_os, _, rest = want.partition("/")
            w_arch = rest.partition("/")[0]
            if (w_os and img.config.get("os") and img.config["os"] != w_os) or \
                    (w_arch and img.config.get("architecture") and img.config["architecture"] != w_arch):
                raise errdefs.InvalidArgument(
                    f"image with reference {ref} was found but does not match the specified platform: "
                    f"wanted {want}, actual: {img.config.get('os')}/{img.config.get('architecture')}")
        state = State.from_image(img)
        b.protect(self.lease, state)
        await asyncio.to_thread(b.images.unpack, img, self.lease)
        return state


class StageRun:
    def __init__(self, s: Session, stage: ins.Stage) -> None:
        self.s = s
        self.b = s.b
        self.stage = stage
        self.state: State
        self.args: dict[str, str | None] = {}
        self.cmd_set = False

    # -- variables -----------------------------------------------------------------
    def vars(self) -> dict[str, str]:
        env = {k: v for k, v in self.args.items() if v is not None}
        env.update(self.state.env())
        return env

    def expand(self, word: str, node: parser.Node) -> str:
        return self.s.expand(word, self.vars(), node)

    @property
    def shell(self) -> list[str]:
        return list(self.state.run.get("Shell") or DEFAULT_SHELL)

    def nop(self, text: str, two_spaces: bool = True) -> str:
        """The created_by of a metadata step, as the classic builder writes it."""
        return " ".join(self.shell) + (" #(nop)  " if two_spaces else " #(nop) ") + text

    def run_config(self) -> dict[str, Any]:
        return copy.deepcopy(self.state.run)

    async def step(self, key_parts: list[Any], description: str | Callable[[], str],
                   make: Callable[[], Awaitable[tuple[State, dict[str, Any] | None]]],
                   run_config: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> None:
        """A cached step: reuse the state the same step made before (or that
        a --cache-from image has at this point), or make it. run_config and
        extra: what the step sets in the config, for a --cache-from hit.
        description: the step's created_by, or what computes it (called in a
        worker thread, only when the step is made or matched)."""
        b = self.b
        key = b.step_key(self.state, key_parts)
        if not self.s.opts.no_cache:
            hit = await asyncio.to_thread(b.cached_state, key, self.s.lease)
            sources = self.s.cache_from
            if sources is not None and hit is not None and not sources.accepts_local(hit):
                hit = None
            if sources is not None and hit is None:
                created_by = description if isinstance(description, str) else \
                    await asyncio.to_thread(description)
                hit = sources.match(self.state, created_by, run_config, extra)
                if hit is not None and not await asyncio.to_thread(b.usable, hit, self.s.lease):
                    hit = None
            if hit is not None:
                await self.s.out.text(" ---> Using cache\n")
                self.state = hit
                await self.s.out.text(f" ---> {hit.short_id}\n")
                return
        new, layer = await make()
        if not isinstance(description, str):
            description = await asyncio.to_thread(description)
        await asyncio.to_thread(b.remember, key, new, description, layer)
        self.state = new
        await self.s.out.text(f" ---> {new.short_id}\n")

    async def metadata(self, keyword: str, payload: Any, created_by: str, run_config: dict[str, Any],
                       extra: dict[str, Any] | None = None) -> None:
        async def make() -> tuple[State, None]:
            return self.state.derive(created_by, run_config, extra=extra), None
        await self.step([keyword, payload, run_config, extra], created_by, make, run_config, extra)

    # -- FROM ------------------------------------------------------------------------
    async def run(self) -> State:
        s = self.s
        node = self.stage.from_.node
        await s.step_header(node)
        name = s.expand(self.stage.image, s.meta, node)
        platform = s.expand(str(self.stage.from_.flag("platform", "")), s.meta, node)
        if not name:
            raise node.error("base name (" + self.stage.image + ") should not be blank")
        ref_stage = s.stage_ref(name.lower(), self.stage.index)  # a name, or an earlier stage's index
        if ref_stage is not None:
            self.state = s.states[ref_stage]
        elif name.lower() == "scratch":
            os_, _, rest = (platform or s.platform).partition("/")
            arch, _, variant = rest.partition("/")
            self.state = State.scratch(os_ or "linux", arch or host_platform()[1], variant)
        else:
            try:
                reference.parse(name)
            except errdefs.InvalidArgument:
                raise node.error(f"invalid reference format: {name!r}") from None
            self.state = await s.image_state(name, platform, node, s.opts.pull)
        await s.out.text(f" ---> {self.state.short_id}\n")
        if s.cache_from is not None:
            s.cache_from.new_stage()
        triggers = list(self.state.run.get("OnBuild") or [])
        if triggers:
            run_config = self.run_config()
            run_config["OnBuild"] = None
            self.state = State.from_record({**self.state.config, "config": run_config}, self.state.layers)
            await s.out.text(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n")
            for text in triggers:
                df = parser.parse(text)
                for tnode in df.nodes:
                    tnode.line = tnode.end_line = node.line
                    await self.dispatch(ins.check_node(tnode))
        for inst in self.stage.commands:
            await s.step_header(inst.node)
            await self.dispatch(inst)
        return self.state

    async def dispatch(self, inst: ins.Instruction) -> None:
        handler = getattr(self, "do_" + inst.cmd)
        try:
            await handler(inst)
        except (parser.ParseError, run.RunFailed, StepError):
            raise
        except ExpansionError as e:
            raise inst.node.error(str(e)) from None
        except errdefs.EngineError as e:
            if inst.cmd in ("copy", "add"):
                raise type(e)(f"{inst.cmd.upper()} failed: {e.message}") from None
            raise

    # -- metadata instructions -----------------------------------------------------------
    async def do_arg(self, inst: ins.Instruction) -> None:
        parts = []
        for word in inst.args:
            name, eq, default = word.partition("=")
            self.s.consumed.add(name)
            given = self.s.opts.build_args.get(name)
            if given is not None:
                value: str | None = given
            elif eq:
                value = self.expand(default, inst.node)
            elif name in self.s.meta:
                value = self.s.meta[name]
            else:
                value = None
            self.args[name] = value
            parts.append(name + ("=" + default if eq else ""))
        text = "ARG " + " ".join(parts)
        await self.metadata("ARG", parts, self.nop(text), self.run_config())

    async def do_env(self, inst: ins.Instruction) -> None:
        env_vars = self.vars()
        rc = self.run_config()
        env = list(rc.get("Env") or [])
        pairs = []
        for k, v in zip(inst.args[0::2], inst.args[1::2]):
            key = self.s.expand(k, env_vars, inst.node)
            val = self.s.expand(v, env_vars, inst.node)
            if not key:
                raise inst.node.error("ENV names can not be blank")
            pairs.append(f"{key}={val}")
            env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={val}"]
        rc["Env"] = env
        await self.metadata("ENV", pairs, self.nop("ENV " + " ".join(pairs)), rc)

    async def do_label(self, inst: ins.Instruction) -> None:
        env_vars = self.vars()
        rc = self.run_config()
        labels = dict(rc.get("Labels") or {})
        pairs = []
        for k, v in zip(inst.args[0::2], inst.args[1::2]):
            key = self.s.expand(k, env_vars, inst.node)
            val = self.s.expand(v, env_vars, inst.node)
            if not key:
                raise inst.node.error("LABEL names can not be blank")
            labels[key] = val
            pairs.append(f"{key}={val}")
        rc["Labels"] = labels
        await self.metadata("LABEL", pairs, self.nop("LABEL " + " ".join(pairs)), rc)

    async def do_maintainer(self, inst: ins.Instruction) -> None:
        author = inst.args[0]
        await self.metadata("MAINTAINER", author, self.nop("MAINTAINER " + author), self.run_config(),
                            extra={"author": author})

    def _command(self, inst: ins.Instruction) -> list[str]:
        if inst.node.json:
            return list(inst.args)
        return self.shell + [inst.args[0]] if inst.args else []

    async def do_cmd(self, inst: ins.Instruction) -> None:
        rc = self.run_config()
        rc["Cmd"] = self._command(inst)
        self.cmd_set = True
        await self.metadata("CMD", rc["Cmd"], self.nop("CMD " + _go_quote(rc["Cmd"])), rc)

    async def do_entrypoint(self, inst: ins.Instruction) -> None:
        rc = self.run_config()
        ep = self._command(inst)
        rc["Entrypoint"] = ep or None
        if not self.cmd_set:
            rc["Cmd"] = None  # an ENTRYPOINT resets the CMD inherited from the base image
        await self.metadata("ENTRYPOINT", ep, self.nop("ENTRYPOINT " + _go_quote(ep)), rc)

    async def do_shell(self, inst: ins.Instruction) -> None:
        rc = self.run_config()
        rc["Shell"] = list(inst.args)
        await self.metadata("SHELL", inst.args, self.nop("SHELL [" + " ".join(inst.args) + "]"), rc)

    async def do_user(self, inst: ins.Instruction) -> None:
        rc = self.run_config()
        rc["User"] = self.expand(inst.args[0], inst.node)
        await self.metadata("USER", rc["User"], self.nop("USER " + rc["User"]), rc)

    async def do_expose(self, inst: ins.Instruction) -> None:
        rc = self.run_config()
        specs = [self.expand(a, inst.node) for a in inst.args]
        ports = dict(rc.get("ExposedPorts") or {})
        for p in values.parse_ports(specs):
            ports[p] = {}
        rc["ExposedPorts"] = ports
        await self.metadata("EXPOSE", sorted(ports), self.nop("EXPOSE " + " ".join(specs)), rc)

    async def do_volume(self, inst: ins.Instruction) -> None:
        rc = self.run_config()
        vols = dict(rc.get("Volumes") or {})
        added = []
        for a in inst.args:
            v = self.expand(a, inst.node).strip()
            if not v:
                raise inst.node.error("VOLUME specified can not be an empty string")
            vols[v] = {}
            added.append(v)
        rc["Volumes"] = vols
        await self.metadata("VOLUME", added, self.nop("VOLUME " + _go_quote(added)), rc)

    async def do_stopsignal(self, inst: ins.Instruction) -> None:
        rc = self.run_config()
        sig = values.parse_signal(self.expand(inst.args[0], inst.node))
        rc["StopSignal"] = sig
        await self.metadata("STOPSIGNAL", sig, self.nop("STOPSIGNAL " + sig), rc)

    async def do_healthcheck(self, inst: ins.Instruction) -> None:
        rc = self.run_config()
        if inst.args[0] == "NONE":
            rc["Healthcheck"] = {"Test": ["NONE"]}
        else:
            cmd = inst.args[1:]
            test = (["CMD"] + cmd) if inst.node.json else ["CMD-SHELL", cmd[0]]
            hc: dict[str, Any] = {"Test": test}
            for flag, key in (("interval", "Interval"), ("timeout", "Timeout"),
                              ("start-period", "StartPeriod"), ("start-interval", "StartInterval")):
                v = inst.flag(flag)
                if v:
                    ns = values.parse_duration(str(v))
                    if 0 < ns < 1_000_000 or ns < 0:
                        raise inst.node.error(f"Interval \"{flag}\" cannot be less than 1ms")
                    if ns:
                        hc[key] = ns
            r = inst.flag("retries")
            if r:
                if not str(r).lstrip("-").isdigit():
                    raise inst.node.error(f"invalid value for --retries: {r}")
                if int(str(r)) < 0:
                    raise inst.node.error("--retries cannot be negative")
                if int(str(r)):
                    hc["Retries"] = int(str(r))
            rc["Healthcheck"] = hc
        text = "HEALTHCHECK " + json.dumps(rc["Healthcheck"], separators=(",", ":"))
        await self.metadata("HEALTHCHECK", rc["Healthcheck"], self.nop(text), rc)

    async def do_onbuild(self, inst: ins.Instruction) -> None:
        rc = self.run_config()
        trigger = inst.args[0]
        rc["OnBuild"] = list(rc.get("OnBuild") or []) + [trigger]
        await self.metadata("ONBUILD", trigger, self.nop("ONBUILD " + trigger), rc)

    async def do_from(self, inst: ins.Instruction) -> None:  # only reachable from a trigger
        raise inst.node.error("FROM isn't allowed as an ONBUILD trigger")

    # -- WORKDIR ----------------------------------------------------------------------
    async def do_workdir(self, inst: ins.Instruction) -> None:
        rc = self.run_config()
        wd = self.expand(inst.args[0], inst.node)
        if not wd:
            raise inst.node.error("WORKDIR cannot be empty")
        if not wd.startswith("/"):
            wd = posixpath.join(rc.get("WorkingDir") or "/", wd)
        wd = posixpath.normpath(wd)
        rc["WorkingDir"] = wd
        created_by = self.nop("WORKDIR " + wd, two_spaces=False)
        parent = self.state

        def mkdir() -> tuple[dict[str, Any], str] | None:
            pad = Scratch(self.b, parent, self.s.lease)
            try:
                with RootFS(pad.mount()) as fs:
                    fs.makedirs(wd, Meta(0o755))
                return pad.commit()
            finally:
                pad.discard()

        async def make() -> tuple[State, dict[str, Any] | None]:
            layer = await finish(mkdir)
            return parent.derive(created_by, rc, layer=layer), layer[0] if layer else None
        await self.step(["WORKDIR", wd], created_by, make, rc)

    # -- RUN --------------------------------------------------------------------------
    def _run_args(self, inst: ins.Instruction, script_dir: str) -> tuple[list[str], list[dict[str, Any]]]:
        """The command line, and mounts for a heredoc script with a shebang."""
        node = inst.node
        if node.json:
            return list(inst.args), []
        cmdline = inst.args[0]
        if not node.heredocs:
            return self.shell + [cmdline], []
        only = parser.parse_heredoc(cmdline.strip())
        if only is not None and len(node.heredocs) == 1:
            doc = node.heredocs[0]
            data = doc.text()
            if data.startswith("#!"):
                os.makedirs(script_dir, mode=0o755, exist_ok=True)
                path = os.path.join(script_dir, doc.name)
                with open(path, "w") as f:
                    f.write(data)
                os.chmod(path, 0o755)
                target = "/dev/pipes/" + doc.name
                return [target], [{"destination": target, "type": "bind", "source": path,
                                   "options": ["rbind", "ro"]}]
            return self.shell + [data], []
        full = cmdline
        for doc in node.heredocs:
            full += "\n" + doc.content + doc.name
        return self.shell + [full], []

    def _arg_env(self) -> tuple[list[str], list[str]]:
        """(env entries for ARGs and proxy build args not overridden by ENV,
        the ones docker records in history and the cache key)."""
        env = self.state.env()
        out, recorded = [], []
        for k, v in self.args.items():
            if v is not None and k not in env:
                out.append(f"{k}={v}")
                recorded.append(f"{k}={v}")
        for k in sorted(PROXY_ARGS):
            v = self.s.opts.build_args.get(k)
            if v is not None and k not in self.args and k not in env:
                out.append(f"{k}={v}")
        return out, sorted(recorded)

    async def do_run(self, inst: ins.Instruction) -> None:
        s = self.s
        node = inst.node
        script_dir = os.path.join(s.workdir, "scripts", secrets.token_hex(4))
        args, script_mounts = self._run_args(inst, script_dir)
        if not args:
            raise node.error("RUN requires at least one argument")
        arg_env, recorded = self._arg_env()
        network = str(inst.flag("network", "") or "") or s.opts.network or "default"
        if network not in ("default", "none", "host", "bridge"):
            raise node.error(f"unsupported network mode for RUN: {network}")
        security = str(inst.flag("security", "sandbox") or "sandbox")
        if security not in ("sandbox", "insecure"):
            raise node.error(f"unsupported security mode: {security}")
        if security == "insecure":
            raise StepError("security.insecure is not allowed: the daemon does not grant the "
                            "security.insecure entitlement")
        mounts = RunMounts(self, inst)
        await mounts.prepare()
        try:
            created_by = " ".join(([f"|{len(recorded)}"] + recorded if recorded else []) + args)
            key_parts = ["RUN", args, recorded, network, mounts.key(), s.opts.extra_hosts]
            parent = self.state
            rc = self.state.run

            async def make() -> tuple[State, dict[str, Any] | None]:
                pad = await acquire(lambda: Scratch(self.b, parent, s.lease), Scratch.discard)
                try:
                    await s.out.text(f" ---> Running in {pad.key[6:18]}\n")
                    tail = run.OutputTail()

                    async def output(data: bytes) -> None:
                        text = data.decode("utf-8", "replace")
                        tail.feed(text)
                        await s.out.text(text)
                    req = run.RunRequest(
                        id=pad.key, args=args, env=list(rc.get("Env") or []) + arg_env,
                        user=rc.get("User") or "", workdir=rc.get("WorkingDir") or "/", rootfs="",
                        files_dir=os.path.join(self.b.run_root, pad.key + "-files"),
                        network="default" if network == "bridge" else network,
                        extra_hosts=list(s.opts.extra_hosts), mounts=script_mounts + await mounts.oci(),
                        resources=dict(s.opts.resources), shm_size=s.opts.shm_size, hostname=pad.key[6:18])
                    try:
                        code = await run.execute(self.b.tasks, self.b.backend, req, pad.mounts, pad.upper,
                                                 pad.lowers, output)
                    finally:
                        shutil.rmtree(req.files_dir, ignore_errors=True)
                        await mounts.release()
                    if code != 0:
                        msg = f"The command '{' '.join(args)}' returned a non-zero code: {code}"
                        if s.opts.quiet and tail.text():
                            msg = tail.text() + "\n" + msg
                        raise run.RunFailed(msg, code)
                    layer = await finish(pad.commit)
                    await s.out.text(f" ---> Removed intermediate container {pad.key[6:18]}\n")
                    return parent.derive(created_by, layer=layer), layer[0] if layer else None
                finally:
                    await finish(pad.discard)
            await self.step(key_parts, created_by, make)
        finally:
            await mounts.release()

    # -- COPY / ADD --------------------------------------------------------------------
    async def do_copy(self, inst: ins.Instruction) -> None:
        await self._copy(inst, add=False)

    async def do_add(self, inst: ins.Instruction) -> None:
        await self._copy(inst, add=True)

    async def _copy(self, inst: ins.Instruction, add: bool) -> None:
        s = self.s
        node = inst.node
        kw = "ADD" if add else "COPY"
        srcs = list(inst.args[:-1])
        written_dest = self.expand(inst.args[-1], node)  # history says it as written, as docker does
        dest = self.dest_path(written_dest)
        from_flag = self.expand(str(inst.flag("from", "") or ""), node)
        chown = self.expand(str(inst.flag("chown", "") or ""), node)
        chmod_s = self.expand(str(inst.flag("chmod", "") or ""), node)
        chmod = values.parse_chmod(chmod_s) if chmod_s else None
        excludes_l = [self.expand(e, node) for e in (inst.flag("exclude", []) or [])]  # type: ignore[union-attr]
        excludes = PatternMatcher(excludes_l) if excludes_l else None
        checksum_flag = str(inst.flag("checksum", "") or "")
        if inst.flag("parents"):
            raise node.error("COPY --parents is not supported")
        view: View | None = None
        sources: list[cp.Source] = []
        keep_owner = False
        try:
            if from_flag:
                src_state = await self._from_state(from_flag, node)
                view = await acquire(lambda: View(self.b, src_state), View.close)
                s.cleanups.append(view.close)
                keep_owner = True
            for raw in srcs:
                doc = parser.parse_heredoc(raw) if node.heredocs else None
                heredoc = next((h for h in node.heredocs if doc is not None and h.name == doc.name), None)
                if heredoc is not None:
                    data = heredoc.text()
                    if heredoc.expand:
                        data = expand_heredoc(data, self.vars())
                    sources.append(cp.from_bytes(heredoc.name, data.encode(), 0o644, int(time.time())))
                    continue
                src = self.expand(raw, node)
                if add and re.match(r"^https?://", src):
                    if from_flag:
                        raise node.error("source can't be a URL for COPY --from")
                    sources.append(await self._download(src, checksum_flag, dest))
                    continue
                if add and (src.startswith("git@") or src.endswith(".git")):
                    raise StepError(f"{kw} from a git repository is not supported: {src}")
                if view is not None:
                    sources += await asyncio.to_thread(cp.from_tree, view.path, src, excludes)
                else:
                    sources += cp.from_context(s.ctx, src, excludes)
            if add:
                for src_ in sources:
                    if not src_.is_dir and not src_.remote and src_.items[0].data is None and \
                            await asyncio.to_thread(cp.is_archive, src_.items[0]):
                        src_.archive = True
            multi = len(sources) > 1
            if multi and not dest.endswith("/"):
                raise StepError(f"When using {kw} with more than one source file, the destination must be "
                                "a directory and end with a /")
            sums = [src_.checksum(owners=keep_owner and not chown) for src_ in sources]
            key_parts = [kw, sums, [src_.name for src_ in sources], dest, chown, chmod, keep_owner]
            parent = self.state
            made: list[str] = []

            def created_by() -> str:
                """docker's words, with its hashes of the sources: they read the
                files again, so only when the step is made or matched."""
                if not made:
                    hashes = [src_.docker_hash() for src_ in sources]
                    what = hashes[0] if len(hashes) == 1 else \
                        "multi:" + hashlib.sha256(",".join(hashes).encode()).hexdigest()
                    made.append(self.nop(f"{kw} {what} in {written_dest} ", two_spaces=False))
                return made[0]

            def write() -> tuple[dict[str, Any], str] | None:
                pad = Scratch(self.b, parent, self.s.lease)
                try:
                    with RootFS(pad.mount()) as fs:
                        owner = None
                        if chown:
                            from .fsops import lookup_user
                            owner = lookup_user(fs, chown)
                        parents = Meta(0o755, *(owner or (0, 0)))
                        own = cp.Ownership(owner, chmod, keep_owner)
                        dest_dir = dest.endswith("/") or multi or fs.is_dir(dest)
                        for src_ in sources:
                            if src_.archive:
                                target = dest if dest.endswith("/") or dest_dir else dest + "/"
                                cp.write(fs, target, True, cp.archive_items(src_.items[0]),
                                         cp.Ownership(owner, chmod, True), parents)
                            elif src_.is_dir:
                                cp.write(fs, dest, True, src_.items, own, parents)
                            elif dest_dir:
                                item = copy.copy(src_.items[0])
                                item.rel = src_.name
                                cp.write(fs, dest, True, [item], own, parents)
                            else:
                                cp.write(fs, dest, False, src_.items, own, parents)
                    return pad.commit()
                finally:
                    pad.discard()

            async def make() -> tuple[State, dict[str, Any] | None]:
                # docker's hashes read the sources again: alongside the copy, in another thread
                hashing = asyncio.ensure_future(finish(created_by))
                try:
                    layer = await finish(write)
                except BaseException:
                    try:  # its thread reads the context: it must be over before the context closes
                        await hashing
                    except BaseException:
                        pass
                    raise
                return parent.derive(await hashing, layer=layer), layer[0] if layer else None
            await self.step(key_parts, created_by, make)
        finally:
            if view is not None:
                s.cleanups.remove(view.close)
                await asyncio.to_thread(view.close)

    def dest_path(self, dest: str) -> str:
        """Absolute (relative to WORKDIR), normalized, keeping the trailing
        slash that makes it a directory ("." is the WORKDIR itself)."""
        trailing = dest.endswith("/") or dest in (".", "./", "") or dest.endswith("/.")
        path = posixpath.normpath(posixpath.join(self.state.run.get("WorkingDir") or "/", dest))
        return path if not trailing or path.endswith("/") else path + "/"

    async def _from_state(self, value: str, node: parser.Node) -> State:
        s = self.s
        i = s.stage_ref(value.lower(), self.stage.index)
        if i is not None:
            if i not in s.states:
                raise node.error(f"stage {value} has not been built")
            return s.states[i]
        if value.isdigit():
            raise node.error(f"invalid from flag value {value}: refers to current or future build stage")
        if s.plan.stage_by_name(value) is not None:
            raise node.error(f"invalid from flag value {value}: refers to current or future build stage")
        try:
            reference.parse(value)
        except errdefs.InvalidArgument:
            raise node.error(f"invalid from flag value {value}: invalid reference format") from None
        return await s.image_state(value, "", node, False)

    async def _download(self, url: str, checksum: str, dest: str) -> cp.Source:
        s = self.s
        path = os.path.join(s.workdir, "dl-" + secrets.token_hex(6))

        def fetch() -> tuple[str, int]:
            import email.utils
            import urllib.request
            h = hashlib.sha256()
            try:
                with urllib.request.urlopen(url, timeout=60) as resp, open(path, "wb") as f:
                    while True:
                        chunk = resp.read(1 << 20)
                        if not chunk:
                            break
                        h.update(chunk)
                        f.write(chunk)
                    lm = resp.headers.get("Last-Modified")
            except OSError as e:
                raise StepError(f"failed to download {url}: {getattr(e, 'reason', None) or e}") from None
            mtime = int(time.time())
            if lm:
                try:
                    mtime = int(email.utils.parsedate_to_datetime(lm).timestamp())
                except (TypeError, ValueError):
                    pass
            return h.hexdigest(), mtime
        digest, mtime = await asyncio.to_thread(fetch)
        if checksum:
            want = checksum.split(":", 1)[-1]
            if want != digest:
                raise StepError(f"digest mismatch for {url}: sha256:{digest} (expected {checksum})")
        name = posixpath.basename(urllib.parse.urlparse(url).path.rstrip("/"))
        if not name and dest.endswith("/"):
            raise StepError(f"cannot determine filename from url: {url}")
        src = cp.from_file(name or "download", path, 0o600, mtime, digest)
        src.remote = True
        return src
