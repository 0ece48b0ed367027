#!/usr/bin/env python3
"""Cold-start timing of keytrail's Lambda binaries, locally (Python 3 stdlib only).

    scripts/coldstart.py [--runs N] [--bin-dir DIR] [--functions a,b,c] [--moto PATH]
                         [--moto-clock] [--env K=V]... [--wrap CMD] [-v]

For each function, N times, in a fresh process each time:

  1. a minimal Lambda Runtime API emulator (this script) queues one invocation, with
     the event from events/ and the headers Lambda sends;
  2. the release binary is spawned as Lambda would: AWS_LAMBDA_RUNTIME_API pointing at
     the emulator, the AWS_LAMBDA_* variables, the region and credentials in the
     environment (Lambda puts the execution role's there), the function's KEYTRAIL_*
     variables as template.yaml sets them, and AWS_ENDPOINT_URL pointing at a
     moto_server this script starts and seeds with what the event needs;
  3. the time is taken from just before the spawn to the moment the binary POSTs the
     invocation's response (or error), and the process is killed.

Printed per function: min / median / max of that total, of "init" (spawn to the first
GET .../invocation/next: runtime start, configuration, SDK config and clients built)
and of "invoke" (next to response: the handler, including its calls to moto), and how
many invocations succeeded. "moto round trip" is the median time of a small GetObject
from this script to the same moto_server: moto is a Python server and much slower per
call than its share of a real AWS call. With --moto-clock the SDK reaches moto
through a relay in this script that records when each call was open, and two more
columns split the total into "moto" (time with at least one call open) and
"total-moto" (the binary's own time; the relay's latency is counted as moto's).

The child gets a clean environment (no proxy, SSL_CERT_* or HOME), as in Lambda.
Exit status: 0 when every invocation succeeded, 1 otherwise.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "111122223333"
REGION = "us-east-1"
LOG_BUCKET = "keytrail-test-trail"
OUT_BUCKET = "keytrail-coldstart-out"
FUNCTIONS = ("log-processor", "alarm-enricher", "monthly-review")
MEMORY = {"log-processor": "256", "alarm-enricher": "512", "monthly-review": "1024"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------
# moto_server


class Moto:
    """moto_server on a free loopback port; requests signed with a fake SigV4 header
    so that moto routes them to the right service (it does not check signatures)."""

    def __init__(self, binary: str):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, MOTO_ACCOUNT_ID=ACCOUNT)
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [binary, "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit(f"coldstart: {binary} exited with {self.proc.returncode} before listening")
                if time.monotonic() > deadline:
                    raise SystemExit(f"coldstart: {binary} did not listen within 60 s")
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def request(self, method: str, path: str, body: bytes = b"", service: str = "s3", headers=None) -> bytes:
        auth = (
            f"AWS4-HMAC-SHA256 Credential=test/20260101/{REGION}/{service}/aws4_request, "
            "SignedHeaders=host, Signature=0"
        )
        h = {"Authorization": auth, "X-Amz-Date": "20260101T000000Z"}
        h.update(headers or {})
        req = urllib.request.Request(self.endpoint + path, data=body if method != "GET" else None, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            raise SystemExit(f"coldstart: moto {method} {path} ({service}): HTTP {e.code} {e.read()[:300]!r}") from e

    def query(self, service: str, params: dict) -> bytes:
        body = urllib.parse.urlencode(params).encode()
        return self.request(
            "POST", "/", body, service, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        )

    def create_bucket(self, name: str) -> None:
        self.request("PUT", f"/{name}")

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        # An explicit type: urllib's default (form-urlencoded) makes moto parse the
        # body as a form and store an empty object.
        self.request("PUT", f"/{bucket}/{urllib.parse.quote(key)}", body, headers={"Content-Type": "application/octet-stream"})

    def create_topic(self, name: str) -> str:
        xml = self.query("sns", {"Action": "CreateTopic", "Name": name, "Version": "2010-03-31"}).decode()
        m = re.search(r"<TopicArn>([^<]+)</TopicArn>", xml)
        if not m:
            raise SystemExit(f"coldstart: CreateTopic: no TopicArn in {xml[:300]!r}")
        return m.group(1)

    def rtt_ms(self, bucket: str, key: str, n: int = 20) -> float:
        path = f"/{bucket}/{urllib.parse.quote(key)}"
        times = []
        for _ in range(n):
            t = time.perf_counter()
            self.request("GET", path)
            times.append((time.perf_counter() - t) * 1000)
        return statistics.median(times)


# ---------------------------------------------------------------------------
# Lambda Runtime API emulator


class Invocation:
    """One queued invocation and what happened to it."""

    def __init__(self, event: bytes, function: str):
        self.request_id = str(uuid.uuid4())
        self.event = event
        self.function = function
        self.delivered = False
        self.t_next: float | None = None
        self.t_done: float | None = None
        self.ok: bool | None = None
        self.body = b""
        self.init_error = b""
        self.done = threading.Event()


class RuntimeApi(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), RuntimeHandler)
        self.current: Invocation | None = None
        self.lock = threading.Lock()
        self.shutting_down = threading.Event()

    def handle_error(self, request, client_address):
        # The killed process resets its long-poll connection: expected, not an error.
        pass

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class RuntimeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RuntimeApi

    def log_message(self, fmt, *args):  # quiet
        pass

    def reply(self, status: int, body: bytes = b"", headers=None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            return self.rfile.read(n)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def do_GET(self):
        if self.path != "/2018-06-01/runtime/invocation/next":
            return self.reply(404, b'{"errorMessage":"unknown path"}')
        now = time.perf_counter()
        with self.server.lock:
            inv = self.server.current
            give = inv is not None and not inv.delivered
            if give:
                inv.delivered = True
                inv.t_next = now
        if not give:
            # No further invocation: hold the long poll until the process is killed.
            self.server.shutting_down.wait(60)
            self.close_connection = True
            return
        deadline_ms = int((time.time() + 60) * 1000)
        self.reply(
            200,
            inv.event,
            {
                "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:keytrail-{inv.function}",
                "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0",
            },
        )

    def do_POST(self):
        body = self.read_body()
        now = time.perf_counter()
        inv = self.server.current
        m = re.fullmatch(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)", self.path)
        if m and inv is not None and m.group(1) == inv.request_id:
            inv.t_done = now
            inv.ok = m.group(2) == "response"
            inv.body = body
            self.reply(202, b'{"status":"OK"}')
            inv.done.set()
            return
        if self.path == "/2018-06-01/runtime/init/error" and inv is not None:
            inv.t_done = now
            inv.ok = False
            inv.init_error = body
            self.reply(202, b'{"status":"OK"}')
            inv.done.set()
            return
        self.reply(400, b'{"errorMessage":"unknown invocation"}')


# ---------------------------------------------------------------------------
# Functions


def read_event(rel: str) -> bytes:
    return (ROOT / "events" / rel).read_bytes()


class Setup:
    """What each function needs in moto and in its environment."""

    def __init__(self, moto: Moto):
        self.moto = moto
        moto.create_bucket(LOG_BUCKET)
        moto.create_bucket(OUT_BUCKET)
        self.uploaded_tree = False
        self.topic = moto.create_topic("keytrail-coldstart")
        s3put = json.loads(read_event("s3-put.json"))
        self.sample_key = urllib.parse.unquote_plus(s3put["Records"][0]["s3"]["object"]["key"])
        moto.put_object(LOG_BUCKET, self.sample_key, (ROOT / "events/logs" / self.sample_key).read_bytes())

    def upload_tree(self) -> None:
        if self.uploaded_tree:
            return
        root = ROOT / "events/logs"
        for path in sorted(root.rglob("*")):
            if path.is_file():
                self.moto.put_object(LOG_BUCKET, path.relative_to(root).as_posix(), path.read_bytes())
        self.uploaded_tree = True

    def prepare(self, function: str, run: int) -> tuple[bytes, dict]:
        """The event and the KEYTRAIL_* variables for one run. Every run writes its
        markers, summaries and reports to a fresh bucket, so each one does the full
        work (no "already processed")."""
        fresh = f"keytrail-coldstart-{function}-{run}"
        self.moto.create_bucket(fresh)
        if function == "log-processor":
            return read_event("s3-put.json"), {
                "KEYTRAIL_METRIC_NAMESPACE": "KMSAudit",
                "KEYTRAIL_SUMMARY_BUCKET": fresh,
                "KEYTRAIL_PER_KEY_METRICS": "false",
                "KEYTRAIL_CLAIM_LEASE_SECONDS": "900",
                # The sample logs are from 2026-10: publish their metrics whatever
                # today's date is (template.yaml: 336), so PutMetricData is timed too.
                "KEYTRAIL_MAX_METRIC_AGE_HOURS": "876000",
                "KEYTRAIL_BASELINE_TTL_SECONDS": "3600",
            }
        if function == "alarm-enricher":
            self.upload_tree()
            return read_event("alarms/sns-decrypt-failures.json"), {
                "KEYTRAIL_LOG_BUCKET": LOG_BUCKET,
                "KEYTRAIL_LOG_PREFIX": "",
                "KEYTRAIL_ACCOUNTS": "",
                "KEYTRAIL_REGIONS": "",
                "KEYTRAIL_ALERT_TOPIC_ARN": self.topic,
                "KEYTRAIL_INVESTIGATION_BUCKET": fresh,
                "KEYTRAIL_SUMMARY_BUCKET": fresh,
                "KEYTRAIL_DELIVERY_LAG_MINUTES": "15",
                "KEYTRAIL_GATHER_CONCURRENCY": "8",
                "KEYTRAIL_NOTIFY_STATES": "ALARM",
                "KEYTRAIL_METRIC_NAMESPACE": "KMSAudit",
            }
        if function == "monthly-review":
            self.upload_tree()
            return json.dumps({"detail": {"month": "2026-10"}}).encode(), {
                "KEYTRAIL_LOG_BUCKET": LOG_BUCKET,
                "KEYTRAIL_LOG_PREFIX": "",
                "KEYTRAIL_ACCOUNTS": "",
                "KEYTRAIL_REGIONS": "",
                "KEYTRAIL_SUMMARY_BUCKET": fresh,
                "KEYTRAIL_REPORT_BUCKET": fresh,
                "KEYTRAIL_REVIEW_TOPIC_ARN": self.topic,
                "KEYTRAIL_UNUSED_DAYS": "90",
                "KEYTRAIL_REQUIRED_TAGS": "purpose,owner,classification",
            }
        raise SystemExit(f"coldstart: unknown function {function}")


def lambda_env(function: str, api: RuntimeApi, endpoint: str, extra: dict) -> dict:
    """The environment Lambda gives a provided.al2023 function (what matters here)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "_HANDLER": "bootstrap",
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": f"keytrail-{function}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": MEMORY[function],
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/keytrail-{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"2026/11/23/[$LATEST]{uuid.uuid4().hex}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        # template.yaml: LoggingConfig LogFormat JSON, ApplicationLogLevel INFO.
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        # Lambda puts the execution role's temporary credentials here.
        "AWS_ACCESS_KEY_ID": "ASIACOLDSTARTTEST",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": "test",
        "AWS_ENDPOINT_URL": endpoint,
    }
    env.update(extra)
    return env


