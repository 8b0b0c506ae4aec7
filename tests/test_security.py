"""The explorer's server serves its one page and nothing else: no file of the machine, whatever
the path asks for, and only to requests addressed to 127.0.0.1 or localhost."""

from __future__ import annotations

import http.client
import threading

import pytest

from vaelab.pictures.explore import ExplorerServer

PAGE = "<!doctype html><title>the page</title>"


@pytest.fixture
def server():
    with ExplorerServer(0, PAGE) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server
        server.shutdown()


def _get(server: ExplorerServer, path: str, host: str | None = None) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
    connection.putrequest("GET", path, skip_host=True)
    connection.putheader("Host", f"127.0.0.1:{server.server_port}" if host is None else host)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read().decode("utf-8", "replace")
    connection.close()
    return response.status, body


@pytest.mark.parametrize("path", ["/", "/index.html", "/?x=1", "/index.html?run=a"])
def test_the_page_is_served(server, path):
    assert _get(server, path) == (200, PAGE)


@pytest.mark.parametrize("path", [
    "/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc/passwd",
    "//etc/passwd", "/etc/passwd", "/index.html/../../../etc/passwd", "/./index.html/..",
    "/%2Fetc%2Fpasswd", "/....//....//etc/passwd", "/..\\..\\..\\etc\\passwd",
    "/favicon.ico", "/explorer.js", "/.git/config", "/index.html%00.png",
])
def test_any_other_path_is_not_found(server, path):
    status, body = _get(server, path)
    assert status == 404
    assert "root:" not in body and PAGE not in body


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "localhost.evil",
                                  "10.0.0.1:8765", ""])
def test_requests_for_another_host_name_are_refused(server, host):
    status, body = _get(server, "/", host=host)
    assert status == 403 and PAGE not in body


def test_the_page_is_served_to_its_own_address_alone_however_the_name_is_written(server):
    """A page on this port, asked for as 127.0.0.1 or localhost in any case: served; asked
    for at another port (a page elsewhere on this machine rebinding a name): refused."""
    port = server.server_port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        assert _get(server, "/", host=host)[0] == 200, host
    for host in (f"127.0.0.1:{port + 1}", f"localhost:{port + 1}"):
        assert _get(server, "/", host=host)[0] == 403, host


def test_the_server_listens_on_loopback_only(server):
    assert server.server_address[0] == "127.0.0.1"
