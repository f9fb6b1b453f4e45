/*
 * The floor of any request/response benchmark on this machine: two processes ping-pong
 * 132 bytes (a small wire request) over a unix socket pair, with blocking reads, pinned to
 * the same CPU (argument 0) or to CPUs 0 and 1 (argument 1). Prints round trips/s, p50, p99
 * and the client's CPU time per round trip. docs/benchmarks.md ("Session 6") has the numbers.
 *
 *   cc -O2 -o /tmp/vcpu_pingpong scripts/bench/vcpu_pingpong.c && /tmp/vcpu_pingpong 0 && /tmp/vcpu_pingpong 1
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int ascending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void pin(int cpu_index) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu_index, &set);
    sched_setaffinity(0, sizeof set, &set);
}

int main(int argc, char **argv) {
    int apart = argc > 1 && atoi(argv[1]) == 1;
    int pair[2];
    char buffer[256];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return 1;
    if (fork() == 0) {
        pin(apart ? 1 : 0);
        close(pair[0]);
        for (;;) {
            ssize_t count = read(pair[1], buffer, sizeof buffer);
            if (count <= 0) _exit(0);
            if (write(pair[1], buffer, count) != count) _exit(1);
        }
    }
    pin(0);
    close(pair[1]);
    enum { warmup = 2000, rounds = 20000, size = 132 };
    char request[size] = {0};
    double *latency = malloc(rounds * sizeof(double));
    double wall_start = 0, cpu_start = 0;
    for (int i = 0; i < warmup + rounds; i++) {
        if (i == warmup) {
            wall_start = now();
            cpu_start = cpu();
        }
        double start = now();
        if (write(pair[0], request, size) != size) return 1;
        for (int received = 0; received < size;) {
            ssize_t count = read(pair[0], buffer, sizeof buffer);
            if (count <= 0) return 1;
            received += count;
        }
        if (i >= warmup) latency[i - warmup] = now() - start;
    }
    double wall = now() - wall_start, used = cpu() - cpu_start;
    qsort(latency, rounds, sizeof(double), ascending);
    printf("%s: %.0f round trips/s, p50 %.1f us, p99 %.1f us, client CPU %.1f us per round trip\n",
           apart ? "CPUs 0 and 1" : "one CPU", rounds / wall, latency[rounds / 2] * 1e6, latency[rounds * 99 / 100] * 1e6,
           used / rounds * 1e6);
    close(pair[0]);
    wait(NULL);
    return 0;
}
