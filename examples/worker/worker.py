#!/usr/bin/python3
"""kea-runscript worker example: one process for all events ("mode": "worker").

Kea's hook starts it as `worker.py worker` (or `worker.py worker wait` with "wait": true) and
writes each event to its stdin as one line of JSON: {"hook": "lease4_select", "KEA_...": "...", ...}.
It logs the lease events, one line each, to the file named by $LEASE_LOG (set it with the hook's
"extra-env") or else to stderr, which the hook copies into Kea's log (KRS_SCRIPT_STDERR).
With "wait": true it must answer every line, in order, with one line: continue, skip or drop.
"""
import json
import os
import sys

wait = sys.argv[1:] == ["worker", "wait"]
log = open(os.environ["LEASE_LOG"], "a", buffering=1) if os.environ.get("LEASE_LOG") else sys.stderr

LEASE = {"lease4_select", "lease4_renew", "lease4_release", "lease4_expire",
         "lease6_select", "lease6_renew", "lease6_rebind", "lease6_release", "lease6_expire"}

while True:
    line = sys.stdin.readline()
    if not line:
        break  # end of file: Kea unloads the hook
    try:
        event = json.loads(line)
    except ValueError:
        event = {"hook": "?"}
    hook = event.get("hook", "?")
    if hook in LEASE and event.get("KEA_FAKE_ALLOCATION") != "1":
        address = event.get("KEA_LEASE4_ADDRESS") or event.get("KEA_LEASE6_ADDRESS", "")
        client = event.get("KEA_LEASE4_HWADDR") or event.get("KEA_LEASE6_CLIENT_DUID", "")
        print(hook, address, client, file=log, flush=True)
    if wait:
        sys.stdout.write("continue\n")
        sys.stdout.flush()
