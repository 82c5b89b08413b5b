/* The physical limit of spawning on this machine: posix_spawn a no-op script and reap it, as
 * fast as possible, with PARALLEL children in flight at once, for SECONDS.
 *
 *   spawn_ceiling SCRIPT SECONDS PARALLEL   ->  prints "<spawns> <elapsed seconds>"
 *
 * The child gets the script's path and a hook point name as arguments and an environment
 * of 40 KEA_-like variables (about the size of a lease4_select event's), stdin/stdout/stderr
 * inherited (the script writes nothing). Built and run by the benchmark (bench/src/main.rs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s SCRIPT SECONDS PARALLEL\n", argv[0]);
        return 2;
    }
    char *script = argv[1];
    double secs = atof(argv[2]);
    int parallel = atoi(argv[3]);
    if (parallel < 1) parallel = 1;

    static char vars[40][64];
    char *envp[41];
    for (int i = 0; i < 40; i++) {
        snprintf(vars[i], sizeof vars[i], "KEA_BENCH_VARIABLE_%02d=value-%02d-198.18.0.10", i, i);
        envp[i] = vars[i];
    }
    envp[40] = NULL;
    char *args[] = {script, "lease4_select", NULL};

    long done = 0;
    int running = 0;
    double start = now(), end = start + secs;
    for (;;) {
        int more = now() < end;
        while (more && running < parallel) {
            pid_t pid;
            int e = posix_spawn(&pid, script, NULL, NULL, args, envp);
            if (e != 0) {
                fprintf(stderr, "posix_spawn %s: %s\n", script, strerror(e));
                return 1;
            }
            running++;
        }
        if (running == 0) break;
        int st;
        if (wait(&st) < 0) {
            if (errno == EINTR) continue;
            perror("wait");
            return 1;
        }
        running--;
        done++;
    }
    printf("%ld %.6f\n", done, now() - start);
    return 0;
}
