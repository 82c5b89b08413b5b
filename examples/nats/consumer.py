#!/usr/bin/python3
"""One lease table for a whole fleet of Kea servers, kept from the JetStream stream that
examples/nats/worker.py fills.

It reads the stream through a durable pull consumer (it resumes where it left off after a
restart) and applies each event, per server (KEA_SERVER_NAME) and family:

- KEA_LEASE_EVENT add, renew, old: the lease is in the table (an upsert); del: it is not;
  offer: nothing (only offered).
- A replay (lease4_replay, lease6_replay): at its `begin` the server's leases are marked unseen;
  each replayed lease and each live add/renew meanwhile marks one seen (the library never sends a
  lease's `old` after a live event of it, so a live event during a replay is newer than the
  replayed copy and must count as a mark: docs/lease-state.md); at `end` the leases still unseen
  are swept: that server no longer holds them.
- Each event is applied once: KEA_EVENT_ID is `<server>:<load id>:<sequence>`, the sequence
  counting one script's events since the library loaded. Per stream of events
  (`<server>:<load id>`) the consumer keeps the highest sequence applied and the sequences below
  it it never got: a sequence already applied is a duplicate (skipped, counted), a sequence above
  the next one opens a gap (recorded: that server's script missed events, e.g. a queue overflow;
  a replay puts the state right again), a missing one that arrives late fills its gap.

After each batch it writes its state to NATS_TABLE (a JSON file, replaced atomically by a rename),
then acknowledges the batch: a crash in between redelivers the batch, which the sequence check
skips. At start it reads that file back. The file:
  {"stream_seq": last stream sequence applied, "events": messages read, "duplicates": n,
   "streams": {"<server>:<load id>": highest sequence}, "gaps": {"<server>:<load id>": [missing]},
   "leases": {"<server>/4": {"192.0.2.100": {"hwaddr": ..., "subnet_id": ...}}, "<server>/6": {...}},
   "replays": {"<server>/4": number of replays ended}}

Environment: NATS_URL, NATS_STREAM, NATS_SUBJECT_PREFIX, NATS_PY_PATH as for worker.py;
NATS_DURABLE (default fleet-leases), NATS_TABLE (default ./fleet-leases.json).
"""
import asyncio
import json
import os
import signal
import sys

sys.path.insert(0, os.environ.get("NATS_PY_PATH", "/var/cache/kea-runscript/python"))
import nats  # noqa: E402
import nats.errors  # noqa: E402
import nats.js.errors  # noqa: E402

URLS = [u.strip() for u in os.environ.get("NATS_URL", "nats://127.0.0.1:4222").split(",") if u.strip()]
STREAM = os.environ.get("NATS_STREAM", "KEA_LEASES")
PREFIX = os.environ.get("NATS_SUBJECT_PREFIX", "kea")
DURABLE = os.environ.get("NATS_DURABLE", "fleet-leases")
TABLE = os.environ.get("NATS_TABLE", "fleet-leases.json")
BATCH = 256


def log(msg):
    print(f"nats consumer: {msg}", file=sys.stderr, flush=True)


