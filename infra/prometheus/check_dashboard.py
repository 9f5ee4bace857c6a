#!/usr/bin/env python3
"""Every query of every dashboard panel returns data from a real Prometheus.

Starts the local stack (the built `stack` binary) on free ports with its own data directory,
keeps it under a little load (members registered, reserved for and deleted), runs Prometheus
(`prometheus` on PATH, Debian's package in CI) scraping both services every second, waits until
each target was scraped at least twice, then sends each panel query of
infra/grafana/dashboards/*.json to Prometheus's HTTP API and fails unless each answers with a
non-empty result. Both processes are stopped however it ends.

Usage: check_dashboard.py STACK_BINARY
"""

import json
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = pathlib.Path(__file__).resolve().parent
DASHBOARDS = HERE.parent / "grafana" / "dashboards"
DEADLINE_SECONDS = 120


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(url, method="GET", body=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    call = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(call, timeout=10) as answer:
        text = answer.read().decode()
        return answer.status, (json.loads(text) if text.strip().startswith(("{", "[")) else text)


def wait_for(what, check):
    give_up = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < give_up:
        try:
            if check():
                return
        except (OSError, urllib.error.URLError, ValueError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def load(member_url, reservation_url, token, stop):
    """Registers a member, reserves for it once it is known, deletes it; again until stopped."""
    while not stop.is_set():
        try:
            _, member = request(f"{member_url}/members", "POST", {
                "name": "Ada Lovelace", "email": f"ada-{uuid.uuid4().hex}@example.com"}, token)
            member_id = member["id"]
            wait_for("the member to be known", lambda: request(
                f"{reservation_url}/known-members/{member_id}", token=token)[0] == 200)
            request(f"{reservation_url}/reservations", "POST", {
                "member_id": member_id, "resource": f"room-{uuid.uuid4().hex}",
                "starts_at": "2030-01-01T10:00:00Z", "ends_at": "2030-01-01T11:00:00Z"}, token)
            request(f"{member_url}/members/{member_id}", "DELETE", token=token)
        except (OSError, urllib.error.URLError, KeyError) as error:
            print(f"load: {error}", file=sys.stderr)
            time.sleep(0.5)


def panel_queries():
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                yield path.name, panel["title"], target["expr"]


def main():
    # A timeout's SIGTERM unwinds through the `finally` below, which stops both processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    stack_binary = sys.argv[1]
    work = pathlib.Path(tempfile.mkdtemp(prefix="check-dashboard-"))
    member_port, reservation_port = free_port(), free_port()
    broker_port, prometheus_port = free_port(), free_port()
    member_url = f"http://127.0.0.1:{member_port}"
    reservation_url = f"http://127.0.0.1:{reservation_port}"
    prometheus_url = f"http://127.0.0.1:{prometheus_port}"
    processes = []
    stop = threading.Event()
    try:
        stack_log = open(work / "stack.log", "w")
        processes.append(subprocess.Popen([
            stack_binary, "--data-dir", str(work / "data"),
            "--broker-address", f"127.0.0.1:{broker_port}",
            "--member-address", f"127.0.0.1:{member_port}",
            "--reservation-address", f"127.0.0.1:{reservation_port}",
        ], stdout=stack_log, stderr=subprocess.STDOUT))
        for url in (member_url, reservation_url):
            wait_for(f"{url}/health", lambda url=url: request(f"{url}/health")[0] == 200)
        token = subprocess.run(
            [stack_binary, "--data-dir", str(work / "data"), "token", "--staff"],
            check=True, capture_output=True, text=True).stdout.strip()

        config = work / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            f"  - job_name: member-service\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{member_port}']\n"
            f"  - job_name: reservation-service\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{reservation_port}']\n")
        prometheus_log = open(work / "prometheus.log", "w")
        processes.append(subprocess.Popen([
            "prometheus", f"--config.file={config}", f"--storage.tsdb.path={work / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ], stdout=prometheus_log, stderr=subprocess.STDOUT))

        worker = threading.Thread(
            target=load, args=(member_url, reservation_url, token, stop), daemon=True)
        worker.start()

        def query(expression):
            address = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode(
                {"query": expression})
            _, answer = request(address)
            if answer.get("status") != "success":
                raise SystemExit(f"{expression}: {answer}")
            return answer["data"]["result"]

        # Two scrapes of each target at least, with the load's events in them.
        wait_for("two scrapes of both services", lambda: len([
            sample for sample in query("count_over_time(up[1m]) >= 2")
        ]) == 2 and query('sum(reservation_consumer_events_total{outcome="applied"}) > 2'))
        time.sleep(3)

        failures = []
        for dashboard, title, expression in panel_queries():
            result = query(expression)
            print(f"{'ok  ' if result else 'NONE'} {dashboard} / {title}: {len(result)} series")
            if not result:
                failures.append(f"{title}: {expression}")
        if failures:
            raise SystemExit("panel queries without data:\n  " + "\n  ".join(failures))
        print("every panel query returned data")
    finally:
        stop.set()
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
