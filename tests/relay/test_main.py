"""relay/__main__.py: flags to RelayConfig, the token never on the command line, ``--help``."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from depthcam.relay.__main__ import build_parser, config_from_args, main
from depthcam.protocol.tokens import TOKEN_ENV_VAR
from depthcam.relay.config import RelayConfig


def parse(*argv):
    return config_from_args(build_parser().parse_args(list(argv)))


def test_no_flags_give_the_default_config():
    """Every flag's default is the RelayConfig default."""
    assert parse() == RelayConfig()


def test_flags_reach_the_config():
    """Each flag sets its RelayConfig field, in the field's unit."""
    config = parse(
        "--host", "0.0.0.0", "--port", "9100", "--max-message-bytes", "1000",
        "--max-streams", "2", "--max-viewers", "50", "--max-viewers-per-stream", "5",
        "--max-unsent-bytes", "0", "--stuck-timeout", "2.5", "--viewer-socket-buffer-bytes", "0",
        "--handshake-timeout", "3", "--ping-interval", "4", "--ping-timeout", "6",
        "--allowed-origin", "https://a.example", "--allowed-origin", "https://b.example",
        "--client-dir", "/srv/client", "--default-stream", "kitchen",
    )
    assert config == RelayConfig(
        host="0.0.0.0", port=9100, max_message_bytes=1000, max_streams=2, max_viewers=50,
        max_viewers_per_stream=5, max_unsent_bytes=0, stuck_timeout_s=2.5,
        viewer_socket_buffer_bytes=0, handshake_timeout_s=3.0, ping_interval_s=4.0,
        ping_timeout_s=6.0, allowed_origins=("https://a.example", "https://b.example"),
        client_dir=Path("/srv/client"), default_stream="kitchen",
    )


def test_scaling_flags_reach_the_config():
    """--workers, --bus, --upstream and their password and CA files are RelayConfig fields too."""
    config = parse(
        "--workers", "3", "--bus", "rediss://bus.example:6380/1", "--bus-password-file", "/etc/pw",
        "--bus-ca-file", "/etc/bus-ca.pem", "--upstream", "wss://origin.example/view/cam",
        "--upstream-ca-file", "/etc/up-ca.pem", "--reuse-port",
    )
    assert config == RelayConfig(
        workers=3, bus="rediss://bus.example:6380/1", bus_password_file=Path("/etc/pw"),
        bus_ca_file=Path("/etc/bus-ca.pem"), upstream="wss://origin.example/view/cam",
        upstream_ca_file=Path("/etc/up-ca.pem"), reuse_port=True,
    )


@pytest.mark.parametrize("flags", [
    ["--bus", "rediss://127.0.0.1:1/0", "--bus-ca-file"],
    ["--upstream", "wss://127.0.0.1:1/view/cam", "--upstream-ca-file"],
], ids=["bus", "upstream"])
def test_a_ca_file_that_cannot_be_read_exits_with_usage(flags, tmp_path):
    """A missing --bus-ca-file or --upstream-ca-file: exit 2 naming the file, no traceback."""
    missing = tmp_path / "missing-ca.pem"
    env = dict(os.environ, **{TOKEN_ENV_VAR: "0123456789abcdef0123"})
    done = subprocess.run(
        [sys.executable, "-m", "depthcam.relay", "--port", "0", *flags, str(missing)],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"cannot use the CA file {missing}" in done.stderr
    assert "Traceback" not in done.stderr


BAD_ARGUMENTS = [
    ["--token", "0123456789abcdef0123"],  # there is no such flag, on purpose
    ["--port", "-1"],
    ["--max-viewers", "0"],
    ["--stuck-timeout", "0"],
    ["--default-stream", "bad name"],
]


@pytest.mark.parametrize("argv", BAD_ARGUMENTS, ids=lambda argv: argv[0])
def test_bad_arguments_exit_with_usage(argv, capsys):
    """Unknown flags (a token on the command line among them) and bad values exit with status 2."""
    with pytest.raises(SystemExit) as raised:
        build_parser().parse_args(argv)
    assert raised.value.code == 2


def test_without_a_token_the_relay_does_not_start(monkeypatch, capsys):
    """No --token-file and no DEPTHCAM_RELAY_TOKEN: exit 2, naming both ways to give one."""
    monkeypatch.delenv(TOKEN_ENV_VAR, raising=False)
    with pytest.raises(SystemExit) as raised:
        main([])
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert TOKEN_ENV_VAR in error and "--token-file" in error


def test_help_runs_as_a_module():
    """``python -m depthcam.relay --help`` exits 0 and explains where the token comes from."""
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV_VAR}
    done = subprocess.run(
        [sys.executable, "-m", "depthcam.relay", "--help"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--token-file" in done.stdout and TOKEN_ENV_VAR in done.stdout
    assert "--max-unsent-bytes" in done.stdout
