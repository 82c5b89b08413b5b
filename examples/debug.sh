#!/bin/sh
# kea-runscript debug example: log the hook point and every variable Kea passed.
# Watch it with: tail -F /tmp/kea-runscript-debug.log
# DEBUG_LOG overrides the log file (the hook itself only passes KEA_* variables,
# so set it in a wrapper script if you need another path).
LOGFILE=${DEBUG_LOG:-/tmp/kea-runscript-debug.log}
{
    echo "== $1 =="
    date
    env | sort
    echo
} >> "$LOGFILE"
