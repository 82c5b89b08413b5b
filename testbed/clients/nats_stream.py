#!/usr/bin/python3
"""The testbed's JetStream tool (nats-py; Debian has no `nats` command line tool): creates a
stream, waits for its replicas, reads it back. Run inside the broker's namespace by
testbed/src/nats.rs.

  nats_stream.py URLS create NAME SUBJECTS REPLICAS DUPLICATE_WINDOW_S
      creates the stream (or checks it exists), then waits until every replica is current;
      prints its info as JSON. Exits 1 if not done within 60 s.
  nats_stream.py URLS info NAME      prints {"messages", "first_seq", "last_seq", "leader", "replicas"}
  nats_stream.py URLS dump NAME      prints one JSON line per stored message:
                                     {"seq", "subject", "msg_id", "data"} (data: the event, parsed)
"""
import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.environ.get("NATS_PY_PATH", "/var/cache/kea-runscript/python"))
import nats  # noqa: E402
import nats.js.errors  # noqa: E402


async def quiet(_e):
    pass


async def patiently(call, *args):
    """A JetStream API request, tried again for 30 s: after a node is killed, the stream (or the
    meta layer) has no leader until its replicas elect one, and requests time out meanwhile."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return await call(*args)
        except nats.js.errors.NotFoundError:
            raise
        except Exception:  # noqa: BLE001 (timeout, no responders: no leader yet)
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def info_json(si):
    cl = si.cluster
    return {
        "messages": si.state.messages,
        "first_seq": si.state.first_seq,
        "last_seq": si.state.last_seq,
        "leader": cl.leader if cl else None,
        "replicas": [{"name": r.name, "current": r.current} for r in (cl.replicas or [])] if cl else [],
    }


async def main(urls, cmd, name, *rest):
    nc = await nats.connect(servers=urls.split(","), connect_timeout=2, max_reconnect_attempts=-1,
                            reconnect_time_wait=0.2, error_cb=quiet)
    js = nc.jetstream(timeout=5)
    if cmd == "create":
        subjects, replicas, window = rest[0], int(rest[1]), float(rest[2])
        deadline = time.monotonic() + 60
        last = None
        while True:
            try:
                try:
                    si = await js.stream_info(name)
                except nats.js.errors.NotFoundError:
                    si = await js.add_stream(name=name, subjects=subjects.split(","), num_replicas=replicas,
                                             duplicate_window=window, storage="file")
                si = await js.stream_info(name)
                reps = si.cluster.replicas or [] if si.cluster else []
                # Ready: a leader and every other replica current (so a node killed next loses nothing).
                if si.cluster and si.cluster.leader and len(reps) == replicas - 1 and all(r.current for r in reps):
                    print(json.dumps(info_json(si)))
                    break
                last = info_json(si)
            except Exception as e:  # noqa: BLE001 (no meta leader yet: JetStream not ready)
                last = repr(e)
            if time.monotonic() > deadline:
                print(f"stream {name} not ready: {last}", file=sys.stderr)
                sys.exit(1)
            await asyncio.sleep(0.1)
    elif cmd == "info":
        print(json.dumps(info_json(await patiently(js.stream_info, name))))
    elif cmd == "dump":
        si = await patiently(js.stream_info, name)
        for seq in range(si.state.first_seq, si.state.last_seq + 1) if si.state.messages else ():
            try:
                m = await patiently(js.get_msg, name, seq)
            except nats.js.errors.NotFoundError:
                continue  # deleted
            hdrs = m.headers or {}
            print(json.dumps({"seq": m.seq, "subject": m.subject, "msg_id": hdrs.get("Nats-Msg-Id"),
                              "data": json.loads(m.data)}))
    else:
        sys.exit(f"unknown command {cmd}")
    await nc.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