class Fleet:
    def __init__(self, state):
        self.stream_seq = state.get("stream_seq", 0)
        self.events = state.get("events", 0)
        self.duplicates = state.get("duplicates", 0)
        self.streams = state.get("streams", {})
        self.gaps = {k: set(v) for k, v in state.get("gaps", {}).items()}
        self.leases = state.get("leases", {})
        self.replays = state.get("replays", {})
        # Marks of the replays running now; a restart of the consumer during a replay loses them
        # and that replay's `end` then sweeps nothing (what a later replay corrects).
        self.marks = {}

    def state(self):
        return {
            "stream_seq": self.stream_seq,
            "events": self.events,
            "duplicates": self.duplicates,
            "streams": self.streams,
            "gaps": {k: sorted(v) for k, v in self.gaps.items() if v},
            "leases": self.leases,
            "replays": self.replays,
        }

    def first_time(self, event_id):
        """Whether the event of this id has not been applied yet; records gaps."""
        if not event_id:
            return True  # a library without event ids: nothing to deduplicate by
        stream, _, seq = event_id.rpartition(":")
        try:
            seq = int(seq)
        except ValueError:
            return True
        last = self.streams.get(stream, 0)
        if seq == last + 1:
            self.streams[stream] = seq
            return True
        if seq > last + 1:
            self.gaps.setdefault(stream, set()).update(range(last + 1, seq))
            log(f"gap in {stream}: events {last + 1}..{seq - 1} missing")
            self.streams[stream] = seq
            return True
        missing = self.gaps.get(stream, set())
        if seq in missing:
            missing.discard(seq)
            return True
        return False

    def apply(self, subject, event):
        hook = event.get("hook", "")
        server = event.get("KEA_SERVER_NAME") or subject.split(".")[1]
        family = "6" if "6" in hook else "4"
        key = f"{server}/{family}"
        table = self.leases.setdefault(key, {})
        phase = event.get("KEA_REPLAY_PHASE")
        if phase == "begin":
            self.marks[key] = set()
            return
        if phase == "end":
            marks = self.marks.pop(key, None)
            if marks is not None:
                for address in [a for a in table if a not in marks]:
                    del table[address]
            self.replays[key] = self.replays.get(key, 0) + 1
            return
        what = event.get("KEA_LEASE_EVENT")
        address = event.get(f"KEA_LEASE{family}_ADDRESS")
        if not what or not address:
            return
        if what in ("add", "renew", "old"):
            if family == "4":
                lease = {"hwaddr": event.get("KEA_LEASE4_HWADDR", ""), "subnet_id": event.get("KEA_LEASE4_SUBNET_ID", "")}
            else:
                lease = {"type": event.get("KEA_LEASE6_TYPE", ""), "duid": event.get("KEA_LEASE6_CLIENT_DUID", ""),
                         "iaid": event.get("KEA_LEASE6_IAID", ""), "subnet_id": event.get("KEA_LEASE6_SUBNET_ID", "")}
            table[address] = lease
            if key in self.marks:
                self.marks[key].add(address)
        elif what == "del":
            table.pop(address, None)


def load_state():
    try:
        with open(TABLE) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def write_state(fleet):
    tmp = f"{TABLE}.tmp"
    with open(tmp, "w") as f:
        json.dump(fleet.state(), f, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, TABLE)


async def quiet(_error):
    pass


async def subscribe():
    while True:
        try:
            nc = await nats.connect(servers=URLS, connect_timeout=2, reconnect_time_wait=0.5,
                                    max_reconnect_attempts=-1, ping_interval=1, max_outstanding_pings=3,
                                    error_cb=quiet)
            js = nc.jetstream()
            sub = await js.pull_subscribe(f"{PREFIX}.>", durable=DURABLE, stream=STREAM)
            return nc, sub
        except Exception as e:  # noqa: BLE001 (no broker or no stream yet: try again)
            log(f"cannot subscribe to {STREAM} ({e!r}); trying again")
            await asyncio.sleep(0.5)


async def main():
    fleet = Fleet(load_state())
    write_state(fleet)  # the file exists once the consumer runs
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    nc, sub = await subscribe()
    while not stop.is_set():
        try:
            msgs = await sub.fetch(BATCH, timeout=0.5)
        except (asyncio.TimeoutError, nats.errors.TimeoutError):
            continue
        except (nats.errors.Error, nats.js.errors.Error, OSError) as e:
            log(f"fetch failed ({e!r}); trying again")
            await asyncio.sleep(0.2)
            continue
        for msg in msgs:
            fleet.events += 1
            fleet.stream_seq = max(fleet.stream_seq, msg.metadata.sequence.stream)
            try:
                event = json.loads(msg.data)
            except ValueError:
                log(f"not JSON at stream sequence {msg.metadata.sequence.stream}")
                continue
            if fleet.first_time(event.get("KEA_EVENT_ID")):
                fleet.apply(msg.subject, event)
            else:
                fleet.duplicates += 1
        write_state(fleet)
        for msg in msgs:
            await msg.ack()
    await nc.drain()


if __name__ == "__main__":
    asyncio.run(main())
