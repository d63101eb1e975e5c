"""The existing agent (waldur-site-agent 1.0.7 with its Waldur plugin) run against the emulated Waldurs of
``run_world``, for the migration suite (``test_migration.py``).

The agent lives in its own virtualenv, installed by ``scripts/existing-agent`` (pinned, idempotent, exit 3 when the
package registry is unreachable). It runs as a subprocess on the very configuration file fedcore reads.

One gap of the emulator stands between the agent and Waldur A: the agent registers its identity on A
(``POST /api/marketplace-site-agent-identities/``) and parses the answer with waldur-api-client 8.1.2's
``AgentIdentity.from_dict``, which requires the key ``created_by`` (Waldur 8.0.5 always sends it: the UUID of the
user who registered the identity, or null). The emulator leaves the key out, so the agent fails every pass with
``KeyError: 'created_by'`` before it reads a single order. :class:`CompatProxy` sits between the agent and A and adds
the key (null, a value Waldur's schema allows) to the identity answers that lack it; it forwards everything else
byte for byte (fedcore, reading the same configuration file, goes through it too and sees A unchanged).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from waldur_emulator.federation import Federation

ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = ROOT / "scripts" / "existing-agent"
UNREACHABLE = 3
"""``scripts/existing-agent``'s exit code when the package registry cannot be reached."""

IDENTITY_PATH = "/api/marketplace-site-agent-identities/"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}


class InstallResult:
    """What ``scripts/existing-agent`` did: the agent's command on success, else why not."""

    def __init__(self, done: subprocess.CompletedProcess[str]) -> None:
        self.code = done.returncode
        self.stderr = done.stderr
        lines = done.stdout.strip().splitlines()
        self.executable = lines[-1].split()[0] if done.returncode == 0 and lines else ""

    @property
    def unreachable(self) -> bool:
        """The registry could not be reached (the only reason the suite skips)."""
        return self.code == UNREACHABLE


