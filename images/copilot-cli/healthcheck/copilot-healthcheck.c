/*
 * copilot-healthcheck: proves the Copilot CLI headless server answers, not just that its port is open.
 *
 * Speaks the server's own protocol (JSON-RPC 2.0 over raw TCP, LSP framing "Content-Length: N\r\n\r\n"):
 *   1. `connect` with {"token": $COPILOT_CONNECTION_TOKEN}  -> must be a result, not an error
 *   2. `ping`    with {"message": "<nonce>"}                -> result.message must be "pong: <nonce>"
 * Exit 0 only then. Anything else (refused, timeout, AUTHENTICATION_FAILED, wrong or garbled answer)
 * exits 1 with one line on stderr saying why. 1 is what Docker HEALTHCHECK and Kubernetes exec probes
 * read as "unhealthy" (Docker reserves 2).
 *
 * Written in C (libc only, dynamically linked against the base image's glibc) so the final image needs
 * nothing extra: no shell tricks, no interpreter, ~20 KB. One deadline bounds the whole exchange.
 *
 * Usage: copilot-healthcheck [--host H] [--port P] [--timeout-ms N]
 * Env (flags win): COPILOT_HEALTHCHECK_HOST (127.0.0.1), COPILOT_HEALTHCHECK_PORT (4321),
 *                  COPILOT_HEALTHCHECK_TIMEOUT_MS (2000), COPILOT_CONNECTION_TOKEN (sent when set).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME (1024 * 1024)
#define MAX_HEADER 4096

static long long deadline_ms;

static void fail(const char *fmt, ...) {
    va_list ap;
    fputs("copilot-healthcheck: unhealthy: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(void) {
    long long left = deadline_ms - now_ms();
    return left > 0 ? (int)left : 0;
}

static long parse_long(const char *s, const char *what, long lo, long hi) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) fail("invalid %s: \"%s\"", what, s);
    return v;
}

/* Waits for `events` on fd within the global deadline; returns only when ready. */
static void wait_fd(int fd, short events, const char *doing) {
    for (;;) {
        int left = remaining_ms();
        if (left == 0) fail("timeout while %s", doing);
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, left);
        if (r > 0) return;
        if (r == 0) fail("timeout while %s", doing);
        if (errno != EINTR) fail("poll: %s", strerror(errno));
    }
}

static int dial(const char *host, const char *port) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) fail("cannot resolve %s: %s", host, gai_strerror(gai));
    int last_err = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(res);
            return fd;
        }
        if (errno == EINPROGRESS) {
            wait_fd(fd, POLLOUT, "connecting");
            int soerr = 0;
            socklen_t len = sizeof soerr;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
            if (soerr == 0) {
                freeaddrinfo(res);
                return fd;
            }
            last_err = soerr;
        } else {
            last_err = errno;
        }
        close(fd);
    }
    freeaddrinfo(res);
    fail("cannot connect to %s:%s: %s", host, port, strerror(last_err));
    return -1;
}

