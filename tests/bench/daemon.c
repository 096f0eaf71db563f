/* The one daemon every stack runs in the benchmark (tests/bench/bench.py).
 * Built statically, so it costs each stack the same. Stamps are
 * CLOCK_MONOTONIC nanoseconds, appended to a file with one write(2) each.
 *
 *   daemon idle                       pause forever
 *   daemon start STAMPS               stamp "start", then pause
 *   daemon chatty BYTES               write BYTES of 64-byte lines, then pause
 *   daemon run STAMPS MS              stamp "start", run MS, stamp "exit", exit 1
 *   daemon crash STAMPS               stamp "start", exit 1 at once
 *   daemon flood STAMPS BYTES         stamp "start", write BYTES of 64-byte
 *                                     lines, one write per line, stamp
 *                                     "done", then pause
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void stamp(const char *file, const char *what) {
  char line[64];
  int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) _exit(111);
  int n = snprintf(line, sizeof line, "%s %lld %d\n", what, now_ns(), (int)getpid());
  if (write(fd, line, n) != n) _exit(111);
  close(fd);
}

/* Writes `bytes` as 64-byte lines, one write(2) each: a counter, padding,
 * a newline. */
static void lines(long long bytes) {
  char line[64];
  for (long long i = 0; i * 64 < bytes; i++) {
    int n = snprintf(line, sizeof line, "line %012lld ", i);
    memset(line + n, 'x', 63 - n);
    line[63] = '\n';
    if (write(1, line, 64) != 64) _exit(111);
  }
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "idle";
  if (!strcmp(mode, "start") && argc > 2) {
    stamp(argv[2], "start");
  } else if (!strcmp(mode, "chatty") && argc > 2) {
    lines(atoll(argv[2]));
  } else if (!strcmp(mode, "run") && argc > 3) {
    stamp(argv[2], "start");
    struct timespec t = {atoi(argv[3]) / 1000, (atoi(argv[3]) % 1000) * 1000000L};
    while (nanosleep(&t, &t)) {
    }
    stamp(argv[2], "exit");
    return 1;
  } else if (!strcmp(mode, "crash") && argc > 2) {
    stamp(argv[2], "start");
    return 1;
  } else if (!strcmp(mode, "flood") && argc > 3) {
    stamp(argv[2], "start");
    lines(atoll(argv[3]));
    stamp(argv[2], "done");
  } else if (strcmp(mode, "idle")) {
    return 100;
  }
  for (;;) pause();
}
