/* Load generator for bench/relay.py in C: K WebSocket viewers in one epoll loop, a drop-in for
 * bench/loadgen.mjs at a fraction of its CPU (the generator shares the machine's cores with the
 * relay it measures, so every µs it spends is one the relay did not get).
 *
 *   cc -O2 -o bench/build/loadgen bench/loadgen.c
 *   bench/build/loadgen --url ws://127.0.0.1:9000/view/bench --viewers 500
 *
 * The same flags, stdin lines and stdout JSON as loadgen.mjs: it opens the viewers (at most
 * --concurrency handshakes at a time), prints {"event":"connected",...} once every handshake has
 * ended, then reads lines on stdin: "start" opens the measuring window, "stop" closes it, prints
 * {"event":"result",...} and exits. Only frames received inside the window count.
 *
 * Per message it reads three header fields and nothing else (codec/FORMAT.md): flags (offset 6),
 * sequence (offset 8, u32 LE) and capture_time_us (offset 12, u64 LE, µs since the Unix epoch).
 * Latency = receipt time (CLOCK_REALTIME, taken once per read) − capture time.
 *
 * The client is a minimal RFC 6455 client: random Sec-WebSocket-Key, no extensions; it keeps the
 * first HEAD_BYTES of each message in its viewer's state and skips the rest of the payload without
 * copying it; it answers a ping with a masked pong and a close with a masked close, and sends
 * nothing else. Each read lands in one shared buffer; nothing is allocated per message.
 *
 * eventLoopUtilization is the fraction of the window's wall time it was not blocked in
 * epoll_wait (near 1: the generator itself was the bottleneck), as node's is for loadgen.mjs.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
    LATENCY_BUCKET_US = 100,
    LATENCY_BUCKETS = 100000, /* 10 s; later frames land in the last bucket */
    FLAG_CATCHUP = 0x02,      /* FORMAT.md, flags bit 1 */
    HEAD_BYTES = 20,          /* flags (6), sequence (8), capture_time_us (12-19) */
    FLAGS_OFFSET = 6,
    SEQUENCE_OFFSET = 8,
    CAPTURE_TIME_OFFSET = 12,
    OPCODE_BINARY = 0x2,
    OPCODE_CLOSE = 0x8,
    OPCODE_PING = 0x9,
    OPCODE_PONG = 0xA,
    MAX_CONTROL_PAYLOAD = 125,
    READ_BUFFER_BYTES = 256 * 1024, /* one read takes many frames of many messages */
    MAX_RESPONSE_BYTES = 8192,      /* the relay's 101 response is a few hundred bytes */
    MAX_EVENTS = 256,
    RAMP_TICK_MS = 50, /* how often handshake deadlines are checked while viewers connect */
    MAX_ERROR_KINDS = 32,
    MAX_ERROR_TEXT = 120,
};

enum viewer_state { IDLE, CONNECTING, HANDSHAKING, OPEN, CLOSED };

/* One viewer's connection. The frame parser's state survives between reads, so a frame header or
 * a message's first bytes may arrive split across any number of reads. */
struct viewer {
    int fd;
    enum viewer_state state;
    int64_t deadline_ms;   /* handshake deadline, CLOCK_MONOTONIC */
    char *response;        /* the HTTP response so far; only during the handshake */
    size_t response_fill;
    int64_t last_sequence; /* -1: none yet */
    uint32_t frames_in_window;
    uint32_t gaps_in_window;
    uint64_t remaining; /* payload bytes of the current frame still to come */
    uint8_t header[14];
    uint8_t header_fill;
    uint8_t header_need;
    uint8_t in_payload;
    uint8_t opcode;
    uint8_t head_fill;
    uint8_t head[MAX_CONTROL_PAYLOAD];
};

static struct viewer *viewers;
static long viewer_count, concurrency, handshake_timeout_ms;
static long opened, failed, closed_early, next_to_open, in_flight;
static int measuring, stopping, connected_reported, window_started;
static uint32_t *latency_histogram;
static uint8_t read_buffer[READ_BUFFER_BYTES];
static int epoll_fd;
static struct addrinfo *target;
static char request_text[2048];
static size_t request_key_at; /* where the 24 characters of the key go in request_text */
static uint64_t mask_state;

static struct { char text[MAX_ERROR_TEXT]; long count; } error_kinds[MAX_ERROR_KINDS];
static int error_kind_count;
static long errors_uncounted; /* kinds past MAX_ERROR_KINDS */