static void send_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        wait_fd(fd, POLLOUT, "sending");
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            fail("send: %s", strerror(errno));
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* JSON string escaping for values we put on the wire (the token comes from the environment). */
static char *json_quote(const char *s) {
    size_t cap = strlen(s) * 6 + 3, o = 0;
    char *out = malloc(cap);
    if (out == NULL) fail("out of memory");
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < 0x20) {
            o += (size_t)sprintf(out + o, "\\u%04x", *p);
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

static void send_request(int fd, int id, const char *method, const char *params) {
    char *body = NULL;
    int blen = asprintf(&body, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\",\"params\":%s}", id, method, params);
    if (blen < 0) fail("out of memory");
    char header[64];
    int hlen = snprintf(header, sizeof header, "Content-Length: %d\r\n\r\n", blen);
    send_all(fd, header, (size_t)hlen);
    send_all(fd, body, (size_t)blen);
    free(body);
}

/* Buffered reader over the socket, bounded by the deadline. */
static char rbuf[MAX_FRAME + MAX_HEADER];
static size_t rlen;

static void fill(int fd, const char *doing) {
    if (rlen >= sizeof rbuf) fail("answer too large while %s", doing);
    for (;;) {
        wait_fd(fd, POLLIN, doing);
        ssize_t n = recv(fd, rbuf + rlen, sizeof rbuf - rlen, 0);
        if (n > 0) {
            rlen += (size_t)n;
            return;
        }
        if (n == 0) fail("server closed the connection while %s", doing);
        if (errno != EINTR && errno != EAGAIN) fail("recv: %s", strerror(errno));
    }
}

/* Reads one LSP-framed message; returns a malloc'd NUL-terminated body. */
static char *read_frame(int fd, const char *doing) {
    for (;;) {
        char *end = memmem(rbuf, rlen, "\r\n\r\n", 4);
        if (end != NULL) {
            size_t hlen = (size_t)(end - rbuf);
            long clen = -1;
            /* Header lines are "Name: value"; only Content-Length matters, matched case-insensitively. */
            for (char *line = rbuf; line < end;) {
                char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
                if (eol == NULL) eol = end;
                if ((size_t)(eol - line) > 15 && strncasecmp(line, "Content-Length:", 15) == 0) {
                    char num[32];
                    size_t nlen = (size_t)(eol - line) - 15;
                    if (nlen >= sizeof num) fail("garbled answer: bad Content-Length header");
                    memcpy(num, line + 15, nlen);
                    num[nlen] = '\0';
                    char *p = num;
                    while (*p == ' ' || *p == '\t') p++;
                    clen = parse_long(p, "Content-Length in answer", 0, MAX_FRAME);
                }
                line = eol + 2;
            }
            if (clen < 0) fail("garbled answer: no Content-Length header");
            size_t total = hlen + 4 + (size_t)clen;
            while (rlen < total) fill(fd, doing);
            char *body = malloc((size_t)clen + 1);
            if (body == NULL) fail("out of memory");
            memcpy(body, rbuf + hlen + 4, (size_t)clen);
            body[clen] = '\0';
            memmove(rbuf, rbuf + total, rlen - total);
            rlen -= total;
            return body;
        }
        if (rlen > MAX_HEADER) fail("garbled answer: no LSP header (not a Copilot CLI server?)");
        fill(fd, doing);
    }
}

/*
 * A minimal JSON reader: enough to walk the top-level object of a JSON-RPC response and pull out
 * `id`, whether `result`/`error` is present, `error.message` and `result.message`. Substring search
 * would be fooled by the same keys nested in other data; this is not.
 */
typedef struct {
    const char *p;
    int ok;
} json_t;

static void ws(json_t *j) {
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r') j->p++;
}

/* Parses a string; when out != NULL copies the unescaped value (ASCII escapes only; \u kept as '?'). */
static void jstring(json_t *j, char *out, size_t cap) {
    size_t o = 0;
    if (*j->p != '"') {
        j->ok = 0;
        return;
    }
    j->p++;
    while (*j->p && *j->p != '"') {
        char c = *j->p++;
        if (c == '\\') {
            char e = *j->p++;
            switch (e) {
                case 'n': c = '\n'; break;
                case 't': c = '\t'; break;
                case 'r': c = '\r'; break;
                case 'b': c = '\b'; break;
                case 'f': c = '\f'; break;
                case 'u':
                    for (int i = 0; i < 4; i++) {
                        if (!*j->p) {
                            j->ok = 0;
                            return;
                        }
                        j->p++;
                    }
                    c = '?';
                    break;
                case '\0': j->ok = 0; return;
                default: c = e; break;
            }
        }
        if (out != NULL && o + 1 < cap) out[o++] = c;
    }
    if (*j->p != '"') {
        j->ok = 0;
        return;
    }
    j->p++;
    if (out != NULL && cap > 0) out[o] = '\0';
}

static void jvalue(json_t *j, int depth);

static void jcontainer(json_t *j, char open, char close, int depth) {
    if (depth > 64) {
        j->ok = 0;
        return;
    }
    j->p++; /* open */
    ws(j);
    if (*j->p == close) {
        j->p++;
        return;
    }
    while (j->ok) {
        ws(j);
        if (open == '{') {
            jstring(j, NULL, 0);
            ws(j);
            if (*j->p != ':') {
                j->ok = 0;
                return;
            }
            j->p++;
        }
        jvalue(j, depth + 1);
        ws(j);
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == close) {
            j->p++;
            return;
        }
        j->ok = 0;
    }
}

static void jvalue(json_t *j, int depth) {
    ws(j);
    char c = *j->p;
    if (c == '{') jcontainer(j, '{', '}', depth);
    else if (c == '[') jcontainer(j, '[', ']', depth);
    else if (c == '"') jstring(j, NULL, 0);
    else if (c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n') {
        while (*j->p && strchr("0123456789+-.eEtruefalsn", *j->p) != NULL) j->p++;
    } else j->ok = 0;
}

/* Finds `key` in the object starting at j->p ('{'); leaves j->p at its value. Returns 1 if found. */
static int jfind(json_t *j, const char *key) {
    ws(j);
    if (*j->p != '{') return 0;
    j->p++;
    ws(j);
    if (*j->p == '}') return 0;
    while (j->ok) {
        char name[64];
        ws(j);
        jstring(j, name, sizeof name);
        ws(j);
        if (!j->ok || *j->p != ':') return 0;
        j->p++;
        ws(j);
        if (strcmp(name, key) == 0) return 1;
        jvalue(j, 1);
        ws(j);
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        return 0;
    }
    return 0;
}

