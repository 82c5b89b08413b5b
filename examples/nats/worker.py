#!/usr/bin/python3
"""kea-runscript worker: every event into a NATS JetStream stream, acknowledged before Kea goes on.

Kea's hook starts it as `worker.py worker wait` ("mode": "worker", "wait": true) and writes each
event to its stdin as one line of JSON. For each line, in order, the worker publishes the line's
bytes, unchanged, to JetStream on the subject `<prefix>.<server>.<hook>` (KEA_SERVER_NAME and the
hook point, each made a valid subject token) with the header `Nats-Msg-Id: <KEA_EVENT_ID>`, waits
for the broker's PubAck (the stream has stored it, on a quorum of its replicas) and only then
answers `continue`. So when Kea's callout returns, the event is in the stream: at least once,
and exactly once there, because the stream drops a second message with the same id within its
duplicate window (a retry, an event Kea sent again after a restart of this worker).

When the broker cannot be reached, the worker keeps trying that one publish (each try bounded by
NATS_PUBLISH_TIMEOUT) and answers nothing meanwhile: the hook's `timeout-ms` lets Kea go on, and
with "redeliver": true the hook sends the events it could not wait for again once this worker
answers. It never answers `skip` or `drop`: the broker being away never changes what Kea does.

Environment (the hook's "extra-env"):
  NATS_URL             comma-separated server URLs (nats://198.51.100.1:4222,...); default nats://127.0.0.1:4222
  NATS_STREAM          stream name; default KEA_LEASES
  NATS_SUBJECT_PREFIX  first subject token; default kea
  NATS_CREATE_STREAM   "1": create the stream at start when it does not exist (subjects <prefix>.>,
                       file storage, NATS_REPLICAS replicas, NATS_DUPLICATE_WINDOW seconds)
  NATS_REPLICAS        default 3; NATS_DUPLICATE_WINDOW default 600
  NATS_PUBLISH_TIMEOUT seconds one publish try waits for its PubAck; default 1
  NATS_PY_PATH         where nats-py is installed (scripts/install-nats-py.sh); default
                       /var/cache/kea-runscript/python, then the interpreter's own path
"""
import asyncio
import json
import os
import re
import socket
import sys

sys.path.insert(0, os.environ.get("NATS_PY_PATH", "/var/cache/kea-runscript/python"))
import nats  # noqa: E402  (after the path: nats-py lives in its own directory)
import nats.errors  # noqa: E402
import nats.js.errors  # noqa: E402

URLS = [u.strip() for u in os.environ.get("NATS_URL", "nats://127.0.0.1:4222").split(",") if u.strip()]
STREAM = os.environ.get("NATS_STREAM", "KEA_LEASES")
PREFIX = os.environ.get("NATS_SUBJECT_PREFIX", "kea")
CREATE = os.environ.get("NATS_CREATE_STREAM") == "1"
REPLICAS = int(os.environ.get("NATS_REPLICAS", "3"))
DUPLICATE_WINDOW = float(os.environ.get("NATS_DUPLICATE_WINDOW", "600"))
PUBLISH_TIMEOUT = float(os.environ.get("NATS_PUBLISH_TIMEOUT", "1"))
WAIT = sys.argv[1:] == ["worker", "wait"]
HOST = socket.gethostname()

# What a subject token may not hold: '.', the wildcards '*' and '>', and white space.
BAD_TOKEN = re.compile(r"[^A-Za-z0-9_-]")


def token(s):
    return BAD_TOKEN.sub("_", s) or "_"


def log(msg):
    # stderr goes to Kea's log (KRS_SCRIPT_STDERR), at most 200 lines a second.
    print(f"nats worker: {msg}", file=sys.stderr, flush=True)


async def quiet(_error):
    pass


async def connect():
    """Connects, trying again until a server answers (the first connect is not retried by
    nats-py itself); afterwards nats-py reconnects by itself, for ever."""
    logged = False
    while True:
        try:
            return await nats.connect(
                servers=URLS,
                name=f"kea-runscript {HOST}",
                connect_timeout=2,
                reconnect_time_wait=0.5,
                max_reconnect_attempts=-1,
                # A broker that vanished (link down, no RST) is noticed within ~3 s, not 2 min.
                ping_interval=1,
                max_outstanding_pings=3,
                error_cb=quiet,  # nats-py's default logs every failed reconnect
            )
        except Exception as e:  # noqa: BLE001 (any failure: try again)
            if not logged:
                log(f"cannot reach {','.join(URLS)} ({e!r}); trying again")
                logged = True
            await asyncio.sleep(0.5)


async def ensure_stream(js):
    try:
        await js.stream_info(STREAM)
        return
    except nats.js.errors.NotFoundError:
        pass
    await js.add_stream(
        name=STREAM,
        subjects=[f"{PREFIX}.>"],
        num_replicas=REPLICAS,
        duplicate_window=DUPLICATE_WINDOW,
        storage="file",
    )
    log(f"created stream {STREAM} ({REPLICAS} replicas, duplicate window {DUPLICATE_WINDOW:g} s)")


async def publish(js, subject, payload, headers):
    """Publishes until the stream acknowledges it: the same message id each try, so a try whose
    PubAck was lost and its retry are stored once."""
    failures = 0
    while True:
        try:
            return await js.publish(subject, payload, timeout=PUBLISH_TIMEOUT, headers=headers)
        except (asyncio.TimeoutError, nats.errors.Error, nats.js.errors.Error, OSError) as e:
            if CREATE and isinstance(e, nats.js.errors.NoStreamResponseError):
                # No stream takes the subject: create it (once the cluster can).
                try:
                    await ensure_stream(js)
                except Exception as e2:  # noqa: BLE001 (no JetStream quorum yet)
                    e = e2
            failures += 1
            if failures in (1, 10) or failures % 100 == 0:
                log(f"publish to {subject} failed {failures} time(s) ({e!r}); trying again")
            await asyncio.sleep(min(0.05 * failures, 0.5))


async def main():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)  # a line is one event, however many options
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    nc = await connect()
    js = nc.jetstream(timeout=PUBLISH_TIMEOUT)
    if CREATE:
        try:
            await ensure_stream(js)
        except Exception as e:  # noqa: BLE001 (no JetStream quorum now: publish() tries again)
            log(f"stream {STREAM} not checked ({e!r}); publishing")
    out = sys.stdout.buffer
    while True:
        line = await reader.readline()
        if not line:
            break  # end of file: Kea unloads the hook
        line = line.rstrip(b"\n")
        try:
            event = json.loads(line)
        except ValueError:
            event = {}
        server = event.get("KEA_SERVER_NAME") or HOST
        subject = f"{PREFIX}.{token(server)}.{token(event.get('hook', 'unknown'))}"
        event_id = event.get("KEA_EVENT_ID")
        headers = {"Nats-Msg-Id": event_id} if event_id else None
        await publish(js, subject, line, headers)
        if WAIT:
            out.write(b"continue\n")
            out.flush()
    await nc.drain()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
