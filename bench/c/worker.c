/* A tiny, fast worker for kea-runscript's worker mode ("mode": "worker"): reads one JSON line
 * per event on stdin ({"hook": "...", "KEA_...": "..."}), counts the lines per hook point and,
 * with `sync`, answers "continue" to each (one line, flushed at once).
 *
 *   worker COUNTS_FILE sync|async
 *
 * COUNTS_FILE is rewritten (a temporary file, then rename) when no event came for 50 ms, every
 * 65536 events and at end of input:
 *   events <total>
 *   last_ns <CLOCK_MONOTONIC time of the last event read, in ns>
 *   hook <name> <count>      (one line per hook point seen)
 *   phase <name> <count>     (replays: lines per KEA_REPLAY_PHASE, begin / lease / end)
 *   end_ns <CLOCK_MONOTONIC time of the last replay `end` line read, in ns; 0 before one>
 * Built and run by the benchmark (bench/src/main.rs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_HOOKS 64
static char names[MAX_HOOKS][48];
static unsigned long counts[MAX_HOOKS];
static int nhooks;
static unsigned long total;
static uint64_t last_ns;
static char phases[3][8] = {"begin", "lease", "end"};
static unsigned long phase_counts[3];
static uint64_t end_ns;
static const char *counts_file;

static uint64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec;
}

static void save(void) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", counts_file);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fprintf(f, "events %lu\nlast_ns %llu\n", total, (unsigned long long)last_ns);
    for (int i = 0; i < nhooks; i++) fprintf(f, "hook %s %lu\n", names[i], counts[i]);
    for (int i = 0; i < 3; i++)
        if (phase_counts[i]) fprintf(f, "phase %s %lu\n", phases[i], phase_counts[i]);
    fprintf(f, "end_ns %llu\n", (unsigned long long)end_ns);
    if (fclose(f) == 0) rename(tmp, counts_file);
}

/* The value of the "hook" member: the first string after `"hook"` and a colon. */
static void count(const char *line, size_t len) {
    const char *p = memmem(line, len, "\"hook\"", 6);
    const char *end = line + len;
    char name[48] = "?";
    if (p) {
        p += 6;
        while (p < end && (*p == ' ' || *p == ':')) p++;
        if (p < end && *p == '"') {
            p++;
            const char *q = memchr(p, '"', end - p);
            if (q && (size_t)(q - p) < sizeof name) {
                memcpy(name, p, q - p);
                name[q - p] = 0;
            }
        }
    }
    int i;
    for (i = 0; i < nhooks; i++)
        if (strcmp(names[i], name) == 0) break;
    if (i == nhooks) {
        if (nhooks == MAX_HOOKS) i = MAX_HOOKS - 1;
        else strcpy(names[nhooks++], name);
    }
    counts[i]++;
    total++;
    /* A replay's line: "KEA_REPLAY_PHASE":"begin" | "lease" | "end". */
    const char *ph = memmem(line, len, "\"KEA_REPLAY_PHASE\":\"", 20);
    if (ph) {
        ph += 20;
        for (int k = 0; k < 3; k++) {
            size_t n = strlen(phases[k]);
            if ((size_t)(end - ph) > n && memcmp(ph, phases[k], n) == 0 && ph[n] == '"') {
                phase_counts[k]++;
                if (k == 2) end_ns = mono_ns();
                break;
            }
        }
    }
}

static int write_all(const char *b, size_t n) {
    while (n > 0) {
        ssize_t w = write(1, b, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        b += w;
        n -= w;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s COUNTS_FILE sync|async\n", argv[0]);
        return 2;
    }
    counts_file = argv[1];
    int sync = strcmp(argv[2], "sync") == 0;
    static char buf[1 << 20];
    static char replies[1 << 16];
    size_t have = 0;
    unsigned long saved_at = 0;
    save();
    for (;;) {
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        int r = poll(&pfd, 1, 50);
        if (r == 0) {
            if (saved_at != total) {
                save();
                saved_at = total;
            }
            continue;
        }
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (have == sizeof buf) have = 0; /* a line over 1 MiB: dropped (never in practice) */
        ssize_t n = read(0, buf + have, sizeof buf - have);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        have += n;
        last_ns = mono_ns();
        size_t start = 0, nrep = 0;
        for (;;) {
            char *nl = memchr(buf + start, '\n', have - start);
            if (!nl) break;
            count(buf + start, nl - (buf + start));
            start = nl + 1 - buf;
            if (sync) {
                if (nrep + 9 > sizeof replies) {
                    if (write_all(replies, nrep) < 0) return 1;
                    nrep = 0;
                }
                memcpy(replies + nrep, "continue\n", 9);
                nrep += 9;
            }
        }
        if (nrep && write_all(replies, nrep) < 0) return 1;
        memmove(buf, buf + start, have - start);
        have -= start;
        if (total - saved_at >= 65536) {
            save();
            saved_at = total;
        }
    }
    save();
    return 0;
}
