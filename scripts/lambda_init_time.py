#!/usr/bin/env python3
"""Lambda init time of release bootstraps against a local Runtime API emulator (loopback).

    python3 scripts/lambda_init_time.py [--runs N] FUNCTION LABEL=BOOTSTRAP [LABEL=BOOTSTRAP ...]

The emulator speaks the documented Lambda Runtime API
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) as far as init goes: it
records the instant of the first `GET /2018-06-01/runtime/invocation/next` and then holds that
request (no invocation is ever sent); `POST /2018-06-01/runtime/init/error` marks the start as
failed. Each start is timed from just before the process is spawned to that first `next`; the
process is then stopped by its PID. The labels' starts are interleaved (a, b, a, b, ...) so a
change in machine load weighs on every label alike.

Prints one line per label: `FUNCTION LABEL MEDIAN_MS MIN_MS MAX_MS` (milliseconds). Exits 1
when a start fails (init error, exit, or no `next` within 20 s), with the process's stderr.
"""

import argparse
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

NEXT = "/2018-06-01/runtime/invocation/next"
INIT_ERROR = "/2018-06-01/runtime/init/error"
START_TIMEOUT_S = 20.0
HOLD_TIMEOUT_S = 60.0


class Start:
    """What the emulator saw of one process start."""

    def __init__(self):
        self.next_at = None
        self.init_error = None
        self.seen = threading.Event()
        self.released = threading.Event()


class Emulator(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.current = Start()

    def begin(self):
        """A fresh record for the next process start."""
        with self.lock:
            self.current.released.set()
            self.current = Start()
            return self.current


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args):
        pass

    def do_GET(self):
        now = time.perf_counter_ns()
        if self.path != NEXT:
            self.send_error(404)
            return
        with self.server.lock:
            start = self.server.current
            if start.next_at is None:
                start.next_at = now
        start.seen.set()
        # Hold the request: the function waits for an invocation until it is stopped.
        start.released.wait(HOLD_TIMEOUT_S)
        self.close_connection = True

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        if self.path == INIT_ERROR:
            with self.server.lock:
                start = self.server.current
                start.init_error = body
            start.seen.set()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def function_env(function, port):
    """The environment the Lambda service and the template give the function, with every AWS
    endpoint on loopback (none is called before the first `next`)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": f"ny-power-bench-{function}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/ny-power-bench-{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        # Never contacted during init; a closed loopback port if it ever were.
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "TOPIC_ROOT": "bench/ny-power",
        "RUST_LOG": "info",
    }
    if function == "pump":
        env["NYISO_BASE_URL"] = "http://127.0.0.1:9"
    elif function == "co2":
        env["FACTORS"] = "direct"
    elif function == "archive":
        env.update(
            ARCHIVE_BACKEND="timestream",
            TIMESTREAM_DATABASE="nypower",
            TIMESTREAM_TABLE="readings",
        )
    return env


def one_start(server, bootstrap, env):
    """Milliseconds from spawn to the first `next`."""
    start = server.begin()
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter_ns()
        proc = subprocess.Popen(
            [bootstrap], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not start.seen.wait(0.05):
                if proc.poll() is not None or time.monotonic() > deadline:
                    break
        finally:
            proc.kill()  # by PID: the process this call started
            proc.wait()
            start.released.set()
        if start.next_at is None or start.init_error is not None:
            err.seek(0)
            sys.stderr.write(
                f"{bootstrap}: no first `next` (exit {proc.returncode}, "
                f"init error {start.init_error!r}):\n"
                f"{err.read().decode('utf-8', 'replace')[-4000:]}\n"
            )
            return None
        return (start.next_at - t0) / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("function", choices=["pump", "co2", "archive"])
    ap.add_argument("bootstraps", nargs="+", metavar="LABEL=BOOTSTRAP")
    args = ap.parse_args()
    labelled = [b.split("=", 1) for b in args.bootstraps]
    server = Emulator()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = function_env(args.function, server.server_address[1])
    times = {label: [] for label, _ in labelled}
    try:
        for _ in range(args.runs):
            for label, bootstrap in labelled:
                ms = one_start(server, bootstrap, env)
                if ms is None:
                    return 1
                times[label].append(ms)
    finally:
        server.begin()
        server.shutdown()
    for label, _ in labelled:
        t = times[label]
        print(f"{args.function} {label} {statistics.median(t):.2f} {min(t):.2f} {max(t):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
