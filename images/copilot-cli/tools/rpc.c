/* Implementation of rpc.h: framing, dialing, the connect handshake and the JSON tokenizer. */
#define _GNU_SOURCE
#include "rpc.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static int set_err(rpc_conn *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return -1;
}

long long rpc_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rpc_set_timeout(rpc_conn *c, long ms) { c->deadline_ms = rpc_now_ms() + ms; }

static int remaining_ms(const rpc_conn *c) {
    long long left = c->deadline_ms - rpc_now_ms();
    return left > 0 ? (left > 0x7fffffff ? 0x7fffffff : (int)left) : 0;
}

/* Waits for `events` on the socket within the deadline. */
static int wait_fd(rpc_conn *c, int fd, short events, const char *doing) {
    for (;;) {
        int left = remaining_ms(c);
        if (left == 0) return set_err(c, "timeout while %s", doing);
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, left);
        if (r > 0) return 0;
        if (r == 0) return set_err(c, "timeout while %s", doing);
        if (errno != EINTR) return set_err(c, "poll: %s", strerror(errno));
    }
}

int rpc_split_endpoint(const char *endpoint, char *host, size_t hcap, char *port, size_t pcap) {
    const char *colon = strrchr(endpoint, ':');
    if (colon == NULL || colon == endpoint || colon[1] == '\0') return -1;
    const char *h = endpoint;
    size_t hlen = (size_t)(colon - endpoint);
    if (h[0] == '[') {
        if (hlen < 3 || h[hlen - 1] != ']') return -1;
        h++;
        hlen -= 2;
    }
    size_t plen = strlen(colon + 1);
    if (hlen >= hcap || plen >= pcap || plen > 5) return -1;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memcpy(port, colon + 1, plen + 1);
    long n = strtol(port, NULL, 10);
    return n >= 1 && n <= 65535 ? 0 : -1;
}

int rpc_dial(rpc_conn *c, const char *host, const char *port) {
    c->fd = -1;
    c->rlen = 0;
    c->next_id = 1;
    if (c->rbuf == NULL) {
        c->rbuf = malloc(RPC_MAX_FRAME + RPC_MAX_HEADER);
        if (c->rbuf == NULL) return set_err(c, "out of memory");
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) return set_err(c, "cannot resolve %s: %s", host, gai_strerror(gai));
    int last_err = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(res);
            c->fd = fd;
            return 0;
        }
        if (errno == EINPROGRESS) {
            if (wait_fd(c, fd, POLLOUT, "connecting") != 0) {
                close(fd);
                freeaddrinfo(res);
                return -1;
            }
            int soerr = 0;
            socklen_t len = sizeof soerr;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
            if (soerr == 0) {
                freeaddrinfo(res);
                c->fd = fd;
                return 0;
            }
            last_err = soerr;
        } else {
            last_err = errno;
        }
        close(fd);
    }
    freeaddrinfo(res);
    return set_err(c, "cannot connect to %s:%s: %s", host, port, strerror(last_err));
}

void rpc_close(rpc_conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    free(c->rbuf);
    c->rbuf = NULL;
    c->rlen = 0;
}

