"""Serving a WSGI application with waitress in a background thread, stoppable from tests and the CLI."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import waitress.server


class ServerHandle:
    """A running waitress server: its ``base_url``, and ``stop()`` to shut it down and join its thread."""

    def __init__(self, server: Any, host: str, port: int) -> None:
        self._server = server
        self.host = host
        self.port = port
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"emulator-{port}", daemon=True)

    @property
    def base_url(self) -> str:
        """``http://host:port`` (no trailing slash; API paths start with ``/api/``)."""
        return f"http://{self.host}:{self.port}"

    @classmethod
    def start(cls, app: Callable[..., Any], host: str, port: int, *, threads: int = 8) -> ServerHandle:
        """Bind (port 0 picks a free port) and start serving."""
        server = waitress.server.create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="waldur-emulator",
            clear_untrusted_proxy_headers=True,
            channel_timeout=60, asyncore_loop_timeout=1,  # an int to waitress: 0.05 became 0, a busy loop
        )
        handle = cls(server, host, int(server.effective_port))
        handle._thread.start()
        return handle

    def _run(self) -> None:
        server = self._server
        try:
            # waitress's own run(), with a check between iterations so that stop() need not wait for a timeout
            while not self._stopping and server._map:
                server.asyncore.loop(timeout=server.adj.asyncore_loop_timeout, map=server._map,
                                     use_poll=server.adj.asyncore_use_poll, count=1)
        except OSError:
            # closing the listening socket from another thread ends the loop with EBADF
            return

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listening socket and open connections, stop the worker threads and join."""
        server = self._server
        self._stopping = True
        server.pull_trigger()  # wake the loop (it waits up to a second in select): it sees _stopping and ends
        for channel in list(server._map.values()):
            channel.close()
        server.task_dispatcher.shutdown(timeout=timeout)
        self._thread.join(timeout)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