typedef struct {
    long id;          /* -1 when absent or not a number (notifications) */
    int has_result;
    int has_error;
    char error_message[256];
    char result_message[256];
} response_t;

static int parse_response(const char *body, response_t *r) {
    memset(r, 0, sizeof *r);
    r->id = -1;
    json_t whole = {body, 1};
    jvalue(&whole, 0);
    ws(&whole);
    if (!whole.ok || *whole.p != '\0' || body[strspn(body, " \t\r\n")] != '{') return 0;

    json_t j = {body, 1};
    if (jfind(&j, "id") && *j.p >= '0' && *j.p <= '9') r->id = strtol(j.p, NULL, 10);
    j = (json_t){body, 1};
    r->has_result = jfind(&j, "result");
    if (r->has_result && jfind(&j, "message") && *j.p == '"') jstring(&j, r->result_message, sizeof r->result_message);
    j = (json_t){body, 1};
    r->has_error = jfind(&j, "error");
    if (r->has_error && jfind(&j, "message") && *j.p == '"') jstring(&j, r->error_message, sizeof r->error_message);
    return 1;
}

/* Reads frames until the response with `id` arrives (server notifications in between are skipped). */
static void await_response(int fd, long id, const char *doing, response_t *r) {
    for (int frames = 0; frames < 100; frames++) {
        char *body = read_frame(fd, doing);
        int ok = parse_response(body, r);
        free(body);
        if (!ok) fail("garbled answer while %s: not a JSON object", doing);
        if (r->id == id) return;
    }
    fail("no answer to request %ld while %s", id, doing);
}

int main(int argc, char **argv) {
    const char *host = getenv("COPILOT_HEALTHCHECK_HOST");
    const char *port = getenv("COPILOT_HEALTHCHECK_PORT");
    const char *timeout = getenv("COPILOT_HEALTHCHECK_TIMEOUT_MS");
    const char *token = getenv("COPILOT_CONNECTION_TOKEN");
    if (host == NULL || *host == '\0') host = "127.0.0.1";
    if (port == NULL || *port == '\0') port = "4321";
    if (timeout == NULL || *timeout == '\0') timeout = "2000";

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: %s [--host H] [--port P] [--timeout-ms N]\n"
                   "JSON-RPC connect (token from COPILOT_CONNECTION_TOKEN) + ping; exit 0 only on the right pong.\n",
                   argv[0]);
            return 0;
        }
        if (i + 1 >= argc) fail("usage: %s [--host H] [--port P] [--timeout-ms N]", argv[0]);
        if (strcmp(argv[i], "--host") == 0) host = argv[++i];
        else if (strcmp(argv[i], "--port") == 0) port = argv[++i];
        else if (strcmp(argv[i], "--timeout-ms") == 0) timeout = argv[++i];
        else fail("unknown argument \"%s\"", argv[i]);
    }
    parse_long(port, "port", 1, 65535);
    deadline_ms = now_ms() + parse_long(timeout, "timeout", 1, 600000);

    int fd = dial(host, port);

    char *params = NULL;
    if (token != NULL && *token != '\0') {
        char *q = json_quote(token);
        if (asprintf(&params, "{\"token\":%s}", q) < 0) fail("out of memory");
        free(q);
    } else {
        /* No token in the environment: the server may run without one; it will say if it needs one. */
        params = strdup("{}");
    }
    response_t r;
    send_request(fd, 1, "connect", params);
    free(params);
    await_response(fd, 1, "waiting for the connect answer", &r);
    if (r.has_error) fail("connect refused: %s", r.error_message[0] ? r.error_message : "(no message)");
    if (!r.has_result) fail("connect answer has neither result nor error");

    /* A per-run nonce, so an answer to someone else's ping (or a canned one) cannot pass. */
    char nonce[64], expected[96], ping_params[128];
    snprintf(nonce, sizeof nonce, "copilot-healthcheck-%ld-%lld", (long)getpid(), now_ms());
    snprintf(expected, sizeof expected, "pong: %s", nonce);
    snprintf(ping_params, sizeof ping_params, "{\"message\":\"%s\"}", nonce);
    send_request(fd, 2, "ping", ping_params);
    await_response(fd, 2, "waiting for the ping answer", &r);
    if (r.has_error) fail("ping refused: %s", r.error_message[0] ? r.error_message : "(no message)");
    if (!r.has_result) fail("ping answer has neither result nor error");
    if (strcmp(r.result_message, expected) != 0) fail("wrong ping answer: \"%s\"", r.result_message);

    close(fd);
    return 0;
}
