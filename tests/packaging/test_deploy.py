"""deploy/depthcam-relay.service: systemd accepts it, and it runs the relay confined and unprivileged."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.conftest import REPO

UNIT = REPO / "deploy" / "depthcam-relay.service"
INSTALLED_RELAY = "/usr/local/bin/depthcam-relay"
# `systemd-analyze security` rates a unit from 0 (confined) to 10 (exposed); it calls below 2 "OK"
# and takes --threshold in tenths.
MOST_EXPOSURE_TENTHS = 20
needs_systemd_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                           reason="needs systemd-analyze (Debian: systemd)")


def analyze(*args):
    """``systemd-analyze ARGS`` with man-page checks off; (exit status, output)."""
    result = subprocess.run(["systemd-analyze", *args[:1], "--man=no", *args[1:]], timeout=60,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return result.returncode, result.stdout


def unit_for_this_machine(tmp_path, text=None):
    """The unit (or ``text``), its ExecStart pointed at the relay installed here: verify checks that
    the program exists, and pipx puts it in /usr/local/bin only on the service's machine."""
    relay = Path(sys.executable).parent / "depthcam-relay"
    assert relay.is_file()
    path = tmp_path / UNIT.name
    path.write_text((text or UNIT.read_text()).replace(INSTALLED_RELAY, str(relay)))
    return path


def settings(text):
    """``{key: [values]}`` of a unit file's ``Key=Value`` lines."""
    found = {}
    for key, value in re.findall(r"^(\w+)=(.*)$", text, re.MULTILINE):
        found.setdefault(key, []).append(value.strip())
    return found


@needs_systemd_analyze
def test_the_unit_verifies_cleanly(tmp_path):
    """``systemd-analyze verify`` finds nothing to say about the unit (a misspelt key or bad value
    would be printed, see the next test)."""
    assert INSTALLED_RELAY in UNIT.read_text()
    status, output = analyze("verify", unit_for_this_machine(tmp_path))
    assert (status, output) == (0, "")


@needs_systemd_analyze
def test_verify_would_catch_a_bad_unit(tmp_path):
    """The check above can fail: a misspelt hardening option is reported."""
    broken = UNIT.read_text().replace("NoNewPrivileges=yes", "NoNewPrivilege=yes")
    status, output = analyze("verify", unit_for_this_machine(tmp_path, broken))
    assert "NoNewPrivilege" in output


@needs_systemd_analyze
def test_the_unit_is_rated_well_confined(tmp_path):
    """``systemd-analyze security`` rates the service's exposure below 2 of 10 ("OK")."""
    status, output = analyze("security", "--offline=true",
                             f"--threshold={MOST_EXPOSURE_TENTHS}", unit_for_this_machine(tmp_path))
    assert status == 0, output


def test_the_relay_runs_unprivileged_restarts_and_may_hold_many_sockets():
    """The unit's promises: its own unprivileged user, the token as a credential only that user
    can read, restart on failure, a raised descriptor limit, no new privileges, a read-only system."""
    unit = settings(UNIT.read_text())
    assert unit["DynamicUser"] == ["yes"] and "User" not in unit
    assert unit["LoadCredential"] == ["relay-token:/etc/depthcam/relay-token"]
    assert "--token-file %d/relay-token" in unit["ExecStart"][0]
    assert unit["Restart"] == ["on-failure"]
    assert int(unit["LimitNOFILE"][0]) >= 65536
    assert unit["NoNewPrivileges"] == ["yes"] and unit["ProtectSystem"] == ["strict"]
    assert unit["CapabilityBoundingSet"] == [""]
