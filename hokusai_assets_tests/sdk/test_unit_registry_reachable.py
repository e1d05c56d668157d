"""A stopped MLflow server is reported in words before any MLflow call is tried."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hokusai.core.registry import RegistryUnavailableError, require_reachable
from hokusai.harness.servers import free_port


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 (the http.server API)
        self.send_response(self.status if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_server_answering_health_passes(health_server):
    require_reachable(health_server)


def test_nothing_listening_is_a_clear_unavailable_error():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RegistryUnavailableError, match=f"MLflow tracking server {url} is not answering .*refused"):
        require_reachable(url, timeout=2)


def test_an_unhealthy_answer_is_unavailable_too(health_server, monkeypatch):
    monkeypatch.setattr(_Health, "status", 503)
    with pytest.raises(RegistryUnavailableError, match="HTTP 503"):
        require_reachable(health_server)


@pytest.mark.parametrize("uri", ["sqlite:///tmp/nowhere/mlflow.db", "file:///tmp/mlruns"])
def test_local_stores_need_no_server(uri):
    require_reachable(uri)
