"""relay/resources.py: what each path of the relay's one port serves."""

import pytest_twisted
from twisted.logger import formatEvent


@pytest_twisted.ensureDeferred
async def test_client_files_are_served_at_the_root(start_relay, tmp_path):
    """``/`` serves the --client-dir's index.html, and the modules it loads by name."""
    client = tmp_path / "client"
    client.mkdir()
    (client / "index.html").write_text('<title>depthcam</title><script type="module" src="./main.js">')
    (client / "main.js").write_text("export {};")
    relay = start_relay(client_dir=client)
    assert (await relay.get("/"))[0] == 200
    assert await relay.get("/main.js") == (200, b"export {};")
    assert (await relay.get("/missing.js"))[0] == 404


@pytest_twisted.ensureDeferred
async def test_fetching_files_logs_no_line_per_request(start_relay, tmp_path, relay_log):
    """Client files and /stats, found or not, are served without an access-log line."""
    client = tmp_path / "client"
    client.mkdir()
    (client / "index.html").write_text("<title>depthcam</title>")
    relay = start_relay(client_dir=client)
    for path in ("/", "/index.html", "/missing.js", "/stats"):
        await relay.get(path)
    assert [text for text in map(formatEvent, relay_log) if '"GET /' in text] == []


@pytest_twisted.ensureDeferred
async def test_client_folders_are_not_listed(start_relay, tmp_path):
    """A client folder is not listed, and a file the page does not load is not served."""
    (tmp_path / "client" / "lib").mkdir(parents=True)
    (tmp_path / "client" / "lib" / "secret.txt").write_text("x")
    relay = start_relay(client_dir=tmp_path / "client")
    assert (await relay.get("/lib/"))[0] == 404
    assert (await relay.get("/lib/secret.txt"))[0] == 404


@pytest_twisted.ensureDeferred
async def test_a_missing_client_folder_answers_404(start_relay, tmp_path):
    """Without client files the relay still serves sockets and /stats; ``/`` is a 404."""
    relay = start_relay(client_dir=tmp_path / "nowhere")
    assert (await relay.get("/"))[0] == 404
    assert (await relay.get("/stats"))[0] == 200


@pytest_twisted.ensureDeferred
async def test_socket_paths_without_a_websocket_handshake_are_refused(start_relay):
    """A plain GET of a stream socket gets an HTTP error, not a hang and not a stream."""
    relay = start_relay()
    assert (await relay.get("/view/s"))[0] == 426  # Upgrade Required
    assert relay.registry.streams == {}
