"""Running the review app under uvicorn, and stopping it cleanly.

On SIGTERM (or Ctrl-C) uvicorn stops accepting connections, lets the requests under way
finish, and runs the app's shutdown (the store is closed). uvicorn then raises the
signal again so that the process dies of it; a service manager asked it to stop, so
here the process instead ends normally, with exit status 0.
"""

from __future__ import annotations

import signal

import uvicorn


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame) -> None:  # noqa: ANN001 - uvicorn's signature
        super().handle_exit(sig, frame)
        captured = getattr(self, "_captured_signals", None)
        if sig == signal.SIGTERM and isinstance(captured, list) and sig in captured:
            captured.remove(sig)      # a requested stop, not a death: exit 0 after shutdown


def serve(app, host: str, port: int, *, trusted_proxy: str | None = None, log_level: str = "warning") -> None:
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                            proxy_headers=False,          # the app reads X-Forwarded-* from the trusted proxy only
                            server_header=False, date_header=True, timeout_graceful_shutdown=10,
                            lifespan="on")
    _Server(config).run()