static int send_all(rpc_conn *c, const char *buf, size_t len) {
    while (len > 0) {
        if (wait_fd(c, c->fd, POLLOUT, "sending") != 0) return -1;
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return set_err(c, "send: %s", strerror(errno));
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fill(rpc_conn *c, const char *doing) {
    if (c->rlen >= RPC_MAX_FRAME + RPC_MAX_HEADER) return set_err(c, "answer too large while %s", doing);
    for (;;) {
        if (wait_fd(c, c->fd, POLLIN, doing) != 0) return -1;
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, RPC_MAX_FRAME + RPC_MAX_HEADER - c->rlen, 0);
        if (n > 0) {
            c->rlen += (size_t)n;
            return 0;
        }
        if (n == 0) return set_err(c, "server closed the connection while %s", doing);
        if (errno != EINTR && errno != EAGAIN) return set_err(c, "recv: %s", strerror(errno));
    }
}

/* Reads one LSP-framed message into a malloc'd NUL-terminated body. */
static int read_frame(rpc_conn *c, const char *doing, char **out, size_t *out_len) {
    for (;;) {
        char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
        if (end != NULL) {
            size_t hlen = (size_t)(end - c->rbuf);
            long long clen = -1;
            /* Header lines are "Name: value"; only Content-Length matters, matched case-insensitively. */
            for (char *line = c->rbuf; line < end;) {
                char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
                if (eol == NULL) eol = end;
                if ((size_t)(eol - line) > 15 && strncasecmp(line, "Content-Length:", 15) == 0) {
                    char num[32];
                    size_t nlen = (size_t)(eol - line) - 15;
                    if (nlen >= sizeof num) return set_err(c, "garbled answer: bad Content-Length header");
                    memcpy(num, line + 15, nlen);
                    num[nlen] = '\0';
                    char *p = num, *e = NULL;
                    while (*p == ' ' || *p == '\t') p++;
                    errno = 0;
                    clen = strtoll(p, &e, 10);
                    if (errno != 0 || e == p || *e != '\0' || clen < 0) return set_err(c, "garbled answer: bad Content-Length header");
                    if (clen > RPC_MAX_FRAME) return set_err(c, "answer too large while %s", doing);
                }
                line = eol + 2;
            }
            if (clen < 0) return set_err(c, "garbled answer: no Content-Length header");
            size_t total = hlen + 4 + (size_t)clen;
            while (c->rlen < total)
                if (fill(c, doing) != 0) return -1;
            char *body = malloc((size_t)clen + 1);
            if (body == NULL) return set_err(c, "out of memory");
            memcpy(body, c->rbuf + hlen + 4, (size_t)clen);
            body[clen] = '\0';
            memmove(c->rbuf, c->rbuf + total, c->rlen - total);
            c->rlen -= total;
            *out = body;
            *out_len = (size_t)clen;
            return 0;
        }
        if (c->rlen > RPC_MAX_HEADER) return set_err(c, "garbled answer: no LSP header (not a Copilot CLI server?)");
        if (fill(c, doing) != 0) return -1;
    }
}

void rpc_response_free(rpc_response *r) { json_free(&r->doc); }

int rpc_call(rpc_conn *c, const char *method, const char *params, const char *doing, rpc_response *resp) {
    memset(resp, 0, sizeof *resp);
    resp->result = resp->error = -1;
    long id = c->next_id++;
    char *body = NULL;
    int blen = asprintf(&body, "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"%s\",\"params\":%s}", id, method, params);
    if (blen < 0) return set_err(c, "out of memory");
    char header[64];
    int hlen = snprintf(header, sizeof header, "Content-Length: %d\r\n\r\n", blen);
    int sent = send_all(c, header, (size_t)hlen) == 0 && send_all(c, body, (size_t)blen) == 0;
    free(body);
    if (!sent) return -1;
    /* The server may interleave notifications; a bounded number of them, then give up. */
    for (int frames = 0; frames < 10000; frames++) {
        json_doc doc = {0};
        if (read_frame(c, doing, &doc.body, &doc.len) != 0) return -1;
        if (json_parse(&doc) != 0 || doc.ntoks == 0 || doc.toks[0].type != JSON_OBJECT) {
            json_free(&doc);
            return set_err(c, "garbled answer while %s: not a JSON object", doing);
        }
        int idt = json_get(&doc, 0, "id");
        int has_method = json_get(&doc, 0, "method") >= 0;
        long got = -1;
        if (idt >= 0 && doc.toks[idt].type == JSON_PRIMITIVE && !has_method) {
            char num[24];
            size_t n = doc.toks[idt].end - doc.toks[idt].start;
            if (n < sizeof num) {
                memcpy(num, doc.body + doc.toks[idt].start, n);
                num[n] = '\0';
                char *e = NULL;
                got = strtol(num, &e, 10);
                if (*e != '\0') got = -1;
            }
        }
        if (got != id) {
            json_free(&doc);
            continue;
        }
        resp->doc = doc;
        resp->result = json_get(&resp->doc, 0, "result");
        resp->error = json_get(&resp->doc, 0, "error");
        if (resp->error >= 0) {
            int m = json_get(&resp->doc, resp->error, "message");
            if (m < 0 || json_string(&resp->doc, m, resp->error_message, sizeof resp->error_message) != 0)
                snprintf(resp->error_message, sizeof resp->error_message, "(no message)");
        }
        return 0;
    }
    return set_err(c, "no answer to request %ld while %s", id, doing);
}

int rpc_connect_handshake(rpc_conn *c, const char *token, int *refused) {
    *refused = 0;
    char *params = NULL;
    if (token != NULL && *token != '\0') {
        char *q = json_quote(token);
        if (q == NULL || asprintf(&params, "{\"token\":%s}", q) < 0) {
            free(q);
            return set_err(c, "out of memory");
        }
        free(q);
    } else {
        /* No token: the server may run without one; it says so if it needs one. */
        params = strdup("{}");
        if (params == NULL) return set_err(c, "out of memory");
    }
    rpc_response r;
    int rc = rpc_call(c, "connect", params, "waiting for the connect answer", &r);
    free(params);
    if (rc != 0) return -1;
    if (r.error >= 0) {
        *refused = 1;
        set_err(c, "connect refused: %s", r.error_message);
        rpc_response_free(&r);
        return -1;
    }
    int ok = r.result >= 0;
    rpc_response_free(&r);
    return ok ? 0 : set_err(c, "connect answer has neither result nor error");
}

/* ---- JSON ------------------------------------------------------------------------------------ */

typedef struct {
    json_doc *doc;
    size_t pos;
    int cap;
    json_tok scratch; /* write target while counting */
} parser;

static void skip_ws(parser *p) {
    const char *s = p->doc->body;
    while (p->pos < p->doc->len && (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r')) p->pos++;
}

/* With toks == NULL the parser only counts (first pass), so the token array is allocated exactly. */
static int new_tok(parser *p, json_type t, size_t start) {
    if (p->doc->ntoks >= p->cap) return -1;
    int i = p->doc->ntoks++;
    if (p->doc->toks != NULL) p->doc->toks[i] = (json_tok){.type = t, .start = start, .end = start, .size = 0, .next = 0};
    return i;
}

#define TOK(p, i) ((p)->doc->toks != NULL ? &(p)->doc->toks[i] : &(p)->scratch)

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int parse_string(parser *p) {
    const char *s = p->doc->body;
    size_t len = p->doc->len;
    p->pos++; /* opening quote */
    int t = new_tok(p, JSON_STRING, p->pos);
    if (t < 0) return -1;
    while (p->pos < len) {
        unsigned char ch = (unsigned char)s[p->pos];
        if (ch == '"') {
            TOK(p, t)->end = p->pos;
            p->pos++;
            TOK(p, t)->next = p->doc->ntoks;
            return 0;
        }
        if (ch < 0x20) return -1;
        if (ch == '\\') {
            if (p->pos + 1 >= len) return -1;
            char e = s[p->pos + 1];
            if (e == 'u') {
                if (p->pos + 5 >= len) return -1;
                for (int k = 2; k < 6; k++)
                    if (hexval(s[p->pos + k]) < 0) return -1;
                p->pos += 6;
                continue;
            }
            if (strchr("\"\\/bfnrt", e) == NULL || e == '\0') return -1;
            p->pos += 2;
            continue;
        }
        p->pos++;
    }
    return -1;
}

static int parse_value(parser *p, int depth);

static int parse_container(parser *p, int depth, int object) {
    if (depth > JSON_MAX_DEPTH) return -1;
    int t = new_tok(p, object ? JSON_OBJECT : JSON_ARRAY, p->pos);
    if (t < 0) return -1;
    p->pos++;
    skip_ws(p);
    const char close = object ? '}' : ']';
    if (p->pos < p->doc->len && p->doc->body[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            skip_ws(p);
            if (object) {
                if (p->pos >= p->doc->len || p->doc->body[p->pos] != '"' || parse_string(p) != 0) return -1;
                skip_ws(p);
                if (p->pos >= p->doc->len || p->doc->body[p->pos] != ':') return -1;
                p->pos++;
            }
            if (parse_value(p, depth + 1) != 0) return -1;
            TOK(p, t)->size++;
            skip_ws(p);
            if (p->pos >= p->doc->len) return -1;
            char ch = p->doc->body[p->pos++];
            if (ch == ',') continue;
            if (ch == close) break;
            return -1;
        }
    }
    TOK(p, t)->end = p->pos;
    TOK(p, t)->next = p->doc->ntoks;
    return 0;
}

static int parse_value(parser *p, int depth) {
    skip_ws(p);
    if (p->pos >= p->doc->len) return -1;
    char ch = p->doc->body[p->pos];
    if (ch == '{') return parse_container(p, depth, 1);
    if (ch == '[') return parse_container(p, depth, 0);
    if (ch == '"') return parse_string(p);
    int t = new_tok(p, JSON_PRIMITIVE, p->pos);
    if (t < 0) return -1;
    const char *s = p->doc->body + p->pos;
    size_t n = 0;
    while (p->pos + n < p->doc->len && strchr("0123456789+-.eEtruefalsn", s[n]) != NULL && s[n] != '\0') n++;
    if (n == 0) return -1;
    int literal = (n == 4 && memcmp(s, "true", 4) == 0) || (n == 5 && memcmp(s, "false", 5) == 0) || (n == 4 && memcmp(s, "null", 4) == 0);
    if (!literal) {
        /* A number: strtod must consume exactly these n bytes. */
        char buf[64];
        if (n >= sizeof buf || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))) return -1;
        memcpy(buf, s, n);
        buf[n] = '\0';
        char *e = NULL;
        (void)strtod(buf, &e);
        if (*e != '\0') return -1;
    }
    p->pos += n;
    TOK(p, t)->end = p->pos;
    TOK(p, t)->next = p->doc->ntoks;
    return 0;
}

int json_parse(json_doc *doc) {
    /* Two passes: count, then fill an array of exactly that many tokens. Every token needs at least
     * one byte of input, so the count is bounded by len/2+2 ("1,1,1") and by RPC_MAX_FRAME. */
    doc->toks = NULL;
    doc->ntoks = 0;
    parser p = {.doc = doc, .pos = 0, .cap = (int)(doc->len / 2 + 2)};
    if (parse_value(&p, 0) != 0) return -1;
    skip_ws(&p);
    if (p.pos != doc->len) return -1;
    int count = doc->ntoks;
    doc->toks = malloc(sizeof(json_tok) * (size_t)count);
    if (doc->toks == NULL) return -1;
    doc->ntoks = 0;
    p = (parser){.doc = doc, .pos = 0, .cap = count};
    return parse_value(&p, 0);
}

void json_free(json_doc *doc) {
    free(doc->body);
    free(doc->toks);
    doc->body = NULL;
    doc->toks = NULL;
    doc->ntoks = 0;
}

int json_get(const json_doc *doc, int obj, const char *key) {
    if (obj < 0 || obj >= doc->ntoks || doc->toks[obj].type != JSON_OBJECT) return -1;
    int i = obj + 1;
    char name[256];
    for (int m = 0; m < doc->toks[obj].size; m++) {
        int v = i + 1;
        if (json_string(doc, i, name, sizeof name) == 0 && strcmp(name, key) == 0) return v;
        i = doc->toks[v].next;
    }
    return -1;
}

static size_t put_utf8(char *out, unsigned cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static unsigned hex4(const char *s) {
    return (unsigned)(hexval(s[0]) << 12 | hexval(s[1]) << 8 | hexval(s[2]) << 4 | hexval(s[3]));
}

int json_string(const json_doc *doc, int i, char *out, size_t cap) {
    if (i < 0 || i >= doc->ntoks || doc->toks[i].type != JSON_STRING || cap == 0) return -1;
    const char *s = doc->body;
    size_t o = 0, end = doc->toks[i].end;
    for (size_t k = doc->toks[i].start; k < end;) {
        char tmp[4];
        size_t n = 1;
        if (s[k] != '\\') {
            tmp[0] = s[k++];
        } else {
            char e = s[k + 1];
            k += 2;
            switch (e) {
                case 'n': tmp[0] = '\n'; break;
                case 't': tmp[0] = '\t'; break;
                case 'r': tmp[0] = '\r'; break;
                case 'b': tmp[0] = '\b'; break;
                case 'f': tmp[0] = '\f'; break;
                case 'u': {
                    unsigned cp = hex4(s + k);
                    k += 4;
                    if (cp >= 0xD800 && cp < 0xDC00 && k + 6 <= end && s[k] == '\\' && s[k + 1] == 'u') {
                        unsigned lo = hex4(s + k + 2);
                        if (lo >= 0xDC00 && lo < 0xE000) {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            k += 6;
                        }
                    }
                    if (cp == 0) return -1; /* an embedded NUL would cut the C string short */
                    n = put_utf8(tmp, cp);
                    break;
                }
                default: tmp[0] = e; break;
            }
        }
        if (o + n >= cap) return -1;
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o] = '\0';
    return 0;
}

int json_is(const json_doc *doc, int i, const char *lit) {
    if (i < 0 || i >= doc->ntoks || doc->toks[i].type != JSON_PRIMITIVE) return 0;
    size_t n = doc->toks[i].end - doc->toks[i].start;
    return strlen(lit) == n && memcmp(doc->body + doc->toks[i].start, lit, n) == 0;
}

char *json_quote(const char *s) {
    size_t cap = strlen(s) * 6 + 3, o = 0;
    char *out = malloc(cap);
    if (out == NULL) return NULL;
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", *p);
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}
