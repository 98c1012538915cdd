/*
 * epoll_echo.c -- the floor: a minimal single-threaded, edge-triggered epoll
 * echo server. It does the least work the kernel allows for an echo service,
 * so other servers' CPU time and syscall counts are compared against it.
 *
 * Shape: one epoll set; the listener and every connection are registered once
 * (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) and never modified. Accept with
 * accept4(SOCK_NONBLOCK) until EAGAIN. On an event, read until EAGAIN and
 * write each chunk straight back. A partial write parks the unsent rest in a
 * small per-fd buffer and stops reading that fd until EPOLLOUT drains it
 * (back-pressure); connections that never hit a partial write keep no state.
 *
 * --stop-on-short-read: stop reading a connection when a read returns less
 * than the buffer: the queue was empty at that instant, and with EPOLLET any
 * later arrival (data or FIN) raises a new edge. This saves the read that
 * would return EAGAIN (tokio does the same); without it the server reads
 * until EAGAIN as the classic edge-triggered loop does.
 *
 * Usage: epoll_echo [--stop-on-short-read] [--port] PORT
 *        (binds 127.0.0.1:PORT, backlog 4096)
 * Prints nothing on the hot path; SIGTERM ends it (default disposition).
 *
 * Build: cc -O2 -Wall -Wextra -o epoll_echo epoll_echo.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum { LISTEN_BACKLOG = 4096, MAX_EVENTS = 1024, READ_CHUNK = 65536 };

/* Unsent bytes of one connection, allocated only after a partial write. */
struct pending {
    size_t len;
    size_t off;
    char data[];
};

static struct pending **pending_by_fd; /* indexed by fd, NULL when nothing is parked */
static size_t pending_slots;
static char read_buf[READ_CHUNK];
static int stop_on_short_read;

static void die(const char *what) {
    perror(what);
    exit(1);
}

/* Parses [--stop-on-short-read] [--port] PORT; sets stop_on_short_read. */
static int parse_args(int argc, char **argv) {
    const char *text = NULL;
    int i = 1;
    if (i < argc && strcmp(argv[i], "--stop-on-short-read") == 0) {
        stop_on_short_read = 1;
        i++;
    }
    if (argc - i == 1)
        text = argv[i];
    else if (argc - i == 2 && strcmp(argv[i], "--port") == 0)
        text = argv[i + 1];
    if (text == NULL) {
        fprintf(stderr, "usage: %s [--stop-on-short-read] [--port] PORT\n", argv[0]);
        exit(2);
    }
    char *end = NULL;
    long port = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "epoll_echo: port must be 1..65535, got '%s'\n", text);
        exit(2);
    }
    return (int)port;
}

static int open_listener(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        die("setsockopt SO_REUSEADDR");
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("bind 127.0.0.1");
    if (listen(fd, LISTEN_BACKLOG) < 0)
        die("listen");
    return fd;
}

static void close_conn(int fd) {
    if ((size_t)fd < pending_slots && pending_by_fd[fd] != NULL) {
        free(pending_by_fd[fd]);
        pending_by_fd[fd] = NULL;
    }
    close(fd); /* also removes it from the epoll set */
}

/* Parks buf[0..len) for fd; returns 0, or -1 when out of memory. */
static int park(int fd, const char *buf, size_t len) {
    if ((size_t)fd >= pending_slots)
        return -1;
    struct pending *p = malloc(sizeof *p + len);
    if (p == NULL)
        return -1;
    p->len = len;
    p->off = 0;
    memcpy(p->data, buf, len);
    pending_by_fd[fd] = p;
    return 0;
}

/* Writes the parked bytes; returns 1 when drained, 0 when still blocked, -1 on error. */
static int flush_pending(int fd) {
    struct pending *p = pending_by_fd[fd];
    while (p->off < p->len) {
        ssize_t n = write(fd, p->data + p->off, p->len - p->off);
        if (n > 0) {
            p->off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            return 0;
        } else {
            return -1;
        }
    }
    free(p);
    pending_by_fd[fd] = NULL;
    return 1;
}

/* Echoes everything readable (see --stop-on-short-read for where it stops);
 * returns -1 when the connection must close. */
static int echo_readable(int fd, unsigned events) {
    for (;;) {
        ssize_t got = read(fd, read_buf, sizeof read_buf);
        if (got == 0)
            return -1;
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -1;
        }
        size_t sent = 0;
        while (sent < (size_t)got) {
            ssize_t n = write(fd, read_buf + sent, (size_t)got - sent);
            if (n > 0) {
                sent += (size_t)n;
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && errno == EAGAIN) {
                /* Stop reading until EPOLLOUT drains the rest. */
                return park(fd, read_buf + sent, (size_t)got - sent);
            } else {
                return -1;
            }
        }
        /* A FIN already seen (EPOLLRDHUP) raises no new edge: read on to the EOF. */
        if (stop_on_short_read && (size_t)got < sizeof read_buf && !(events & EPOLLRDHUP))
            return 0;
    }
}

static void accept_until_eagain(int epfd, int listen_fd) {
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN, or EMFILE: the backlog keeps it for the next edge */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.fd = fd};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            close(fd);
    }
}

static void serve_conn_event(int fd, unsigned events) {
    if (events & EPOLLERR) {
        close_conn(fd);
        return;
    }
    if (pending_by_fd[fd] != NULL) {
        int drained = flush_pending(fd);
        if (drained < 0) {
            close_conn(fd);
            return;
        }
        if (drained == 0)
            return; /* still blocked: wait for the next EPOLLOUT edge */
    }
    /* Read even on a pure EPOLLOUT edge after a drain: input that arrived while
     * parked raised no new EPOLLIN edge. */
    if (echo_readable(fd, events) < 0)
        close_conn(fd);
}

int main(int argc, char **argv) {
    int port = parse_args(argc, argv);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);

    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
        die("getrlimit");
    pending_slots = lim.rlim_cur == RLIM_INFINITY ? 1u << 20 : (size_t)lim.rlim_cur;
    pending_by_fd = calloc(pending_slots, sizeof *pending_by_fd);
    if (pending_by_fd == NULL)
        die("calloc");

    int listen_fd = open_listener(port);
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1");
    struct epoll_event lev = {.events = EPOLLIN | EPOLLET, .data.fd = listen_fd};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &lev) < 0)
        die("epoll_ctl listener");

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == listen_fd)
                accept_until_eagain(epfd, listen_fd);
            else
                serve_conn_event(fd, events[i].events);
        }
    }
}
