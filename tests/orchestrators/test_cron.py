"""The cron example (examples/cron): the crontab's job line parses, its flock and CLI options exist, the line
itself runs (paths moved to a temporary folder): a skipped hour, a missing key file and a real run, all in
one appended log; and logrotate takes the rotation config (`logrotate -d`, then two forced rotations)."""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

from conftest import EXAMPLES, PROJECT_DIR, TEST_PII_KEY, require_tool

CRON = EXAMPLES / "cron"
CRONTAB = CRON / "crontab"
LOGROTATE = CRON / "logrotate.conf"
# The deployment paths the crontab assumes (its header), and the ones the tests use instead.
CHECKOUT = "/opt/event-analytics"
CRON_LOCK = "/run/lock/event-analytics-cron.lock"
LANDING = "/srv/event-analytics/landing"
WAREHOUSE = "/srv/event-analytics/warehouse/events.duckdb"
LOG = "/var/log/event-analytics/run.log"
FIELD_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def crontab_entries() -> tuple[dict[str, str], list[str]]:
    """The crontab's variable assignments and job lines."""
    variables, jobs = {}, []
    for line in CRONTAB.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assignment = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)", line)
        if assignment:
            variables[assignment[1]] = assignment[2].strip().strip('"')
        else:
            jobs.append(line)
    return variables, jobs


def job() -> tuple[list[str], str]:
    _, jobs = crontab_entries()
    assert len(jobs) == 1, jobs
    fields = jobs[0].split(None, 5)
    return fields[:5], fields[5]


def valid_field(field: str, low: int, high: int) -> bool:
    for part in field.split(","):
        match = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", part)
        if not match:
            return False
        numbers = [int(n) for n in match.groups()[1:3] if n is not None]
        if any(not low <= n <= high for n in numbers) or (match[4] is not None and int(match[4]) == 0):
            return False
    return True


def test_the_job_line_parses():
    variables, _ = crontab_entries()
    assert variables["SHELL"] == "/bin/sh"
    schedule, command = job()
    assert schedule == ["10", "*", "*", "*", "*"]
    assert all(valid_field(field, *limits) for field, limits in zip(schedule, FIELD_RANGES, strict=True))
    # cron turns an unescaped % into a newline
    assert "%" not in command
    words = shlex.split(command)
    assert words[:6] == ["flock", "-n", "-E", "75", "--verbose", CRON_LOCK]
    assert words[6] == f"{CHECKOUT}/examples/cron/scheduled-run.sh"
    assert words[-3:] == [">>", LOG, "2>&1"]
    assert words[7] == "run"


def test_flock_takes_the_options_used():
    usage = subprocess.run(["flock", "--help"], capture_output=True, text=True, check=True).stdout
    for option in ("--nonblock", "--conflict-exit-code", "--verbose"):
        assert option in usage


def test_the_cli_takes_the_options_used(cli: Path):
    usage = subprocess.run([str(cli), "run", "--help"], capture_output=True, text=True, check=True).stdout
    _, command = job()
    words = shlex.split(command)
    options = [word for word in words[8:-3] if word.startswith("--")]
    assert options == ["--wait", "--landing", "--warehouse"]
    for option in options:
        assert re.search(rf"(^|\s){option}\s", usage), f"{option} not in `event-analytics run --help`"
    wait = words[words.index("--wait") + 1]
    assert 0 < float(wait) < 3600, "wait less than the hour between runs"


def test_the_wrapper_is_executable_shell():
    wrapper = CRON / "scheduled-run.sh"
    assert os.access(wrapper, os.X_OK)
    subprocess.run(["sh", "-n", str(wrapper)], check=True)


def test_the_job_line_runs(cli: Path, landing: Path, tmp_path: Path):
    """The crontab's own command, with its deployment paths moved into tmp_path."""
    key_file = tmp_path / "pii.key"
    key_file.write_text(TEST_PII_KEY + "\n")
    key_file.chmod(0o400)
    log = tmp_path / "log" / "run.log"
    log.parent.mkdir()
    lock = tmp_path / "cron.lock"
    warehouse = tmp_path / "warehouse" / "events.duckdb"
    _, command = job()
    for deployed, here in (
        (CHECKOUT, PROJECT_DIR),
        (CRON_LOCK, lock),
        (LANDING, landing),
        (WAREHOUSE, warehouse),
        (LOG, log),
    ):
        assert deployed in command
        command = command.replace(deployed, shlex.quote(str(here)))
    variables, _ = crontab_entries()
    env = {
        **variables,
        "HOME": str(tmp_path),
        "EVENT_ANALYTICS_PII_KEY_FILE": str(key_file),
        "EVENT_ANALYTICS_CLI": str(cli),
    }
    for name in ("EVENT_ANALYTICS_PROJECT_DIR", "PYTHONPATH"):  # a development checkout's, if set
        if name in os.environ:
            env[name] = os.environ[name]

    def cron(environment: dict[str, str]) -> int:
        return subprocess.run([variables["SHELL"], "-c", command], env=environment, timeout=600).returncode

    # the previous hour's run still holds cron's lock: this one does not start
    with open(lock, "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        assert cron(env) == 75
    # the key file cannot be read: a configuration error, said in the log
    assert cron({**env, "EVENT_ANALYTICS_PII_KEY_FILE": str(tmp_path / "missing.key")}) == 2
    # a real run
    assert cron(env) == 0
    text = log.read_text()
    assert TEST_PII_KEY not in text
    lines = text.splitlines()
    assert "flock: failed to get lock" in lines[0]
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    finished = [line for line in lines if re.match(rf"{stamp} event-analytics finished: ", line)]
    assert len(finished) == 2
    assert "exit 2 (configuration error: cannot read the PII key file" in finished[0]
    assert finished[1].endswith("exit 0 (ok)")
    assert any(re.match(rf"{stamp} event-analytics run --wait 600 .* started$", line) for line in lines)
    assert any(line.startswith("published ") for line in lines)
    assert (warehouse.parent / "serving" / "manifest.json").is_file()


def test_logrotate_takes_the_config(tmp_path: Path):
    require_tool("logrotate")
    checked = subprocess.run(
        ["logrotate", "-d", "-s", str(tmp_path / "state"), str(LOGROTATE)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    assert "error" not in (checked.stdout + checked.stderr).lower()
    assert f"considering log {LOG}" in checked.stdout + checked.stderr


def test_logrotate_rotates_without_losing_lines(tmp_path: Path):
    require_tool("logrotate")
    log = tmp_path / "run.log"
    config = tmp_path / "logrotate.conf"
    config.write_text(LOGROTATE.read_text().replace(LOG, str(log)))
    rotate = ["logrotate", "-f", "-s", str(tmp_path / "state"), str(config)]
    log.write_text("first run\n")
    subprocess.run(rotate, check=True, capture_output=True)
    # the log is created again, empty; the rotated file stays plain (delaycompress)
    assert log.read_text() == ""
    [first] = tmp_path.glob("run.log-*")
    assert first.read_text() == "first run\n"
    with open(log, "a") as appended:
        appended.write("second run\n")
    time.sleep(1.1)  # dateext names rotated files by the second
    subprocess.run(rotate, check=True, capture_output=True)
    # the first rotated file is compressed now, the second stays plain
    assert [path.name for path in tmp_path.glob("run.log-*.gz")] == [first.name + ".gz"]
    [second] = [path for path in tmp_path.glob("run.log-*") if path.suffix != ".gz"]
    assert second.read_text() == "second run\n"
    assert log.read_text() == ""