class MotoClock:
    """A TCP relay in front of moto that records when each connection to it was open,
    so that the time the handler spent waiting for moto can be told apart from its
    own. (The SDK opens a connection per call: moto closes them.) Overlapping calls
    count once: the union of the intervals is taken."""

    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.endpoint = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.lock = threading.Lock()
        self.intervals: list[tuple[float, float]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.intervals = []

    def busy_ms(self, until: float) -> tuple[float, int]:
        """Milliseconds during which at least one call was open, up to `until`, and
        the number of calls."""
        with self.lock:
            spans = sorted((a, min(b, until)) for a, b in self.intervals if a < until)
        total, end = 0.0, None
        for a, b in spans:
            if end is None or a > end:
                total += b - a
                end = b
            elif b > end:
                total += b - end
                end = b
        return total * 1000, len(spans)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        start = time.perf_counter()
        try:
            upstream = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return

        def pump(src, dst):
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        up = threading.Thread(target=pump, args=(client, upstream), daemon=True)
        up.start()
        pump(upstream, client)  # until moto has sent the whole response
        end = time.perf_counter()
        with self.lock:
            self.intervals.append((start, end))
        up.join(1)
        client.close()
        upstream.close()


def run_once(binary: Path, function: str, api: RuntimeApi, endpoint: str, setup: Setup, run: int, args, clock):
    event, extra = setup.prepare(function, run)
    inv = Invocation(event, function)
    api.current = inv
    env = lambda_env(function, api, endpoint, extra)
    env.update(kv.split("=", 1) for kv in args.env)
    if clock:
        clock.reset()
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [*args.wrap.split(), str(binary)], env=env, stdout=log, stderr=subprocess.STDOUT, cwd="/"
        )
        finished = inv.done.wait(args.timeout)
        proc.kill()
        proc.wait()
        log.seek(0)
        output = log.read().decode(errors="replace")
    api.current = None
    out = {"ok": bool(finished and inv.ok), "total": None, "init": None, "invoke": None, "moto": None, "calls": None}
    if not finished:
        out["detail"] = f"no response within {args.timeout} s; process output:\n{output[-3000:]}"
        return out
    out["total"] = (inv.t_done - t0) * 1000
    if inv.t_next is not None:
        out["init"] = (inv.t_next - t0) * 1000
        out["invoke"] = out["total"] - out["init"]
    if clock:
        out["moto"], out["calls"] = clock.busy_ms(inv.t_done)
        if args.verbose and inv.t_next is not None:
            with clock.lock:
                spans = sorted(clock.intervals)
            marks = " ".join(f"[{(a - inv.t_next) * 1000:.1f},{(b - inv.t_next) * 1000:.1f}]" for a, b in spans)
            print(f"  moto calls (ms after the event was handed over): {marks}; response at "
                  f"{(inv.t_done - inv.t_next) * 1000:.1f}", file=sys.stderr)
    out["detail"] = (inv.body or inv.init_error).decode(errors="replace")
    if not inv.ok:
        out["detail"] += "\nprocess output:\n" + output[-3000:]
    return out


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"{min(values):6.1f} {statistics.median(values):6.1f} {max(values):6.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", "-n", type=int, default=10, help="fresh processes per function (default 10)")
    ap.add_argument(
        "--bin-dir", default=str(ROOT / "target/release"), help="where the binaries are (default target/release)"
    )
    ap.add_argument("--functions", default=",".join(FUNCTIONS), help="comma-separated (default: all three)")
    ap.add_argument(
        "--moto", default=os.environ.get("KEYTRAIL_MOTO_SERVER") or shutil.which("moto_server") or "moto_server"
    )
    ap.add_argument("--timeout", type=float, default=120, help="seconds to wait for one response")
    ap.add_argument("--target-ms", type=float, default=30, help="the cold-start target (default 30)")
    ap.add_argument(
        "--moto-clock",
        action="store_true",
        help="relay moto through this script and also report the time spent waiting for moto "
        "and the rest (adds the relay's own latency to every call)",
    )
    ap.add_argument(
        "--env", action="append", default=[], metavar="K=V", help="extra environment for the function (repeatable)"
    )
    ap.add_argument("--verbose", "-v", action="store_true", help="print each run and the first response")
    ap.add_argument(
        "--wrap", default="", help="prefix command for diagnosis, e.g. 'strace -f -tt -o /tmp/t' (skews the times)"
    )
    args = ap.parse_args()

    functions = [f.strip() for f in args.functions.split(",") if f.strip()]
    binaries = {}
    for f in functions:
        b = Path(args.bin_dir) / f
        if not b.is_file():
            raise SystemExit(
                f"coldstart: {b} not found; build it with scripts/coldstart.sh (or cargo build --release -p {f})"
            )
        binaries[f] = b

    moto = Moto(args.moto)
    api = RuntimeApi()
    threading.Thread(target=api.serve_forever, daemon=True).start()
    clock = MotoClock(moto.port) if args.moto_clock else None
    endpoint = clock.endpoint if clock else moto.endpoint
    failures = 0
    try:
        setup = Setup(moto)
        rtt = moto.rtt_ms(LOG_BUCKET, setup.sample_key)
        rows = []
        for f in functions:
            runs = []
            for i in range(args.runs):
                r = run_once(binaries[f], f, api, endpoint, setup, i, args, clock)
                runs.append(r)
                if args.verbose:
                    t = f"{r['total']:.1f} ms" if r["total"] is not None else "timeout"
                    extra = f", moto {r['moto']:.1f} ms in {r['calls']} calls" if r["moto"] is not None else ""
                    print(f"  {f} run {i + 1}: {t}{extra} ({'ok' if r['ok'] else 'FAILED'})", file=sys.stderr)
                if not r["ok"]:
                    print(f"coldstart: {f} run {i + 1} failed: {r['detail'][:3000]}", file=sys.stderr)
            ok = sum(r["ok"] for r in runs)
            failures += args.runs - ok
            if args.verbose:
                print(f"  {f} first response: {runs[0]['detail'][:1500]}", file=sys.stderr)
            col = lambda k: [r[k] for r in runs]  # noqa: E731
            own = [t - m if t is not None and m is not None else None for t, m in zip(col("total"), col("moto"))]
            totals = [t for t in col("total") if t is not None]
            med = statistics.median(totals) if totals else None
            if med is None or ok < args.runs:
                verdict = "- (failures)"
            else:
                verdict = "yes" if med <= args.target_ms else "NO"
            rows.append(
                (f, stats(col("total")), stats(col("init")), stats(col("invoke")), stats(col("moto")), stats(own),
                 f"{ok}/{args.runs}", verdict)
            )
        print(f"Cold start to the first response: {args.runs} fresh processes per function; ms as min median max")
        print(f"moto round trip (median small GetObject from this script): {rtt:.1f} ms")
        cols = ["total", "init", "invoke"] + (["moto", "total-moto"] if clock else [])
        print(f"{'function':<16} {'MB':>5} " + " ".join(f"{c:^20}" for c in cols) + f" {'ok':>5}  median<={args.target_ms:g}")
        for f, tot, ini, invk, mt, own, ok, verdict in rows:
            vals = [tot, ini, invk] + ([mt, own] if clock else [])
            size = binaries[f].stat().st_size / 1e6
            print(f"{f:<16} {size:5.2f} " + " ".join(f"{v:>20}" for v in vals) + f" {ok:>5}  {verdict}")
    finally:
        api.shutting_down.set()
        api.shutdown()
        moto.stop()
    return 0 if failures == 0 else 1

if __name__ == "__main__":
    sys.exit(main())
