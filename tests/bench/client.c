/* The accept scenario's client (tests/bench/bench.py), built static.
 *
 *   client PORT TOTAL CONC
 *
 * Opens TOTAL connections to 127.0.0.1:PORT, CONC at a time (one thread,
 * non-blocking sockets, epoll), and on each reads until the server closes
 * it. Every reply must be exactly `reply P` and a newline, P being the
 * connection's own local port (the server's instance prints its
 * TCPREMOTEPORT: tests/bench/daemon.c, `daemon reply`). A latency is from
 * just before connect(2) to the end of the reply (its EOF read). A refused
 * or reset connection, a wrong reply, or one that has not ended 10 s after
 * its connect fails the run: a message on stderr, exit 1. Otherwise prints,
 * one `key value` a line: conns, wall_ns (first connect to last reply),
 * p50_ns, p99_ns, max_ns (nearest rank), cpu_ns (the client's own).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONC 256
#define TIMEOUT_NS 10000000000LL

struct conn {
  int fd, port, len, live;
  long long t0, n;
  char buf[64];
};

static struct conn c[MAX_CONC];
static int ep, server_port;
static long long started;

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void fail(long long n, const char *what, const char *detail) {
  fprintf(stderr, "client: connection %lld: %s%s%s\n", n, what, detail ? ": " : "", detail ? detail : "");
  exit(1);
}

static void start(int i) {
  struct conn *k = &c[i];
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(server_port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  k->n = started++;
  k->len = 0;
  k->live = 1;
  k->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (k->fd < 0) fail(k->n, "socket", strerror(errno));
  k->t0 = now_ns();
  if (connect(k->fd, (struct sockaddr *)&a, sizeof a) && errno != EINPROGRESS)
    fail(k->n, "connect", strerror(errno));
  if (getsockname(k->fd, (struct sockaddr *)&a, &len)) fail(k->n, "getsockname", strerror(errno));
  k->port = ntohs(a.sin_port);
  struct epoll_event e = {.events = EPOLLIN, .data.u32 = i};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, k->fd, &e)) fail(k->n, "epoll_ctl", strerror(errno));
}

static int cmp(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: client PORT TOTAL CONC\n");
    return 2;
  }
  server_port = atoi(argv[1]);
  long long total = atoll(argv[2]), done = 0;
  int conc = atoi(argv[3]), active = 0;
  if (total < 1 || conc < 1 || conc > MAX_CONC) return 2;
  long long *lat = malloc(total * sizeof *lat);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (!lat || ep < 0) return 1;
  long long t_start = now_ns();
  for (int i = 0; i < conc && started < total; i++, active++) start(i);
  struct epoll_event ev[MAX_CONC];
  while (active) {
    int n = epoll_wait(ep, ev, MAX_CONC, 100);
    if (n < 0 && errno != EINTR) fail(-1, "epoll_wait", strerror(errno));
    for (int j = 0; j < n; j++) {
      int i = ev[j].data.u32;
      struct conn *k = &c[i];
      for (;;) {
        ssize_t r = read(k->fd, k->buf + k->len, sizeof k->buf - k->len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) break;
        if (r < 0) fail(k->n, "read", strerror(errno));
        if (r > 0) {
          k->len += r;
          if (k->len == sizeof k->buf) fail(k->n, "reply too long", 0);
          continue;
        }
        /* EOF: the reply is complete. */
        long long t = now_ns();
        char want[32];
        int w = snprintf(want, sizeof want, "reply %d\n", k->port);
        if (k->len != w || memcmp(k->buf, want, w)) {
          k->buf[k->len] = 0;
          fail(k->n, "wrong reply", k->buf);
        }
        lat[done++] = t - k->t0;
        close(k->fd);
        if (started < total) {
          start(i);
        } else {
          k->live = 0;
          active--;
        }
        break;
      }
    }
    long long t = now_ns();
    for (int i = 0; i < conc; i++)
      if (c[i].live && t - c[i].t0 > TIMEOUT_NS) fail(c[i].n, "no reply and close in 10 s", 0);
  }
  long long wall = now_ns() - t_start;
  qsort(lat, done, sizeof *lat, cmp);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  long long cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
                  (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
  printf("conns %lld\nwall_ns %lld\np50_ns %lld\np99_ns %lld\nmax_ns %lld\ncpu_ns %lld\n", done, wall,
         lat[(done * 50 + 99) / 100 - 1], lat[(done * 99 + 99) / 100 - 1], lat[done - 1], cpu);
  return 0;
}
