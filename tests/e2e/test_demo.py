"""``fedcore demo`` end to end, as ``scripts/demo`` runs it: a real process, two emulated Waldurs over real sockets.

The story must end by itself with exit 0, show every step reaching its state and the side-by-side tables, and say
how long it took. ``--serve`` must print URLs and tokens that work (fedcore keeps serving orders meanwhile), and
stop cleanly on SIGTERM. A step that cannot settle fails with a message naming it; a signal mid-story ends it.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.config import load_config
from runners.cli import main

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "runners.cli", "demo"]
STEPS = ("1/6 Create", "2/6 Membership", "3/6 Usernames", "4/6 Usage", "5/6 Update", "6/6 Terminate")


def demo(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run the demo to its end."""
    return subprocess.run([*COMMAND, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


def table(output: str, title: str) -> list[list[str]]:
    """The rows of the table under ``title`` (cells stripped), header included."""
    lines = output.splitlines()
    start = lines.index(title) + 1
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        if not set(line.strip()) <= set("-+"):
            rows.append([cell.strip() for cell in line.split("|")])
    return rows


class Running:
    """A demo process whose stdout is read by a thread, so the test can wait for lines with a deadline."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([*COMMAND, *args], cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first line (from now on, or already read) matching ``pattern``; fails after ``timeout`` seconds."""
        for line in self.lines:
            if found := re.search(pattern, line):
                return found
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                got = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if got is None:
                break
            self.lines.append(got)
            if found := re.search(pattern, got):
                return found
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n" + "\n".join(self.lines))

    def stop(self, signum: int, timeout: float = 15) -> int:
        """Send ``signum`` and wait for the exit code; the rest of the output is kept."""
        self.process.send_signal(signum)
        code = self.process.wait(timeout=timeout)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code


@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait()


def test_the_story_runs_every_step_and_ends_by_itself_with_exit_0() -> None:
    started = time.monotonic()
    done = demo("--no-events", timeout=60)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "events: off (--no-events); fedcore polls instead." in out
    assert "fedcore: polling mode, one pass of each mode every 0.2 s" in out
    assert re.search(r"\] fedcore  \[order_process\] Create order \w+ on A: approved it on A; created the B project; "
                     r"submitted a Create order on B", out)
    assert re.search(r"\] fedcore  \[membership_sync\] granted PROJECT.MEMBER in B project \w+ to bob-", out)
    assert re.search(r"\] fedcore  \[username_sync\] alice-\S+: username of the A offering user set to 'hpc_alice'",
                     out)
    assert re.search(r"\] fedcore  \[report\] .*: usage on A set to node_hours=6, storage=7", out)
    assert_story(out, took)


@pytest.mark.broker
def test_with_a_broker_the_story_runs_on_events() -> None:
    started = time.monotonic()
    done = demo(timeout=60)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "fedcore: event mode, as `fedcore run -m event_process` runs" in out
    assert "events: off" not in out
    assert re.search(r"\] fedcore  A offering \w+ \(HPC via Waldur B\): on events", out)
    assert re.search(r"\] fedcore  event: A order event -> A order \w+: waiting", out)
    assert re.search(r"\] fedcore  event: B order event -> A order \w+: completed \(finished\)", out)
    assert re.search(r"\] fedcore  event: A user_role event -> membership_sync pass of HPC via Waldur B", out)
    assert re.search(r"\] fedcore  event: B offering_user event -> username of alice-\S+: 1 patch\(es\)", out)
    assert re.search(r"every step reached its expected state \(on events; \d+ passes ran", out)
    assert_story(out, took)


def assert_story(out: str, took: float) -> None:
    """Every step settled, and the side-by-side tables show what the story did."""
    for step in STEPS:
        assert f"== {step}" in out
    assert len(re.findall(r"^\[\s*\d+\.\ds\] ok ", out, re.MULTILINE)) == len(STEPS)
    [_, resource] = table(out, "Resources")
    assert resource[1:3] == ["Terminated", "node_hours=6, storage=20"]
    assert resource[4:] == ["Terminated", "cpu_k_hours=768, mem_gb_hours=3072, storage=20"]
    orders = table(out, "Orders")[1:]
    assert [(o[1], o[2], o[3], o[5], o[6]) for o in orders] == [
        ("Create", "done", "node_hours=4, storage=10", "done", "cpu_k_hours=512, mem_gb_hours=2048, storage=10"),
        ("Update", "done", "node_hours=6, storage=20", "done", "cpu_k_hours=768, mem_gb_hours=3072, storage=20"),
        ("Terminate", "done", "-", "done", "-"),
    ]
    people = table(out, "People (A project team -> B project team; offering-user usernames B -> A)")[1:]
    assert [p[1:] for p in people] == [
        ["PROJECT.MANAGER", "hpc_alice (OK)", "PROJECT.MANAGER", "hpc_alice (OK)"],
        ["PROJECT.MEMBER", "hpc_bob (OK)", "PROJECT.MEMBER", "hpc_bob (OK)"],
    ]
    usage_title = next(line for line in out.splitlines() if line.startswith("Usage in "))
    assert table(out, usage_title)[1:] == [
        ["cpu_k_hours total", "640", "640 / 128 = 5", "node_hours total", "6"],
        ["mem_gb_hours total", "3072", "3072 / 512 = 6", "node_hours total", "6"],
        ["storage total", "7", "7 / 1 = 7", "storage total", "7"],
        ["cpu_k_hours hpc_alice", "384", "384 / 128 = 3", "node_hours hpc_alice", "3"],
        ["mem_gb_hours hpc_alice", "1536", "1536 / 512 = 3", "node_hours hpc_alice", "3"],
        ["cpu_k_hours hpc_bob", "256", "256 / 128 = 2", "node_hours hpc_bob", "3"],
        ["mem_gb_hours hpc_bob", "1536", "1536 / 512 = 3", "node_hours hpc_bob", "3"],
    ]
    finished = re.search(r"^Demo finished in (\d+\.\d) s", out, re.MULTILINE)
    assert finished is not None
    assert float(finished.group(1)) <= took < 60


def test_serve_prints_working_urls_tokens_and_config_and_stops_cleanly_on_sigterm(running: list[Running]) -> None:
    demo_process = Running("--serve", "--no-story", "--poll", "0.1", "--no-events")
    running.append(demo_process)
    a_url = demo_process.wait_for(r"^  Waldur A\s+(http://\S+/api/)$", 30).group(1)
    fedcore_line = r"^  fedcore: the demo's fedcore keeps polling"
    demo_process.wait_for(fedcore_line, 10)
    b_url = demo_process.wait_for(r"^  Waldur B\s+(http://\S+/api/)$", 1).group(1)
    token = {name: demo_process.wait_for(rf"^  {name} token\s+(\w+)", 1).group(1)
             for name in ("A staff", "A fedcore", "A alice", "B staff", "B fedcore")}
    config_path = Path(demo_process.wait_for(r"^  config file\s+(\S+)$", 1).group(1))
    assert demo_process.wait_for(r"^  fedcore run -c (\S+) -m order_process$", 1).group(1) == str(config_path)

    def client(url: str, name: str) -> httpx.Client:
        return httpx.Client(base_url=url, headers={"Authorization": f"Token {token[name]}"}, timeout=10)

    with client(a_url, "A alice") as alice, client(a_url, "A staff") as staff_a, client(b_url, "B staff") as staff_b:
        assert alice.get("users/me/").json()["username"].startswith("alice-")
        assert client(a_url, "A fedcore").get("users/me/").json()["username"] == "fedcore-a"
        assert client(b_url, "B fedcore").get("users/me/").json()["username"] == "fedcore-b"
        assert staff_b.get("version/").status_code == 200
        config = load_config(config_path)
        assert (config.offerings[0].waldur_api_url, config.offerings[0].backend_settings.target_api_url) == (
            a_url, b_url)
        assert config_path.stat().st_mode & 0o077 == 0

        # fedcore keeps serving the offering: an order placed by hand goes through B and comes back done.
        offering = config.offerings[0].waldur_offering_uuid
        public = alice.get(f"marketplace-public-offerings/{offering}/").json()
        plan = alice.get(f"marketplace-public-offerings/{offering}/plans/").json()[0]
        project = staff_a.get("projects/").json()[0]
        made = alice.post("marketplace-orders/", json={
            "offering": public["url"], "project": project["url"], "plan": plan["url"],
            "limits": {"node_hours": 1, "storage": 1}, "attributes": {"name": "by-hand"},
            "accepting_terms_of_service": True})
        assert made.status_code == 201, made.text
        demo_process.wait_for(rf"Create order {made.json()['uuid'][:8]} on A: marked the A order done", 20)
        assert staff_a.get(f"marketplace-orders/{made.json()['uuid']}/").json()["state"] == "done"
        [b_resource] = staff_b.get("marketplace-resources/").json()
        assert b_resource["limits"] == {"cpu_k_hours": 128, "mem_gb_hours": 512, "storage": 1}

    assert demo_process.stop(signal.SIGTERM) == 0
    assert "fedcore demo: stopping (signal received)" in demo_process.lines
    assert not config_path.exists()


def test_a_step_that_does_not_settle_in_time_fails_naming_it(broker_shared: None) -> None:  # on events if up
    done = demo("--provider-delay", "60", "--step-timeout", "1.5", timeout=30)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "fedcore demo: FAILED: step 'Create' did not reach its expected state within 1.5 s" in done.stderr
    assert "(last seen: A order" in done.stderr
    assert "Demo finished" not in done.stdout


def test_sigint_during_the_story_ends_it_with_exit_130(running: list[Running], broker_shared: None) -> None:
    demo_process = Running("--provider-delay", "60")
    running.append(demo_process)
    demo_process.wait_for(r"^\[\s*\d+\.\ds\] B\s+order \w+ \(Create\): executing", 30)
    assert demo_process.stop(signal.SIGINT) == 130
    assert "fedcore demo: interrupted during step Create" in demo_process.lines


def test_serve_only_options_without_serve_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--no-story"]) == 2
    assert "go with --serve" in capsys.readouterr().err


def test_the_demo_script_runs_the_demo_command() -> None:
    script = (ROOT / "scripts" / "demo").read_text(encoding="utf-8")
    assert os.access(ROOT / "scripts" / "demo", os.X_OK)
    assert "set -euo pipefail" in script
    assert script.rstrip().endswith('exec .venv/bin/fedcore demo "$@"')