static int64_t monotonic_us(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static int64_t realtime_us(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static void note_error(const char *text) {
    for (int i = 0; i < error_kind_count; i++) {
        if (strcmp(error_kinds[i].text, text) == 0) {
            error_kinds[i].count++;
            return;
        }
    }
    if (error_kind_count == MAX_ERROR_KINDS) {
        errors_uncounted++;
        return;
    }
    snprintf(error_kinds[error_kind_count].text, MAX_ERROR_TEXT, "%s", text);
    error_kinds[error_kind_count++].count = 1;
}

static void print_json_string(const char *text) {
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\') printf("\\%c", *c);
        else if (*c < 0x20) printf("\\u%04x", *c);
        else putchar(*c);
    }
    putchar('"');
}

static void print_errors(void) {
    printf("\"errors\":{");
    for (int i = 0; i < error_kind_count; i++) {
        if (i) putchar(',');
        print_json_string(error_kinds[i].text);
        printf(":%ld", error_kinds[i].count);
    }
    if (errors_uncounted) printf("%s\"other errors\":%ld", error_kind_count ? "," : "", errors_uncounted);
    putchar('}');
}

/* ------------------------------------------------------------------------------------------- */
/* Messages. */

static uint32_t read_u32le(const uint8_t *at) {
    return (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 | (uint32_t)at[3] << 24;
}

static void on_message(struct viewer *viewer, int64_t now_us) {
    const uint8_t *head = viewer->head;
    uint32_t sequence = read_u32le(head + SEQUENCE_OFFSET);
    if (measuring) {
        viewer->frames_in_window++;
        int64_t captured_us = (int64_t)(read_u32le(head + CAPTURE_TIME_OFFSET)
                                        | (uint64_t)read_u32le(head + CAPTURE_TIME_OFFSET + 4) << 32);
        int64_t bucket = (now_us - captured_us) / LATENCY_BUCKET_US;
        if (now_us < captured_us) bucket = 0;
        else if (bucket > LATENCY_BUCKETS) bucket = LATENCY_BUCKETS;
        latency_histogram[bucket]++;
        if (viewer->last_sequence >= 0 && sequence != (uint32_t)(viewer->last_sequence + 1)
            && !(head[FLAGS_OFFSET] & FLAG_CATCHUP)) {
            viewer->gaps_in_window++;
        }
    }
    viewer->last_sequence = sequence;
}

/* ------------------------------------------------------------------------------------------- */
/* Connections. */

static void report_connected(void);
static void open_next(int64_t now_ms);

static void close_viewer(struct viewer *viewer) {
    if (viewer->fd >= 0) close(viewer->fd); /* close() also takes it out of the epoll set */
    viewer->fd = -1;
    free(viewer->response);
    viewer->response = NULL;
}

/* A handshake ended: the viewer is open (ok) or has failed; let the next one start. */
static void settle(struct viewer *viewer, int ok, const char *reason) {
    in_flight--;
    if (ok) {
        opened++;
        viewer->state = OPEN;
    } else {
        failed++;
        note_error(reason);
        close_viewer(viewer);
        viewer->state = CLOSED;
    }
    if (opened + failed == viewer_count) report_connected();
}

/* The relay closed an open viewer, or its connection broke. */
static void lose_viewer(struct viewer *viewer) {
    if (viewer->state == HANDSHAKING || viewer->state == CONNECTING) {
        settle(viewer, 0, "closed before the handshake ended");
        return;
    }
    close_viewer(viewer);
    viewer->state = CLOSED;
    if (!stopping) {
        closed_early++;
        note_error("closed by relay");
    }
}

static uint32_t next_mask(void) {
    mask_state ^= mask_state << 13; /* xorshift64: masks need to vary, not to be secret */
    mask_state ^= mask_state >> 7;
    mask_state ^= mask_state << 17;
    return (uint32_t)mask_state;
}

/* A client frame carries a masked payload (RFC 6455 5.3); a viewer sends only pongs and closes. */
static void send_control(struct viewer *viewer, int opcode, const uint8_t *payload, size_t length) {
    uint8_t frame[6 + MAX_CONTROL_PAYLOAD];
    uint32_t mask = next_mask();
    frame[0] = (uint8_t)(0x80 | opcode);
    frame[1] = (uint8_t)(0x80 | length);
    memcpy(frame + 2, &mask, 4);
    for (size_t i = 0; i < length; i++) frame[6 + i] = payload[i] ^ frame[2 + (i & 3)];
    /* A viewer's send buffer is empty but for these, so the send either goes whole or the
     * connection is broken; a broken one shows as an error on its next read. */
    (void)send(viewer->fd, frame, 6 + length, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void end_frame(struct viewer *viewer, int64_t now_us) {
    viewer->in_payload = 0;
    if (viewer->opcode == OPCODE_BINARY) {
        if (viewer->head_fill >= HEAD_BYTES) on_message(viewer, now_us);
    } else if (viewer->opcode == OPCODE_PING) {
        send_control(viewer, OPCODE_PONG, viewer->head, viewer->head_fill);
    } else if (viewer->opcode == OPCODE_CLOSE) {
        /* Echo the status code (RFC 6455 5.5.1), then wait for the relay to close the TCP side. */
        send_control(viewer, OPCODE_CLOSE, viewer->head, viewer->head_fill >= 2 ? 2 : 0);
        shutdown(viewer->fd, SHUT_WR);
    }
}

/* Walk the frames in data[0..length); whatever is cut off at the end stays in the parser's state. */
static void on_frames(struct viewer *viewer, const uint8_t *data, size_t length, int64_t now_us) {
    size_t position = 0;
    while (position < length) {
        if (!viewer->in_payload) {
            while (viewer->header_fill < viewer->header_need && position < length) {
                viewer->header[viewer->header_fill++] = data[position++];
            }
            if (viewer->header_fill < viewer->header_need) return;
            int length7 = viewer->header[1] & 0x7f;
            if (viewer->header_fill == 2) {
                int extended = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
                int mask_bytes = viewer->header[1] & 0x80 ? 4 : 0; /* servers do not mask; be tolerant */
                viewer->header_need = (uint8_t)(2 + extended + mask_bytes);
                if (viewer->header_need > 2) continue;
            }
            const uint8_t *h = viewer->header;
            if (length7 == 126) {
                viewer->remaining = (uint64_t)h[2] << 8 | h[3];
            } else if (length7 == 127) {
                viewer->remaining = 0;
                for (int i = 2; i < 10; i++) viewer->remaining = viewer->remaining << 8 | h[i];
            } else {
                viewer->remaining = (uint64_t)length7;
            }
            viewer->opcode = h[0] & 0x0f;
            viewer->header_fill = 0;
            viewer->header_need = 2;
            viewer->head_fill = 0;
            viewer->in_payload = 1;
            if (viewer->remaining == 0) {
                end_frame(viewer, now_us);
                continue;
            }
        }
        size_t available = length - position;
        size_t take = viewer->remaining < available ? (size_t)viewer->remaining : available;
        size_t keep_limit = viewer->opcode >= OPCODE_CLOSE ? MAX_CONTROL_PAYLOAD : HEAD_BYTES;
        if (viewer->head_fill < keep_limit) {
            size_t keep = keep_limit - viewer->head_fill;
            if (keep > take) keep = take;
            memcpy(viewer->head + viewer->head_fill, data + position, keep);
            viewer->head_fill = (uint8_t)(viewer->head_fill + keep);
        }
        position += take;
        viewer->remaining -= take;
        if (viewer->remaining == 0) end_frame(viewer, now_us);
    }
}

/* The HTTP response so far; once it is whole, the viewer is open or has failed. Returns how many
 * bytes of data[0..length) came after the response (frames that followed the 101 in one read). */
static size_t on_response(struct viewer *viewer, const uint8_t *data, size_t length, int *done) {
    *done = 0;
    if (viewer->response == NULL) viewer->response = malloc(MAX_RESPONSE_BYTES + 1);
    if (viewer->response == NULL) {
        settle(viewer, 0, "out of memory");
        return 0;
    }
    size_t before = viewer->response_fill;
    size_t room = MAX_RESPONSE_BYTES - before;
    size_t copy = length < room ? length : room;
    memcpy(viewer->response + before, data, copy);
    viewer->response_fill += copy;
    viewer->response[viewer->response_fill] = '\0';
    char *end = strstr(viewer->response, "\r\n\r\n");
    if (end == NULL) {
        if (viewer->response_fill == MAX_RESPONSE_BYTES) settle(viewer, 0, "handshake response too long");
        return 0;
    }
    size_t header_bytes = (size_t)(end + 4 - viewer->response);
    if (strncmp(viewer->response, "HTTP/1.1 101 ", 13) != 0) {
        char status[MAX_ERROR_TEXT];
        char *line_end = strstr(viewer->response, "\r\n");
        *line_end = '\0';
        /* "HTTP/1.1 403 Forbidden" is noted as "HTTP 403 Forbidden", as loadgen.mjs notes it */
        const char *rest = strncmp(viewer->response, "HTTP/1.1 ", 9) == 0 ? viewer->response + 9 : viewer->response;
        snprintf(status, sizeof status, "HTTP %s", rest);
        settle(viewer, 0, status);
        return 0;
    }
    free(viewer->response);
    viewer->response = NULL;
    viewer->response_fill = 0;
    settle(viewer, 1, NULL);
    *done = 1;
    return length - (header_bytes - before);
}

static void on_readable(struct viewer *viewer) {
    ssize_t got = read(viewer->fd, read_buffer, sizeof read_buffer);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (got <= 0) {
        lose_viewer(viewer);
        return;
    }
    size_t position = 0;
    if (viewer->state == HANDSHAKING) {
        int done;
        size_t after = on_response(viewer, read_buffer, (size_t)got, &done);
        if (!done) return;
        position = (size_t)got - after;
    }
    if (position < (size_t)got) on_frames(viewer, read_buffer + position, (size_t)got - position, realtime_us());
}

static void base64_key(char out[25]) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t key[18] = {0};
    if (getrandom(key, 16, 0) != 16) { /* no entropy source: any nonce does for a load generator */
        uint64_t fallback = (uint64_t)monotonic_us();
        memcpy(key, &fallback, sizeof fallback);
    }
    for (int i = 0, o = 0; i < 18; i += 3, o += 4) {
        uint32_t triple = (uint32_t)key[i] << 16 | (uint32_t)key[i + 1] << 8 | key[i + 2];
        out[o] = alphabet[triple >> 18 & 63];
        out[o + 1] = alphabet[triple >> 12 & 63];
        out[o + 2] = alphabet[triple >> 6 & 63];
        out[o + 3] = alphabet[triple & 63];
    }
    out[22] = out[23] = '='; /* 16 bytes: 22 characters and two pads */
    out[24] = '\0';
}

static void on_connected_socket(struct viewer *viewer) {
    int error = 0;
    socklen_t size = sizeof error;
    getsockopt(viewer->fd, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error) {
        settle(viewer, 0, strerror(error));
        return;
    }
    char key[25];
    base64_key(key);
    memcpy(request_text + request_key_at, key, 24);
    size_t length = strlen(request_text);
    if (send(viewer->fd, request_text, length, MSG_NOSIGNAL) != (ssize_t)length) {
        settle(viewer, 0, errno ? strerror(errno) : "short write of the handshake");
        return;
    }
    viewer->state = HANDSHAKING;
    struct epoll_event event = {.events = EPOLLIN, .data.u32 = (uint32_t)(viewer - viewers)};
    epoll_ctl(epoll_fd, EPOLL_CTL_MOD, viewer->fd, &event);
}

static void open_next(int64_t now_ms) {
    while (in_flight < concurrency && next_to_open < viewer_count) {
        struct viewer *viewer = &viewers[next_to_open];
        uint32_t index = (uint32_t)next_to_open++;
        in_flight++;
        viewer->state = CONNECTING;
        viewer->deadline_ms = now_ms + handshake_timeout_ms;
        viewer->fd = socket(target->ai_family, target->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                            target->ai_protocol);
        if (viewer->fd < 0) {
            settle(viewer, 0, strerror(errno));
            continue;
        }
        int one = 1;
        setsockopt(viewer->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(viewer->fd, target->ai_addr, target->ai_addrlen) < 0 && errno != EINPROGRESS) {
            settle(viewer, 0, strerror(errno));
            continue;
        }
        struct epoll_event event = {.events = EPOLLOUT, .data.u32 = index};
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, viewer->fd, &event);
    }
}

static void expire_handshakes(int64_t now_ms) {
    for (long i = 0; i < next_to_open; i++) {
        struct viewer *viewer = &viewers[i];
        if ((viewer->state == CONNECTING || viewer->state == HANDSHAKING) && now_ms >= viewer->deadline_ms) {
            settle(viewer, 0, "handshake timed out");
        }
    }
}

/* ------------------------------------------------------------------------------------------- */
/* Reports. */

static int64_t started_us, window_start_us, idle_us, window_idle_start_us;

static void report_connected(void) {
    if (connected_reported) return;
    connected_reported = 1;
    printf("{\"event\":\"connected\",\"opened\":%ld,\"failed\":%ld,\"rampMs\":%lld,", opened, failed,
           (long long)((monotonic_us() - started_us) / 1000));
    print_errors();
    printf("}\n");
    fflush(stdout);
}

static void start_window(void) {
    for (long i = 0; i < viewer_count; i++) viewers[i].frames_in_window = viewers[i].gaps_in_window = 0;
    memset(latency_histogram, 0, (LATENCY_BUCKETS + 1) * sizeof *latency_histogram);
    window_start_us = monotonic_us();
    window_idle_start_us = idle_us;
    window_started = 1;
    measuring = 1;
}

static void stop_window(void) {
    measuring = 0;
    stopping = 1;
    int64_t window_us = monotonic_us() - window_start_us;
    printf("{\"event\":\"result\",\"viewers\":%ld,\"opened\":%ld,\"failed\":%ld,\"closedEarly\":%ld,"
           "\"windowS\":%.6f,\"framesPerViewer\":[", viewer_count, opened, failed, closed_early, window_us / 1e6);
    for (long i = 0; i < viewer_count; i++) printf(i ? ",%u" : "%u", viewers[i].frames_in_window);
    printf("],\"gapsPerViewer\":[");
    for (long i = 0; i < viewer_count; i++) printf(i ? ",%u" : "%u", viewers[i].gaps_in_window);
    printf("],\"latencyBucketUs\":%d,\"latencyHistogram\":[", LATENCY_BUCKET_US);
    int first = 1;
    for (long bucket = 0; bucket <= LATENCY_BUCKETS; bucket++) {
        if (latency_histogram[bucket]) {
            printf(first ? "[%ld,%u]" : ",[%ld,%u]", bucket, latency_histogram[bucket]);
            first = 0;
        }
    }
    double busy = window_us > 0 ? 1.0 - (double)(idle_us - window_idle_start_us) / (double)window_us : 0.0;
    if (window_started) printf("],\"eventLoopUtilization\":%.6f,", busy < 0 ? 0.0 : busy);
    else printf("],\"eventLoopUtilization\":null,");
    print_errors();
    printf("}\n");
    fflush(stdout);
    exit(0);
}

/* Lines on stdin: "start", "stop"; end of input before "stop" ends the generator. */
static void on_stdin(void) {
    static char line[256];
    static size_t fill;
    ssize_t got = read(STDIN_FILENO, line + fill, sizeof line - 1 - fill);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (got <= 0) exit(0);
    fill += (size_t)got;
    char *newline;
    while ((newline = memchr(line, '\n', fill)) != NULL) {
        *newline = '\0';
        char *command = line;
        while (*command == ' ' || *command == '\t') command++;
        size_t length = strlen(command);
        while (length && (command[length - 1] == ' ' || command[length - 1] == '\t' || command[length - 1] == '\r')) {
            command[--length] = '\0';
        }
        if (strcmp(command, "start") == 0) start_window();
        else if (strcmp(command, "stop") == 0) stop_window();
        size_t used = (size_t)(newline + 1 - line);
        memmove(line, newline + 1, fill - used);
        fill -= used;
    }
    if (fill == sizeof line - 1) fill = 0; /* a line this long is no command */
}

/* ------------------------------------------------------------------------------------------- */
/* Setup. */

static void usage(const char *problem) {
    if (problem) fprintf(stderr, "loadgen: %s\n", problem);
    fprintf(stderr, "usage: loadgen --url ws://host:port/view/<name> --viewers K [--concurrency N] "
                    "[--handshake-timeout-ms MS] [--client raw]\n");
    exit(2);
}

static long parse_count(const char *flag, const char *text) {
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || *end || end == text || value < 0) {
        fprintf(stderr, "loadgen: %s wants a whole number, got %s\n", flag, text);
        exit(2);
    }
    return value;
}

/* ws://host[:port][/path] into host, port and path, and the HTTP request every viewer sends. */
static void prepare_target(const char *url) {
    if (strncmp(url, "ws://", 5) != 0) usage("--url must be ws://host:port/path (no TLS here)");
    const char *authority = url + 5;
    const char *path = strchr(authority, '/');
    size_t authority_length = path ? (size_t)(path - authority) : strlen(authority);
    if (!path) path = "/";
    char host_header[512], host[512], port[16] = "80";
    if (authority_length == 0 || authority_length >= sizeof host_header) usage("--url has no host");
    memcpy(host_header, authority, authority_length);
    host_header[authority_length] = '\0';
    strcpy(host, host_header);
    char *colon = strrchr(host, ':');
    char *bracket = strchr(host, ']');
    if (colon && (!bracket || colon > bracket)) {
        snprintf(port, sizeof port, "%s", colon + 1);
        *colon = '\0';
    }
    if (host[0] == '[') { /* [::1] */
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int status = getaddrinfo(host, port, &hints, &target);
    if (status) {
        fprintf(stderr, "loadgen: %s: %s\n", host, gai_strerror(status));
        exit(2);
    }
    int length = snprintf(request_text, sizeof request_text,
                          "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: ", path, host_header);
    if (length < 0 || (size_t)length + 64 >= sizeof request_text) usage("--url is too long");
    request_key_at = (size_t)length;
    snprintf(request_text + length, sizeof request_text - (size_t)length,
             "%s\r\nSec-WebSocket-Version: 13\r\n\r\n", "........................");
}

/* As node does at start: a soft limit of 1024 descriptors would cap K. */
static void raise_descriptor_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

int main(int argc, char **argv) {
    const char *url = NULL;
    viewer_count = 10;
    concurrency = 50;
    handshake_timeout_ms = 30000;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        const char *value = NULL;
        char name[64];
        const char *equals = strchr(flag, '=');
        if (equals && (size_t)(equals - flag) < sizeof name) { /* --flag=value, as node's parseArgs takes */
            memcpy(name, flag, (size_t)(equals - flag));
            name[equals - flag] = '\0';
            flag = name;
            value = equals + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            usage("a flag without its value");
        }
        if (strcmp(flag, "--url") == 0) url = value;
        else if (strcmp(flag, "--viewers") == 0) viewer_count = parse_count(flag, value);
        else if (strcmp(flag, "--concurrency") == 0) concurrency = parse_count(flag, value);
        else if (strcmp(flag, "--handshake-timeout-ms") == 0) handshake_timeout_ms = parse_count(flag, value);
        else if (strcmp(flag, "--client") == 0) {
            if (strcmp(value, "raw") != 0) usage("--client: only raw here (the ws client is loadgen.mjs's)");
        } else {
            usage("unknown flag");
        }
    }
    if (!url) usage(NULL);
    if (concurrency < 1) concurrency = 1;
    prepare_target(url);
    raise_descriptor_limit();

    viewers = calloc((size_t)(viewer_count ? viewer_count : 1), sizeof *viewers);
    latency_histogram = calloc(LATENCY_BUCKETS + 1, sizeof *latency_histogram);
    if (!viewers || !latency_histogram) {
        fprintf(stderr, "loadgen: out of memory for %ld viewers\n", viewer_count);
        return 1;
    }
    for (long i = 0; i < viewer_count; i++) {
        viewers[i].fd = -1;
        viewers[i].last_sequence = -1;
        viewers[i].header_need = 2;
    }
    if (getrandom(&mask_state, sizeof mask_state, 0) != sizeof mask_state || mask_state == 0) {
        mask_state = 0x9e3779b97f4a7c15u ^ (uint64_t)monotonic_us();
    }

    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) {
        perror("loadgen: epoll_create1");
        return 1;
    }
    const uint32_t stdin_tag = UINT32_MAX;
    struct epoll_event stdin_event = {.events = EPOLLIN, .data.u32 = stdin_tag};
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, STDIN_FILENO, &stdin_event) < 0) {
        /* stdin is a file or /dev/null (epoll refuses those): no commands will come */
        stdin_event.data.u32 = stdin_tag;
    }

    started_us = monotonic_us();
    if (viewer_count == 0) report_connected();
    open_next(started_us / 1000);

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int timeout_ms = connected_reported ? -1 : RAMP_TICK_MS;
        int64_t before = monotonic_us();
        int ready = epoll_wait(epoll_fd, events, MAX_EVENTS, timeout_ms);
        int64_t after = monotonic_us();
        idle_us += after - before;
        if (ready < 0) {
            if (errno == EINTR) continue;
            perror("loadgen: epoll_wait");
            return 1;
        }
        for (int e = 0; e < ready; e++) {
            uint32_t tag = events[e].data.u32;
            if (tag == stdin_tag) {
                on_stdin();
                continue;
            }
            struct viewer *viewer = &viewers[tag];
            if (viewer->state == CONNECTING) on_connected_socket(viewer);
            else if (viewer->state == HANDSHAKING || viewer->state == OPEN) on_readable(viewer);
        }
        if (!connected_reported) {
            int64_t now_ms = after / 1000;
            expire_handshakes(now_ms);
            open_next(now_ms);
        }
    }
}
