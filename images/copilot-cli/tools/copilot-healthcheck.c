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
 * The wire code (framing, connect, JSON) is rpc.c, shared with copilot-session-cleanup.
 *
 * Usage: copilot-healthcheck [--host H] [--port P] [--timeout-ms N]
 * Env (flags win): COPILOT_HEALTHCHECK_HOST (127.0.0.1), COPILOT_HEALTHCHECK_PORT (4321),
 *                  COPILOT_HEALTHCHECK_TIMEOUT_MS (2000), COPILOT_CONNECTION_TOKEN (sent when set).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc.h"

static void fail(const char *fmt, ...) {
    va_list ap;
    fputs("copilot-healthcheck: unhealthy: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static long parse_long(const char *s, const char *what, long lo, long hi) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) fail("invalid %s: \"%s\"", what, s);
    return v;
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
    rpc_conn c = {.fd = -1};
    rpc_set_timeout(&c, parse_long(timeout, "timeout", 1, 600000));

    int refused = 0;
    if (rpc_dial(&c, host, port) != 0 || rpc_connect_handshake(&c, token, &refused) != 0) fail("%s", c.err);

    /* A per-run nonce, so an answer to someone else's ping (or a canned one) cannot pass. */
    char nonce[64], expected[96], ping_params[128], message[256];
    snprintf(nonce, sizeof nonce, "copilot-healthcheck-%ld-%lld", (long)getpid(), rpc_now_ms());
    snprintf(expected, sizeof expected, "pong: %s", nonce);
    snprintf(ping_params, sizeof ping_params, "{\"message\":\"%s\"}", nonce);
    rpc_response r;
    if (rpc_call(&c, "ping", ping_params, "waiting for the ping answer", &r) != 0) fail("%s", c.err);
    if (r.error >= 0) fail("ping refused: %s", r.error_message);
    if (r.result < 0) fail("ping answer has neither result nor error");
    if (json_string(&r.doc, json_get(&r.doc, r.result, "message"), message, sizeof message) != 0) message[0] = '\0';
    if (strcmp(message, expected) != 0) fail("wrong ping answer: \"%s\"", message);
    rpc_response_free(&r);
    rpc_close(&c);
    return 0;
}
