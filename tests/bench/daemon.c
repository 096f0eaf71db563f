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
 *   daemon syslog STAMPS PATH BYTES   stamp "start", send BYTES of 64-byte
 *                                     syslog messages to the datagram
 *                                     socket at PATH, stamp "done", then
 *                                     pause
 *   daemon reply                      the accept scenario's service, run once
 *                                     per connection with it on stdout:
 *                                     write `reply PORT` and a newline
 *                                     (PORT is the client's port, so each
 *                                     reply is its connection's:
 *                                     $TCPREMOTEPORT, or for BusyBox tcpsvd
 *                                     the end of $TCPREMOTEADDR, `IP:PORT`)
 *                                     in one write(2), exit 0
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
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

/* Sends `bytes` as 64-byte datagrams to the unix datagram socket at
 * `path`, as BusyBox logger does (RFC 3164 without a timestamp):
 * `<13>flood: line NNNNNNNNNNNN xxx...`, no newline. Connects once (retried
 * for 5 s while the socket is not there yet), then one send(2) each; send
 * blocks while the receiver's queue is full. */
static void messages(const char *path, long long bytes) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  char msg[64];
  if (strlen(path) >= sizeof a.sun_path) _exit(111);
  strcpy(a.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) _exit(111);
  for (int tries = 0; connect(fd, (struct sockaddr *)&a, sizeof a); tries++) {
    struct timespec t = {0, 10000000L};
    if ((errno != ENOENT && errno != ECONNREFUSED) || tries >= 500) _exit(111);
    nanosleep(&t, 0);
  }
  for (long long i = 0; i * 64 < bytes; i++) {
    int n = snprintf(msg, sizeof msg, "<13>flood: line %012lld ", i);
    memset(msg + n, 'x', 64 - n);
    while (send(fd, msg, 64, 0) != 64) {
      if (errno != EINTR) _exit(111);
    }
  }
  close(fd);
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
  } else if (!strcmp(mode, "syslog") && argc > 4) {
    stamp(argv[2], "start");
    messages(argv[3], atoll(argv[4]));
    stamp(argv[2], "done");
  } else if (!strcmp(mode, "reply")) {
    const char *port = getenv("TCPREMOTEPORT"), *addr = getenv("TCPREMOTEADDR");
    if (!port && addr && strrchr(addr, ':')) port = strrchr(addr, ':') + 1;
    char line[32];
    int n = snprintf(line, sizeof line, "reply %s\n", port ? port : "?");
    return write(1, line, n) == n ? 0 : 111;
  } else if (strcmp(mode, "idle")) {
    return 100;
  }
  for (;;) pause();
}
