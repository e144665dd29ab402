/*
 * The Copilot CLI server's wire protocol, shared by copilot-healthcheck and copilot-session-cleanup:
 * JSON-RPC 2.0 over raw TCP with LSP framing ("Content-Length: N\r\n\r\n<json>"), the `connect`
 * handshake with the connection token, and a small bounded JSON tokenizer for the answers.
 *
 * Nothing here exits or prints: every function returns 0 / -1 (or an index / -1) and, on failure,
 * leaves one human-readable reason in conn->err, so a one-shot tool can die with it and a loop can
 * log it and carry on. Every read is bounded by a deadline and every buffer by RPC_MAX_FRAME.
 */
#ifndef COPILOT_RPC_H
#define COPILOT_RPC_H

#include <stddef.h>

/* One answer may list every session (~400 bytes each): 8 MiB is ~20 000 sessions. */
#define RPC_MAX_FRAME (8 * 1024 * 1024)
#define RPC_MAX_HEADER 4096
/* Nesting deeper than this is not something the server sends; refusing it bounds the recursion. */
#define JSON_MAX_DEPTH 64

typedef enum { JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_PRIMITIVE } json_type;

/* One token of a parsed document. Strings span their contents without quotes (still escaped). */
typedef struct {
    json_type type;
    size_t start, end;
    int size; /* object: members; array: elements */
    int next; /* index of the first token after this value's subtree */
} json_tok;

typedef struct {
    char *body; /* NUL-terminated frame body */
    size_t len;
    json_tok *toks;
    int ntoks;
} json_doc;

/* Tokenizes body[0..len) (a whole document, nothing after it but whitespace). 0 or -1. */
int json_parse(json_doc *doc);
void json_free(json_doc *doc);
/* Index of `key`'s value in object token `obj`, or -1 (also when obj is not an object). */
int json_get(const json_doc *doc, int obj, const char *key);
/* Decodes string token i (escapes, \uXXXX incl. surrogate pairs -> UTF-8) into out. -1 if not a
 * string, malformed, or longer than cap-1 bytes: truncating an id would name another session. */
int json_string(const json_doc *doc, int i, char *out, size_t cap);
/* 1 when token i is exactly the primitive literal `lit` (e.g. "true"). */
int json_is(const json_doc *doc, int i, const char *lit);
/* Appends s as a JSON string literal (quotes, escapes) to a malloc'd buffer. NULL on OOM. */
char *json_quote(const char *s);

typedef struct {
    int fd;
    long long deadline_ms; /* CLOCK_MONOTONIC ms; every wait gives up at this instant */
    char *rbuf;
    size_t rlen;
    long next_id;
    char err[512];
} rpc_conn;

typedef struct {
    json_doc doc;
    int result; /* token index of "result", or -1 */
    int error;  /* token index of "error", or -1 */
    char error_message[256];
} rpc_response;

long long rpc_now_ms(void);
/* Sets the deadline for the next operations to now + ms. */
void rpc_set_timeout(rpc_conn *c, long ms);
/* Resolves host and connects (non-blocking, within the deadline). 0 or -1. */
int rpc_dial(rpc_conn *c, const char *host, const char *port);
void rpc_close(rpc_conn *c);
/* Sends `method` with `params` (a JSON text) and waits for the answer with the same id, skipping
 * notifications and server requests. `doing` names the wait in timeout messages. A JSON-RPC error
 * answer is still 0 (resp->error >= 0, message in resp->error_message); -1 is transport/garble. */
int rpc_call(rpc_conn *c, const char *method, const char *params, const char *doing, rpc_response *resp);
void rpc_response_free(rpc_response *resp);
/* `connect` with the token (omitted when NULL or empty). 0 when the server accepted; -1 with
 * err "connect refused: <server message>" (e.g. AUTHENTICATION_FAILED) or a transport reason.
 * *refused is set to 1 only when the server answered with an error (auth), 0 otherwise. */
int rpc_connect_handshake(rpc_conn *c, const char *token, int *refused);
/* Splits "host:port" or "[v6]:port" into the given buffers. 0 or -1. */
int rpc_split_endpoint(const char *endpoint, char *host, size_t hcap, char *port, size_t pcap);

#endif