def install_agent(timeout: float = 900.0) -> InstallResult:
    """Run ``scripts/existing-agent`` (a no-op once ``.venv-agent`` holds the pinned versions)."""
    done = subprocess.run([str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=timeout, check=False,
                          cwd=ROOT)
    return InstallResult(done)


def _completed_identity(body: Any) -> Any:
    """An identity answer (or a list of them) with ``created_by`` present."""
    if isinstance(body, dict) and "uuid" in body and "services" in body:
        body.setdefault("created_by", None)
    elif isinstance(body, list):
        for item in body:
            _completed_identity(item)
    return body


class CompatProxy:
    """A reverse proxy on 127.0.0.1 in front of one emulator; see the module's docstring for what it changes."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.client = httpx.Client(base_url=self.upstream, timeout=30)
        self.patched = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK wait

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                answer = proxy.client.request(self.command, self.path, content=body, headers=headers)
                content = answer.content
                if self.path.split("?")[0].startswith(IDENTITY_PATH) and answer.status_code < 300 and content:
                    patched = json.dumps(_completed_identity(answer.json())).encode()
                    if patched != content:
                        proxy.patched += 1
                    content = patched
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def api_url(self) -> str:
        """The proxied API root, as a configuration file names it."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
        self.client.close()


class Agent:
    """``waldur_site_agent -m <mode> -c <file>`` as a subprocess; its output (JSON log lines) goes to a file."""

    def __init__(self, executable: str, config_path: str, log_path: Path, mode: str = "order_process") -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               # The agent wakes up once a minute whatever the period (TICK_INTERVAL = 60 s); a short period makes
               # its first pass start at once. Keep it off Sentry and Elastic APM.
               "WALDUR_SITE_AGENT_ORDER_PROCESS_PERIOD_MINUTES": "0.05", "SENTRY_DSN": "",
               "ELASTIC_APM_ENABLED": "false"}
        self.log_path = log_path
        self._log = log_path.open("w", encoding="utf-8")
        self.process = subprocess.Popen([executable, "-m", mode, "-c", config_path], stdout=self._log,
                                        stderr=subprocess.STDOUT, env=env, cwd=log_path.parent)

    def events(self) -> list[str]:
        """The ``event`` of every JSON log line so far (other lines as they are)."""
        out = []
        for line in self.log_path.read_text("utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                out.append(line)
                continue
            out.append(str(record.get("event", line)) if isinstance(record, dict) else line)
        return out

    def stop(self, sig: int = signal.SIGKILL, timeout: float = 20.0) -> int:
        """Send ``sig`` (default: killed, as a crash or a hard stop would) and wait; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self._log.close()
        return code


def hyphenated(value: str) -> str:
    """A UUID as the agent writes it (``str(UUID)``)."""
    return str(uuid.UUID(value))


class AgentMoves:
    """The existing agent's writes, made one by one through the emulators' REST APIs with the tokens the agent's
    configuration holds, with the bodies and values the agent sends (waldur_site_agent.common.processors and
    waldur_site_agent_waldur.backend / client, 1.0.7). A test stops after any of them to leave the state a stopped
    or killed agent leaves."""

    def __init__(self, a: httpx.Client, b: httpx.Client, fed: Federation, b_limits: dict[str, int]) -> None:
        self.a = a
        self.b = b
        self.fed = fed
        self.b_limits = b_limits
        self.a_auth = {"Authorization": f"Token {fed.a.agent_token}"}
        self.b_auth = {"Authorization": f"Token {fed.b.agent_token}"}

    def _a(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.a.request(method, path, json=body, headers=self.a_auth)
        if answer.status_code >= 300:  # not an AssertionError: the xfail tests expect those from their checks only
            raise RuntimeError(f"{method} A {path}: {answer.status_code} {answer.text[:300]}")
        return dict(answer.json()) if answer.content else {}

    def _b(self, method: str, path: str, body: dict[str, Any] | None = None, **params: str) -> Any:
        answer = self.b.request(method, path, json=body, params=params or None, headers=self.b_auth)
        if answer.status_code >= 300:
            raise RuntimeError(f"{method} B {path}: {answer.status_code} {answer.text[:300]}")
        return answer.json() if answer.content else {}

    @property
    def project_backend_id(self) -> str:
        """``f"{customer_uuid}_{project_uuid}"`` of the A resource's UUID objects: hyphenated."""
        return f"{hyphenated(self.fed.consumer_customer_uuid)}_{hyphenated(self.fed.consumer_project_uuid)}"

    def approve(self, a_order: str) -> None:
        """``marketplace_orders_approve_by_provider`` on A."""
        self._a("POST", f"/api/marketplace-orders/{a_order}/approve_by_provider/", {})

    def b_project(self, a_order: str) -> str:
        """``_pre_create_resource``: the B project with the hyphenated key, created when missing (named after the
        A project, as the A order shows it to the agent); its UUID."""
        found = self._b("GET", "/api/projects/", backend_id=self.project_backend_id,
                        customer=self.fed.b_customer_uuid)
        if found:
            return str(found[0]["uuid"])
        order = self._a("GET", f"/api/marketplace-orders/{a_order}/")
        customer = self._b("GET", f"/api/customers/{self.fed.b_customer_uuid}/")
        made = self._b("POST", "/api/projects/", {"name": order["project_name"], "customer": customer["url"],
                                                  "backend_id": self.project_backend_id,
                                                  "description": order.get("project_description") or ""})
        return str(made["uuid"])

    def submit(self, a_order: str, name: str) -> tuple[str, str]:
        """``create_marketplace_order`` on B (attributes: the name only, no key); the B order and B resource."""
        project = self._b("GET", f"/api/projects/{self.b_project(a_order)}/")
        offering = self._b("GET", f"/api/marketplace-public-offerings/{self.fed.b.offering_uuid}/")
        plan = self._b("GET", f"/api/marketplace-public-offerings/{self.fed.b.offering_uuid}/plans/")[0]
        made = self._b("POST", "/api/marketplace-orders/",
                       {"project": project["url"], "offering": offering["url"], "plan": plan["url"],
                        "limits": self.b_limits, "attributes": {"name": name},
                        "accepting_terms_of_service": True})
        return str(made["uuid"]), str(made["marketplace_resource_uuid"])

    def link_resource(self, a_resource: str, b_resource: str) -> None:
        """``marketplace_provider_resources_set_backend_id``: the B resource's hyphenated UUID on the A resource."""
        self._a("POST", f"/api/marketplace-provider-resources/{a_resource}/set_backend_id/",
                {"backend_id": hyphenated(b_resource)})

    def link_order(self, a_order: str, b_order: str) -> None:
        """``marketplace_orders_set_backend_id``: the B order's hyphenated UUID on the A order (left executing)."""
        self._a("POST", f"/api/marketplace-orders/{a_order}/set_backend_id/", {"backend_id": hyphenated(b_order)})

    def complete(self, a_order: str) -> None:
        """A later pass saw the B order done: ``marketplace_orders_set_state_done`` on A."""
        self._a("POST", f"/api/marketplace-orders/{a_order}/set_state_done/", {})
