/*  System tests of the local notification sinks (tools/sinks) that every harness starts,
    driven as the notify daemon's sender drives them, with libcurl.

    SMTP sink: an email over smtp:// with STARTTLS required and AUTH, stored byte for byte
    and indexed; a wrong password gets 535 and a client that skips STARTTLS gets 530,
    neither stored.

    SMS stub (Twilio's Messages API): a send with HTTP Basic gets 201 and the Message
    resource (segments counted as Twilio counts them); bad credentials get 401 and code
    20003; each validation error its Twilio code; status callbacks (sent, delivered; the
    simulated failures) reach a small HTTP listener in this test with a valid
    X-Twilio-Signature, a callback answered 503 is retried; inbound webhooks and arbitrary
    signed callbacks are relayed; the list filters by To, pages and DateSent; each test
    failure mode (500, 429 with Retry-After, slow, drop_before_read, drop_after_read with
    the message stored), and libcurl's own resend when a reused connection dies without
    an answer (a duplicate after drop_after_read); and the throughput of both over one
    kept-alive connection.

    The signature is checked with OpenSSL's HMAC-SHA1, reached through dlopen: the
    Makefile links the system tests with one set of libraries, and OpenSSL's libcrypto is
    loaded in this process anyway (libcurl and libpq use it). */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <dlfcn.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <regex.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static harness_t *h;

//  --- A webhook listener: what the stub POSTs to the suite comes here instead -----------

typedef struct {
    char path[256];      // the request's path (without the query)
    char signature[128]; // X-Twilio-Signature
    char token[128];     // I-Twilio-Idempotency-Token
    char content_type[128];
    json_t *pairs;  // [[name, value], ...] in the order sent
    json_t *params; // {name: value}
} hook_t;

#define MAX_HOOKS 512
static struct {
    pthread_mutex_t lock;
    hook_t hooks[MAX_HOOKS];
    size_t count;
    int fail_flaky; // answer 503 to this many requests to /flaky first
    struct MHD_Daemon *daemon;
    char url[64]; // http://127.0.0.1:PORT
} s_listener = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const char *const s_twiml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                                   "<Response><Message>Thanks, noted</Message></Response>";

//  A form field decoded in place: '+' is a space, %XX a byte.
static char *s_form_decode(const char *text, size_t len) {
    char *plus = strndup(text, len);
    for (char *p = plus; *p; p++)
        if (*p == '+')
            *p = ' ';
    int out_len = 0;
    char *decoded = curl_easy_unescape(NULL, plus, 0, &out_len);
    char *copy = strndup(decoded, (size_t)out_len);
    curl_free(decoded);
    free(plus);
    return copy;
}

static const char *s_header(struct MHD_Connection *conn, const char *name) {
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
    return v ? v : "";
}

//  One request to the listener: its body is gathered, then recorded and answered.
static enum MHD_Result s_on_hook(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_size, void **state) {
    (void)cls, (void)method, (void)version;
    if (!*state) {
        *state = zchunk_new(NULL, 512);
        return MHD_YES;
    }
    zchunk_t *body = *state;
    if (*upload_size) {
        zchunk_extend(body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    hook_t hook = {.pairs = json_array(), .params = json_object()};
    snprintf(hook.path, sizeof hook.path, "%s", url);
    snprintf(hook.signature, sizeof hook.signature, "%s", s_header(conn, "X-Twilio-Signature"));
    snprintf(hook.token, sizeof hook.token, "%s", s_header(conn, "I-Twilio-Idempotency-Token"));
    snprintf(hook.content_type, sizeof hook.content_type, "%s", s_header(conn, "Content-Type"));
    const char *text = (const char *)zchunk_data(body);
    size_t size = zchunk_size(body);
    for (size_t start = 0; start < size;) {
        const char *amp = memchr(text + start, '&', size - start);
        size_t end = amp ? (size_t)(amp - text) : size;
        const char *eq = memchr(text + start, '=', end - start);
        if (eq) {
            char *name = s_form_decode(text + start, (size_t)(eq - text) - start);
            char *value = s_form_decode(eq + 1, end - (size_t)(eq - text) - 1);
            json_array_append_new(hook.pairs, json_pack("[ss]", name, value));
            json_object_set_new(hook.params, name, json_string(value));
            free(name);
            free(value);
        }
        start = end + 1;
    }
    unsigned status = MHD_HTTP_OK;
    pthread_mutex_lock(&s_listener.lock);
    if (strncmp(url, "/flaky", 6) == 0 && s_listener.fail_flaky > 0) {
        s_listener.fail_flaky--;
        status = MHD_HTTP_SERVICE_UNAVAILABLE;
    }
    if (s_listener.count < MAX_HOOKS)
        s_listener.hooks[s_listener.count++] = hook;
    else
        json_decref(hook.pairs), json_decref(hook.params);
    pthread_mutex_unlock(&s_listener.lock);

    const char *answer = status == MHD_HTTP_OK ? s_twiml : "try later";
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(answer), (void *)answer, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(response, "Content-Type",
                            status == MHD_HTTP_OK ? "text/xml" : "text/plain");
    enum MHD_Result rc = MHD_queue_response(conn, status, response);
    MHD_destroy_response(response);
    return rc;
}

static void s_on_hook_done(void *cls, struct MHD_Connection *conn, void **state,
                           enum MHD_RequestTerminationCode code) {
    (void)cls, (void)conn, (void)code;
    zchunk_t *body = *state;
    zchunk_destroy(&body);
    *state = NULL;
}

static void s_listener_start(void) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    s_listener.daemon =
        MHD_start_daemon(MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, s_on_hook,
                         NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                         MHD_OPTION_NOTIFY_COMPLETED, s_on_hook_done, NULL, MHD_OPTION_END);
    assert_non_null(s_listener.daemon);
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(s_listener.daemon, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(s_listener.url, sizeof s_listener.url, "http://127.0.0.1:%u", (unsigned)info->port);
}

static void s_listener_stop(void) {
    if (s_listener.daemon)
        MHD_stop_daemon(s_listener.daemon);
    s_listener.daemon = NULL;
    for (size_t i = 0; i < s_listener.count; i++) {
        json_decref(s_listener.hooks[i].pairs);
        json_decref(s_listener.hooks[i].params);
    }
    s_listener.count = 0;
}

//  Copies (new references) of the hooks received on path whose param name equals value
//  (name NULL: all of them), oldest first, into out; their number.
static size_t s_hooks(const char *path, const char *name, const char *value, hook_t *out,
                      size_t max) {
    size_t n = 0;
    pthread_mutex_lock(&s_listener.lock);
    for (size_t i = 0; i < s_listener.count && n < max; i++) {
        hook_t *hook = &s_listener.hooks[i];
        const char *v = name ? json_string_value(json_object_get(hook->params, name)) : NULL;
        if (strcmp(hook->path, path) == 0 && (!name || (v && strcmp(v, value) == 0))) {
            out[n] = *hook;
            json_incref(out[n].pairs);
            json_incref(out[n].params);
            n++;
        }
    }
    pthread_mutex_unlock(&s_listener.lock);
    return n;
}

//  Wait until at least want such hooks arrived; their number (fewer after timeout_ms).
static size_t s_wait_hooks(const char *path, const char *name, const char *value, hook_t *out,
                           size_t max, size_t want, int timeout_ms) {
    int64_t until = zclock_mono() + timeout_ms;
    while (true) {
        size_t n = s_hooks(path, name, value, out, max);
        if (n >= want || zclock_mono() > until)
            return n;
        for (size_t i = 0; i < n; i++)
            json_decref(out[i].pairs), json_decref(out[i].params);
        usleep(20 * 1000);
    }
}

static void s_hooks_free(hook_t *hooks, size_t n) {
    for (size_t i = 0; i < n; i++)
        json_decref(hooks[i].pairs), json_decref(hooks[i].params);
}

//  --- X-Twilio-Signature, computed independently of the stub ----------------------------

static int s_by_name(const void *a, const void *b) {
    json_t *const *x = a, *const *y = b;
    return strcmp(json_string_value(json_array_get(*x, 0)),
                  json_string_value(json_array_get(*y, 0)));
}

//  Base64(HMAC-SHA1(auth token, url + each name and value, in name order)) into out.
static void s_expected_signature(const char *url, json_t *pairs, char *out, size_t size) {
    size_t n = json_array_size(pairs);
    json_t **sorted = calloc(n ? n : 1, sizeof *sorted);
    for (size_t i = 0; i < n; i++)
        sorted[i] = json_array_get(pairs, i);
    qsort(sorted, n, sizeof *sorted, s_by_name);
    char *data = NULL;
    size_t data_len = 0;
    FILE *f = open_memstream(&data, &data_len);
    fputs(url, f);
    for (size_t i = 0; i < n; i++) {
        fputs(json_string_value(json_array_get(sorted[i], 0)), f);
        fputs(json_string_value(json_array_get(sorted[i], 1)), f);
    }
    fclose(f);
    free(sorted);

    static void *crypto;
    if (!crypto)
        crypto = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    assert_non_null(crypto);
    __typeof__(HMAC) *hmac;
    __typeof__(EVP_sha1) *sha1;
    *(void **)&hmac = dlsym(crypto, "HMAC");
    *(void **)&sha1 = dlsym(crypto, "EVP_sha1");
    assert_true(hmac && sha1);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    const char *key = h->sms_auth_token;
    assert_non_null(hmac(sha1(), key, (int)strlen(key), (const unsigned char *)data, data_len,
                         digest, &digest_len));
    free(data);
    sodium_bin2base64(out, size, digest, digest_len, sodium_base64_VARIANT_ORIGINAL);
}

static void s_assert_signed(const hook_t *hook, const char *url) {
    char expected[128];
    s_expected_signature(url, hook->pairs, expected, sizeof expected);
    if (strcmp(hook->signature, expected) != 0)
        fprintf(stderr, "signature of %s: got %s, expected %s\n", url, hook->signature, expected);
    assert_string_equal(hook->signature, expected);
    assert_non_null(strstr(hook->content_type, "application/x-www-form-urlencoded"));
}

static const char *s_param(const hook_t *hook, const char *name) {
    const char *v = json_string_value(json_object_get(hook->params, name));
    return v ? v : "";
}

//  --- The SMS stub through libcurl, as the sender calls it -------------------------------

typedef struct {
    CURLcode rc;
    long status;
    json_t *json;
    char retry_after[32];
    char www_authenticate[128];
    double seconds;
    long connects; // connections this request opened (0: it reused one)
} answer_t;

static size_t s_on_body(char *data, size_t size, size_t n, void *arg) {
    zchunk_extend(arg, data, size * n);
    return size * n;
}

static void s_copy_header(const char *line, size_t len, const char *name, char *out, size_t size) {
    size_t name_len = strlen(name);
    if (len <= name_len || strncasecmp(line, name, name_len) != 0)
        return;
    size_t vlen = len - name_len;
    while (vlen && (line[name_len + vlen - 1] == '\r' || line[name_len + vlen - 1] == '\n'))
        vlen--;
    snprintf(out, size, "%.*s", (int)vlen, line + name_len);
}

static size_t s_on_header(char *data, size_t size, size_t n, void *arg) {
    answer_t *a = arg;
    s_copy_header(data, size * n, "Retry-After: ", a->retry_after, sizeof a->retry_after);
    s_copy_header(data, size * n, "WWW-Authenticate: ", a->www_authenticate,
                  sizeof a->www_authenticate);
    return size * n;
}

//  One request to the stub. c: a handle to reuse (its connection is kept alive), or NULL
//  for a new connection closed after. path: under sms_url, NULL for this account's
//  Messages.json. user/password: HTTP Basic (user NULL: none). form: a POST body.
static answer_t s_sms(CURL *c, const char *method, const char *path, const char *user,
                      const char *password, const char *form, const char *const *headers) {
    answer_t a = {0};
    bool own = !c;
    if (own) {
        c = curl_easy_init();
        curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    }
    char url[1024];
    if (path)
        snprintf(url, sizeof url, "%s%s", h->sms_url, path);
    else
        snprintf(url, sizeof url, "%s/2010-04-01/Accounts/%s/Messages.json", h->sms_url,
                 h->sms_account_sid);
    zchunk_t *body = zchunk_new(NULL, 1024);
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    for (const char *const *p = headers; p && *p; p++)
        list = curl_slist_append(list, *p);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, user);
    curl_easy_setopt(c, CURLOPT_PASSWORD, password);
    if (form) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    a.rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &a.seconds);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &a.connects);
    zchunk_extend(body, "", 1);
    a.json = json_loads((const char *)zchunk_data(body), 0, NULL);
    zchunk_destroy(&body);
    curl_slist_free_all(list);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    if (own)
        curl_easy_cleanup(c);
    return a;
}

//  A send with this account's credentials on a new connection.
static answer_t s_send(const char *form) {
    return s_sms(NULL, "POST", NULL, h->sms_account_sid, h->sms_auth_token, form, NULL);
}

//  A form body from NULL-terminated name, value pairs (a NULL value: the pair is left out).
static char *s_form(const char *name, ...) {
    va_list args;
    va_start(args, name);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    bool first = true;
    for (const char *n = name; n; n = va_arg(args, const char *)) {
        const char *value = va_arg(args, const char *);
        if (!value)
            continue;
        char *escaped = curl_easy_escape(NULL, value, 0);
        fprintf(f, "%s%s=%s", first ? "" : "&", n, escaped);
        curl_free(escaped);
        first = false;
    }
    fclose(f);
    va_end(args);
    return out;
}

static const char *s_str(json_t *object, const char *member) {
    const char *s = json_string_value(json_object_get(object, member));
    return s ? s : "";
}

static bool s_matches(const char *text, const char *pattern) {
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    bool ok = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    if (!ok)
        fprintf(stderr, "\"%s\" does not match /%s/\n", text, pattern);
    return ok;
}

//  The stub refused the send with status and Twilio's code in its error body.
static void s_assert_twilio_error(const answer_t *a, long status, long code) {
    if (a->status != status || json_integer_value(json_object_get(a->json, "code")) != code) {
        char *text = json_dumps(a->json, 0);
        fprintf(stderr, "expected %ld/%ld, got %ld %s\n", status, code, a->status, text);
        free(text);
    }
    assert_int_equal(a->status, status);
    assert_int_equal(json_integer_value(json_object_get(a->json, "code")), code);
    assert_int_equal(json_integer_value(json_object_get(a->json, "status")), status);
    char more_info[96];
    snprintf(more_info, sizeof more_info, "https://www.twilio.com/docs/errors/%ld", code);
    assert_string_equal(s_str(a->json, "more_info"), more_info);
    assert_true(strlen(s_str(a->json, "message")) > 0);
}

//  The stored message (harness_sms_messages) whose body is body, as a new reference, or NULL.
static json_t *s_stored_sms(const char *body) {
    json_t *messages = harness_sms_messages(), *found = NULL, *m;
    size_t i;
    json_array_foreach(messages, i, m) {
        if (!found && strcmp(s_str(m, "body"), body) == 0)
            found = json_incref(m);
    }
    json_decref(messages);
    return found;
}

static size_t s_sms_count(void) {
    json_t *messages = harness_sms_messages();
    size_t n = json_array_size(messages);
    json_decref(messages);
    return n;
}

//  A body no other test sends.
static const char *s_unique(const char *what) {
    static char text[128];
    static int counter;
    snprintf(text, sizeof text, "%s #%d at %lld", what, ++counter, (long long)zclock_usecs());
    return text;
}

//  --- The SMTP sink through libcurl -------------------------------------------------------

typedef struct {
    const char *data;
    size_t size, pos;
} payload_t;

static size_t s_read_payload(char *buffer, size_t size, size_t n, void *arg) {
    payload_t *p = arg;
    size_t len = p->size - p->pos < size * n ? p->size - p->pos : size * n;
    memcpy(buffer, p->data + p->pos, len);
    p->pos += len;
    return len;
}

//  Send one email through c (NULL: a new connection); *smtp_code: the last reply code.
static CURLcode s_mail(CURL *c, curl_usessl tls, const char *password, const char *payload,
                       long *smtp_code) {
    bool own = !c;
    if (own)
        c = curl_easy_init();
    struct curl_slist *rcpt = curl_slist_append(NULL, "<ann@example.com>");
    rcpt = curl_slist_append(rcpt, "<bob@example.com>");
    payload_t p = {payload, strlen(payload), 0};
    curl_easy_setopt(c, CURLOPT_URL, h->smtp_url);
    curl_easy_setopt(c, CURLOPT_USE_SSL, (long)tls);
    curl_easy_setopt(c, CURLOPT_CAINFO, h->smtp_ca_file);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_USERNAME, h->smtp_user);
    curl_easy_setopt(c, CURLOPT_PASSWORD, password);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, "<crm@localhost>");
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, s_read_payload);
    curl_easy_setopt(c, CURLOPT_READDATA, &p);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    CURLcode rc = curl_easy_perform(c);
    *smtp_code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, smtp_code);
    curl_slist_free_all(rcpt);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, NULL);
    if (own)
        curl_easy_cleanup(c);
    return rc;
}

static size_t s_mail_count(void) {
    json_t *messages = harness_mail_messages();
    size_t n = json_array_size(messages);
    json_decref(messages);
    return n;
}

//  --- Tests ---------------------------------------------------------------------------

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    s_listener_start();
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    s_listener_stop();
    harness_stop();
    return 0;
}

static void test_email_starttls_auth(void **state) {
    (void)state;
    assert_true(s_matches(h->smtp_url, "^smtp://127\\.0\\.0\\.1:[0-9]+$"));
    size_t before = s_mail_count();
    //  A line starting with a dot goes through SMTP's dot-stuffing and comes back as sent.
    const char *payload = "From: Dealer CRM <crm@localhost>\r\n"
                          "To: Ann Lee <ann@example.com>, bob@example.com\r\n"
                          "Subject: =?utf-8?q?Your_test_drive=2C_Zo=C3=AB?=\r\n"
                          "Message-ID: <sinks-test-1@localhost>\r\n"
                          "MIME-Version: 1.0\r\n"
                          "Content-Type: text/plain; charset=utf-8\r\n"
                          "\r\n"
                          "Hi Ann,\r\n"
                          ".a line that starts with a dot\r\n"
                          "See you on Saturday.\r\n";
    long code;
    CURLcode rc = s_mail(NULL, CURLUSESSL_ALL, h->smtp_password, payload, &code);
    if (rc != CURLE_OK)
        fprintf(stderr, "smtp: %s (%ld)\n", curl_easy_strerror(rc), code);
    assert_int_equal(rc, CURLE_OK);
    assert_int_equal(code, 250);
    //  Indexed (and fsync-ed) before the 250: no waiting needed.
    json_t *messages = harness_mail_messages();
    assert_int_equal(json_array_size(messages), before + 1);
    json_t *m = json_array_get(messages, before);
    assert_string_equal(s_str(m, "mail_from"), "crm@localhost");
    json_t *rcpt = json_object_get(m, "rcpt_tos");
    assert_int_equal(json_array_size(rcpt), 2);
    assert_string_equal(json_string_value(json_array_get(rcpt, 0)), "ann@example.com");
    assert_string_equal(json_string_value(json_array_get(rcpt, 1)), "bob@example.com");
    assert_true(json_is_true(json_object_get(m, "tls")));
    assert_string_equal(s_str(m, "auth_user"), h->smtp_user);
    assert_string_equal(s_str(m, "subject"), "Your test drive, Zoë");
    assert_string_equal(s_str(m, "message_id"), "<sinks-test-1@localhost>");
    assert_true(s_matches(s_str(m, "file"), "^[0-9]{6}-[0-9a-f-]{36}\\.eml$"));
    assert_true(
        s_matches(s_str(m, "received_at"), "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z$"));
    json_t *raw = json_object_get(m, "raw");
    assert_int_equal(json_string_length(raw), strlen(payload));
    assert_memory_equal(json_string_value(raw), payload, strlen(payload));
    json_decref(messages);
    assert_true(harness_wait_mail(before + 1, 0));
    assert_false(harness_wait_mail(before + 2, 100));
}

static void test_email_refusals(void **state) {
    (void)state;
    size_t before = s_mail_count();
    const char *payload = "Subject: must not arrive\r\n\r\nno\r\n";
    long code;
    //  A wrong password: 535 after STARTTLS.
    CURLcode rc = s_mail(NULL, CURLUSESSL_ALL, "not-the-password", payload, &code);
    assert_int_equal(rc, CURLE_LOGIN_DENIED);
    assert_int_equal(code, 535);
    //  A client that does not do STARTTLS is offered no AUTH and refused at MAIL: 530.
    rc = s_mail(NULL, CURLUSESSL_NONE, h->smtp_password, payload, &code);
    assert_int_not_equal(rc, CURLE_OK);
    assert_int_equal(code, 530);
    assert_int_equal(s_mail_count(), before);
}

static void test_sms_send(void **state) {
    (void)state;
    const char *body = s_unique("Your appointment is confirmed");
    char *form = s_form("To", "+15551230001", "From", h->sms_from, "Body", body, NULL);
    const char *headers[] = {"X-Crm-Attempt: 1", NULL};
    answer_t a = s_sms(NULL, "POST", NULL, h->sms_account_sid, h->sms_auth_token, form, headers);
    free(form);
    assert_int_equal(a.rc, CURLE_OK);
    assert_int_equal(a.status, 201);
    const char *sid = s_str(a.json, "sid");
    assert_true(s_matches(sid, "^SM[0-9a-f]{32}$"));
    assert_string_equal(s_str(a.json, "account_sid"), h->sms_account_sid);
    assert_string_equal(s_str(a.json, "to"), "+15551230001");
    assert_string_equal(s_str(a.json, "from"), h->sms_from);
    assert_string_equal(s_str(a.json, "body"), body);
    assert_string_equal(s_str(a.json, "status"), "queued");
    assert_string_equal(s_str(a.json, "num_segments"), "1");
    assert_string_equal(s_str(a.json, "direction"), "outbound-api");
    assert_string_equal(s_str(a.json, "api_version"), "2010-04-01");
    const char *rfc2822 = "^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
                          "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
                          "[0-9]{2}:[0-9]{2}:[0-9]{2} \\+0000$";
    assert_true(s_matches(s_str(a.json, "date_created"), rfc2822));
    assert_true(s_matches(s_str(a.json, "date_updated"), rfc2822));
    assert_true(json_is_null(json_object_get(a.json, "date_sent"))); // not sent yet
    assert_true(json_is_null(json_object_get(a.json, "price")));
    assert_true(json_is_null(json_object_get(a.json, "error_code")));
    assert_true(json_is_null(json_object_get(a.json, "error_message")));
    assert_true(json_is_null(json_object_get(a.json, "messaging_service_sid")));
    char uri[160];
    snprintf(uri, sizeof uri, "/2010-04-01/Accounts/%s/Messages/%s.json", h->sms_account_sid, sid);
    assert_string_equal(s_str(a.json, "uri"), uri);

    //  Stored with the request's headers, not its credentials.
    json_t *stored = s_stored_sms(body);
    assert_non_null(stored);
    assert_string_equal(s_str(stored, "sid"), sid);
    json_t *headers_seen = json_object_get(stored, "headers");
    assert_string_equal(s_str(headers_seen, "X-Crm-Attempt"), "1");
    assert_null(json_object_get(headers_seen, "Authorization"));
    json_decref(stored);
    json_decref(a.json);

    //  Segments as Twilio counts them: GSM-7 160 per message, 153 per part; an
    //  extended character (€) is two septets; anything else is UCS-2, 70 and 67.
    struct {
        const char *unit;
        int repeat;
        const char *segments;
    } cases[] = {{"a", 160, "1"}, {"a", 161, "2"}, {"a", 306, "2"}, {"a", 307, "3"},
                 {"€", 80, "1"},  {"€", 81, "2"},  {"ж", 70, "1"},  {"ж", 71, "2"},
                 {"ж", 134, "2"}, {"ж", 135, "3"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024] = "";
        for (int k = 0; k < cases[i].repeat; k++)
            strcat(text, cases[i].unit);
        form = s_form("To", "+15551230002", "From", h->sms_from, "Body", text, NULL);
        a = s_send(form);
        free(form);
        assert_int_equal(a.status, 201);
        if (strcmp(s_str(a.json, "num_segments"), cases[i].segments) != 0)
            fprintf(stderr, "%d x %s\n", cases[i].repeat, cases[i].unit);
        assert_string_equal(s_str(a.json, "num_segments"), cases[i].segments);
        json_decref(a.json);
    }

    //  Through a Messaging Service alone: accepted, no From yet.
    char service[40] = "MG";
    for (int i = 0; i < 32; i++)
        service[2 + i] = "0123456789abcdef"[i % 16];
    service[34] = 0;
    form =
        s_form("To", "+15551230003", "MessagingServiceSid", service, "Body", "via service", NULL);
    a = s_send(form);
    free(form);
    assert_int_equal(a.status, 201);
    assert_string_equal(s_str(a.json, "messaging_service_sid"), service);
    assert_string_equal(s_str(a.json, "status"), "accepted");
    assert_true(json_is_null(json_object_get(a.json, "from")));
    json_decref(a.json);
}

static void test_sms_auth(void **state) {
    (void)state;
    size_t before = s_sms_count();
    char *form = s_form("To", "+15551230004", "From", h->sms_from, "Body", "no", NULL);
    char other_account[128];
    snprintf(other_account, sizeof other_account, "/2010-04-01/Accounts/AC%032d/Messages.json", 7);
    struct {
        const char *path, *user, *password;
    } cases[] = {
        {NULL, h->sms_account_sid, "wrong-token"},                       // wrong token
        {NULL, NULL, NULL},                                              // no credentials
        {NULL, "AC00000000000000000000000000000000", h->sms_auth_token}, // wrong user
        {other_account, h->sms_account_sid, h->sms_auth_token},          // another account
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        answer_t a =
            s_sms(NULL, "POST", cases[i].path, cases[i].user, cases[i].password, form, NULL);
        s_assert_twilio_error(&a, 401, 20003);
        assert_string_equal(s_str(a.json, "message"), "Authenticate");
        assert_string_equal(a.www_authenticate, "Basic realm=\"Twilio API\"");
        json_decref(a.json);
    }
    free(form);
    assert_int_equal(s_sms_count(), before);
}

static void test_sms_validation(void **state) {
    (void)state;
    size_t before = s_sms_count();
    char long_body[1602];
    memset(long_body, 'x', 1601);
    long_body[1601] = 0;
    struct {
        const char *to, *from, *body;
        long code;
    } cases[] = {
        {NULL, h->sms_from, "hi", 21211},                // no To
        {"555-1234", h->sms_from, "hi", 21211},          // not E.164
        {"+0123", h->sms_from, "hi", 21211},             // not E.164 either
        {"+15551230005", NULL, "hi", 21603},             // neither From nor MessagingServiceSid
        {"+15551230005", h->sms_from, NULL, 21602},      // no Body
        {"+15551230005", h->sms_from, "", 21602},        // an empty Body
        {"+15551230005", h->sms_from, long_body, 21617}, // over 1600 characters
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *form = s_form("To", cases[i].to, "From", cases[i].from, "Body", cases[i].body, NULL);
        answer_t a = s_send(form);
        free(form);
        s_assert_twilio_error(&a, 400, cases[i].code);
        if (cases[i].code == 21211 && cases[i].to)
            assert_non_null(strstr(s_str(a.json, "message"), cases[i].to));
        json_decref(a.json);
    }
    //  A form the sender forgot to encode: "+1..." decodes to " 1...", not a number.
    answer_t a = s_send("To=+15551230005&From=%2B15005550006&Body=hi");
    s_assert_twilio_error(&a, 400, 21211);
    json_decref(a.json);
    assert_int_equal(s_sms_count(), before);

    //  Exactly 1600 characters is allowed.
    long_body[1600] = 0;
    char *form = s_form("To", "+15551230005", "From", h->sms_from, "Body", long_body, NULL);
    a = s_send(form);
    free(form);
    assert_int_equal(a.status, 201);
    assert_string_equal(s_str(a.json, "num_segments"), "11");
    json_decref(a.json);
}

//  Send to `to` with StatusCallback listener URL + path_and_query; the new sid into sid.
static void s_send_with_callback(const char *to, const char *path_and_query, char sid[40]) {
    char callback[256];
    snprintf(callback, sizeof callback, "%s%s", s_listener.url, path_and_query);
    char *form = s_form("To", to, "From", h->sms_from, "Body", s_unique("status please"),
                        "StatusCallback", callback, NULL);
    answer_t a = s_send(form);
    free(form);
    assert_int_equal(a.status, 201);
    snprintf(sid, 40, "%s", s_str(a.json, "sid"));
    json_decref(a.json);
}

//  The callbacks for sid arrived on path, signed for url, with statuses in this order.
static void s_assert_callbacks(const char *sid, const char *path, const char *url, const char *to,
                               const char *const *statuses, const char *error_code) {
    size_t want = 0;
    while (statuses[want])
        want++;
    hook_t hooks[8];
    size_t n = s_wait_hooks(path, "MessageSid", sid, hooks, 8, want, 10000);
    if (n != want)
        fprintf(stderr, "%s: %zu callbacks, expected %zu\n", sid, n, want);
    assert_int_equal(n, want);
    for (size_t i = 0; i < n; i++) {
        s_assert_signed(&hooks[i], url);
        assert_string_equal(s_param(&hooks[i], "MessageStatus"), statuses[i]);
        assert_string_equal(s_param(&hooks[i], "SmsStatus"), statuses[i]);
        assert_string_equal(s_param(&hooks[i], "SmsSid"), sid);
        assert_string_equal(s_param(&hooks[i], "AccountSid"), h->sms_account_sid);
        assert_string_equal(s_param(&hooks[i], "From"), h->sms_from);
        assert_string_equal(s_param(&hooks[i], "To"), to);
        assert_string_equal(s_param(&hooks[i], "ApiVersion"), "2010-04-01");
        bool last = i + 1 == n;
        if (last && error_code)
            assert_string_equal(s_param(&hooks[i], "ErrorCode"), error_code);
        else
            assert_null(json_object_get(hooks[i].params, "ErrorCode"));
        assert_true(strlen(hooks[i].token) > 0);
    }
    s_hooks_free(hooks, n);
}

static void test_sms_status_callbacks(void **state) {
    (void)state;
    char delivered[40], failed[40], undelivered[40], flaky[40], url[256];
    //  The query is part of what is signed.
    s_send_with_callback("+15551230006", "/status?tenant=a&n=1", delivered);
    s_send_with_callback("+15005550001", "/status", failed);
    s_send_with_callback("+15005550009", "/status", undelivered);

    snprintf(url, sizeof url, "%s/status?tenant=a&n=1", s_listener.url);
    s_assert_callbacks(delivered, "/status", url, "+15551230006",
                       (const char *[]){"sent", "delivered", NULL}, NULL);
    snprintf(url, sizeof url, "%s/status", s_listener.url);
    s_assert_callbacks(failed, "/status", url, "+15005550001", (const char *[]){"failed", NULL},
                       "30006");
    s_assert_callbacks(undelivered, "/status", url, "+15005550009",
                       (const char *[]){"sent", "undelivered", NULL}, "30003");

    //  The resource follows: delivered, with date_sent; failed with its error.
    char path[160];
    snprintf(path, sizeof path, "/2010-04-01/Accounts/%s/Messages/%s.json", h->sms_account_sid,
             delivered);
    answer_t a = s_sms(NULL, "GET", path, h->sms_account_sid, h->sms_auth_token, NULL, NULL);
    assert_int_equal(a.status, 200);
    assert_string_equal(s_str(a.json, "status"), "delivered");
    assert_true(strlen(s_str(a.json, "date_sent")) > 0);
    json_decref(a.json);
    snprintf(path, sizeof path, "/2010-04-01/Accounts/%s/Messages/%s.json", h->sms_account_sid,
             failed);
    a = s_sms(NULL, "GET", path, h->sms_account_sid, h->sms_auth_token, NULL, NULL);
    assert_string_equal(s_str(a.json, "status"), "failed");
    assert_int_equal(json_integer_value(json_object_get(a.json, "error_code")), 30006);
    json_decref(a.json);

    //  A callback answered 503 comes again: the same event (idempotency token and
    //  signature), then the next one.
    pthread_mutex_lock(&s_listener.lock);
    s_listener.fail_flaky = 1;
    pthread_mutex_unlock(&s_listener.lock);
    s_send_with_callback("+15551230007", "/flaky", flaky);
    hook_t hooks[8];
    size_t n = s_wait_hooks("/flaky", "MessageSid", flaky, hooks, 8, 3, 10000);
    assert_int_equal(n, 3);
    snprintf(url, sizeof url, "%s/flaky", s_listener.url);
    for (size_t i = 0; i < n; i++)
        s_assert_signed(&hooks[i], url);
    assert_string_equal(s_param(&hooks[0], "MessageStatus"), "sent");
    assert_string_equal(s_param(&hooks[1], "MessageStatus"), "sent");
    assert_string_equal(hooks[0].token, hooks[1].token);
    assert_string_equal(s_param(&hooks[2], "MessageStatus"), "delivered");
    assert_string_not_equal(hooks[2].token, hooks[0].token);
    s_hooks_free(hooks, n);
}

static void test_sms_list(void **state) {
    (void)state;
    const char *to_a = "+15551230008", *to_b = "+15551230009";
    char sids_a[3][40];
    for (int i = 0; i < 3; i++) {
        char *form = s_form("To", to_a, "From", h->sms_from, "Body", s_unique("list a"), NULL);
        answer_t a = s_send(form);
        free(form);
        assert_int_equal(a.status, 201);
        snprintf(sids_a[i], 40, "%s", s_str(a.json, "sid"));
        json_decref(a.json);
    }
    char *form = s_form("To", to_b, "From", h->sms_from, "Body", s_unique("list b"), NULL);
    answer_t a = s_send(form);
    free(form);
    json_decref(a.json);

    char base[160], path[512];
    snprintf(base, sizeof base, "/2010-04-01/Accounts/%s/Messages.json", h->sms_account_sid);
    //  By To: only a's, newest first, in Twilio's page format.
    snprintf(path, sizeof path, "%s?To=%%2B15551230008", base);
    a = s_sms(NULL, "GET", path, h->sms_account_sid, h->sms_auth_token, NULL, NULL);
    assert_int_equal(a.status, 200);
    json_t *messages = json_object_get(a.json, "messages");
    assert_int_equal(json_array_size(messages), 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(s_str(json_array_get(messages, (size_t)i), "to"), to_a);
        assert_string_equal(s_str(json_array_get(messages, (size_t)i), "sid"), sids_a[2 - i]);
    }
    assert_int_equal(json_integer_value(json_object_get(a.json, "page")), 0);
    assert_int_equal(json_integer_value(json_object_get(a.json, "page_size")), 50);
    assert_true(json_is_null(json_object_get(a.json, "next_page_uri")));
    assert_true(json_is_null(json_object_get(a.json, "previous_page_uri")));
    assert_non_null(strstr(s_str(a.json, "uri"), base));
    assert_non_null(strstr(s_str(a.json, "first_page_uri"), "Page=0"));
    json_decref(a.json);

    //  Pages of PageSize.
    snprintf(path, sizeof path, "%s?To=%%2B15551230008&PageSize=2", base);
    a = s_sms(NULL, "GET", path, h->sms_account_sid, h->sms_auth_token, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(a.json, "messages")), 2);
    const char *next = s_str(a.json, "next_page_uri");
    assert_non_null(strstr(next, "Page=1"));
    char next_path[512];
    snprintf(next_path, sizeof next_path, "%s", next);
    json_decref(a.json);
    a = s_sms(NULL, "GET", next_path, h->sms_account_sid, h->sms_auth_token, NULL, NULL);
    messages = json_object_get(a.json, "messages");
    assert_int_equal(json_array_size(messages), 1);
    assert_string_equal(s_str(json_array_get(messages, 0), "sid"), sids_a[0]);
    json_decref(a.json);

    //  DateSent>= counts sent messages (date_sent is null while queued), so wait for
    //  the stub's "sent" step first.
    char today[16], tomorrow[16];
    time_t now = time(NULL), later = now + 86400;
    strftime(today, sizeof today, "%Y-%m-%d", gmtime(&now));
    strftime(tomorrow, sizeof tomorrow, "%Y-%m-%d", gmtime(&later));
    snprintf(path, sizeof path, "%s?To=%%2B15551230008&DateSent%%3E=%s", base, today);
    int64_t until = zclock_mono() + 5000;
    size_t found = 0;
    while (found < 3 && zclock_mono() < until) {
        a = s_sms(NULL, "GET", path, h->sms_account_sid, h->sms_auth_token, NULL, NULL);
        found = json_array_size(json_object_get(a.json, "messages"));
        json_decref(a.json);
        if (found < 3)
            usleep(50 * 1000);
    }
    assert_int_equal(found, 3);
    //  The form a client writes without encoding ">" finds the same.
    snprintf(path, sizeof path, "%s?To=%%2B15551230008&DateSent>=%s", base, today);
    a = s_sms(NULL, "GET", path, h->sms_account_sid, h->sms_auth_token, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(a.json, "messages")), 3);
    json_decref(a.json);
    snprintf(path, sizeof path, "%s?To=%%2B15551230008&DateSent%%3E=%s", base, tomorrow);
    a = s_sms(NULL, "GET", path, h->sms_account_sid, h->sms_auth_token, NULL, NULL);
    assert_int_equal(a.status, 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "messages")), 0);
    json_decref(a.json);

    //  One message; an unknown one is 404 with code 20404; the list wants credentials.
    snprintf(path, sizeof path, "/2010-04-01/Accounts/%s/Messages/%s.json", h->sms_account_sid,
             sids_a[1]);
    a = s_sms(NULL, "GET", path, h->sms_account_sid, h->sms_auth_token, NULL, NULL);
    assert_int_equal(a.status, 200);
    assert_string_equal(s_str(a.json, "sid"), sids_a[1]);
    json_decref(a.json);
    snprintf(path, sizeof path, "/2010-04-01/Accounts/%s/Messages/SM%032d.json", h->sms_account_sid,
             0);
    a = s_sms(NULL, "GET", path, h->sms_account_sid, h->sms_auth_token, NULL, NULL);
    s_assert_twilio_error(&a, 404, 20404);
    json_decref(a.json);
    a = s_sms(NULL, "GET", base, h->sms_account_sid, "wrong", NULL, NULL);
    s_assert_twilio_error(&a, 401, 20003);
    json_decref(a.json);
}

//  Send body on a new connection; the answer.
static answer_t s_send_body(const char *body) {
    char *form = s_form("To", "+15551230010", "From", h->sms_from, "Body", body, NULL);
    answer_t a = s_send(form);
    free(form);
    return a;
}

static void test_sms_failure_modes(void **state) {
    (void)state;
    //  500 once: Twilio's error body, nothing stored; then back to normal.
    assert_int_equal(harness_sms_mode("{\"mode\":\"500\",\"count\":1}"), 0);
    char body[128];
    snprintf(body, sizeof body, "%s", s_unique("mode 500"));
    answer_t a = s_send_body(body);
    s_assert_twilio_error(&a, 500, 20500);
    json_decref(a.json);
    assert_null(s_stored_sms(body));
    a = s_send_body(body);
    assert_int_equal(a.status, 201);
    json_decref(a.json);

    //  429 with Retry-After.
    assert_int_equal(harness_sms_mode("{\"mode\":\"429\",\"count\":1,\"retry_after\":7}"), 0);
    snprintf(body, sizeof body, "%s", s_unique("mode 429"));
    a = s_send_body(body);
    s_assert_twilio_error(&a, 429, 20429);
    assert_string_equal(a.retry_after, "7");
    json_decref(a.json);
    assert_null(s_stored_sms(body));

    //  count 0: until changed.
    assert_int_equal(harness_sms_mode("{\"mode\":\"500\",\"count\":0}"), 0);
    for (int i = 0; i < 3; i++) {
        a = s_send_body("still failing");
        assert_int_equal(a.status, 500);
        json_decref(a.json);
    }
    assert_int_equal(harness_sms_mode("{\"mode\":\"ok\"}"), 0);
    a = s_send_body(s_unique("ok again"));
    assert_int_equal(a.status, 201);
    json_decref(a.json);

    //  slow: answered after delay_ms.
    assert_int_equal(harness_sms_mode("{\"mode\":\"slow\",\"count\":1,\"delay_ms\":400}"), 0);
    a = s_send_body(s_unique("mode slow"));
    assert_int_equal(a.status, 201);
    assert_true(a.seconds >= 0.4);
    json_decref(a.json);

    //  drop_before_read: the connection closes without an answer and nothing is stored.
    assert_int_equal(harness_sms_mode("{\"mode\":\"drop_before_read\",\"count\":1}"), 0);
    snprintf(body, sizeof body, "%s", s_unique("mode drop_before_read"));
    a = s_send_body(body);
    assert_true(a.rc == CURLE_GOT_NOTHING || a.rc == CURLE_RECV_ERROR || a.rc == CURLE_SEND_ERROR);
    assert_int_equal(a.status, 0);
    assert_null(s_stored_sms(body));

    //  drop_after_read: no answer either, but the message was accepted: an ambiguous
    //  send, which the sender resolves by listing.
    assert_int_equal(harness_sms_mode("{\"mode\":\"drop_after_read\",\"count\":1}"), 0);
    snprintf(body, sizeof body, "%s", s_unique("mode drop_after_read"));
    a = s_send_body(body);
    assert_true(a.rc == CURLE_GOT_NOTHING || a.rc == CURLE_RECV_ERROR);
    assert_int_equal(a.status, 0);
    json_t *stored = s_stored_sms(body);
    assert_non_null(stored);
    assert_string_equal(s_str(stored, "to"), "+15551230010");
    char path[512];
    snprintf(path, sizeof path, "/2010-04-01/Accounts/%s/Messages/%s.json", h->sms_account_sid,
             s_str(stored, "sid"));
    a = s_sms(NULL, "GET", path, h->sms_account_sid, h->sms_auth_token, NULL, NULL);
    assert_int_equal(a.status, 200);
    assert_string_equal(s_str(a.json, "body"), body);
    json_decref(a.json);
    json_decref(stored);

    //  A mode applies to the Messages API only; a bad mode is refused.
    assert_int_equal(harness_sms_mode("{\"mode\":\"500\",\"count\":1}"), 0);
    assert_true(harness_wait_sms(1, 1000));
    a = s_send_body(s_unique("after a control call"));
    assert_int_equal(a.status, 500);
    json_decref(a.json);
    assert_int_equal(harness_sms_mode("{\"mode\":\"sometimes\"}"), -1);
}

//  What a sender that keeps its connection alive must know: when a reused connection
//  closes without an answer, libcurl sends the request again by itself on a new one
//  ("Connection died, retrying a fresh connect"). After drop_after_read that is a
//  second, duplicate message; after drop_before_read the resend is the only one.
static size_t s_stored_count(const char *body) {
    json_t *messages = harness_sms_messages(), *m;
    size_t i, n = 0;
    json_array_foreach(messages, i, m) {
        if (strcmp(s_str(m, "body"), body) == 0)
            n++;
    }
    json_decref(messages);
    return n;
}

static void test_sms_drop_on_reused_connection(void **state) {
    (void)state;
    const char *modes[] = {"drop_after_read", "drop_before_read"};
    size_t expected[] = {2, 1};
    for (size_t i = 0; i < 2; i++) {
        CURL *c = curl_easy_init();
        char body[128], mode[96];
        snprintf(body, sizeof body, "%s", s_unique(modes[i]));
        char *form = s_form("To", "+15551230014", "From", h->sms_from, "Body", body, NULL);
        answer_t a = s_sms(c, "POST", NULL, h->sms_account_sid, h->sms_auth_token, form, NULL);
        assert_int_equal(a.status, 201); // opens the connection
        json_decref(a.json);
        free(form);
        snprintf(mode, sizeof mode, "{\"mode\":\"%s\",\"count\":1}", modes[i]);
        assert_int_equal(harness_sms_mode(mode), 0);
        snprintf(body, sizeof body, "%s", s_unique(modes[i]));
        form = s_form("To", "+15551230014", "From", h->sms_from, "Body", body, NULL);
        a = s_sms(c, "POST", NULL, h->sms_account_sid, h->sms_auth_token, form, NULL);
        free(form);
        assert_int_equal(a.rc, CURLE_OK);
        assert_int_equal(a.status, 201); // the resend's answer
        assert_int_equal(a.connects, 1); // on a new connection
        json_decref(a.json);
        assert_int_equal(s_stored_count(body), expected[i]);
        curl_easy_cleanup(c);
    }
}

static void test_sms_webhooks(void **state) {
    (void)state;
    //  An inbound SMS, signed, answered with the listener's TwiML as relayed.
    char url[256];
    snprintf(url, sizeof url, "%s/inbound", s_listener.url);
    json_t *request = json_pack("{s:s, s:s, s:s, s:s}", "from", "+15551230011", "to", h->sms_from,
                                "body", "STOP please", "url", url);
    char *text = json_dumps(request, 0);
    json_decref(request);
    CURL *c = curl_easy_init();
    zchunk_t *body = zchunk_new(NULL, 256);
    char stub_url[128];
    snprintf(stub_url, sizeof stub_url, "%s/_stub/inbound", h->sms_url);
    curl_easy_setopt(c, CURLOPT_URL, stub_url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    char *content_type = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &content_type);
    assert_int_equal(status, 200);
    assert_string_equal(content_type, "text/xml");
    assert_int_equal(zchunk_size(body), strlen(s_twiml));
    assert_memory_equal(zchunk_data(body), s_twiml, strlen(s_twiml));
    curl_easy_cleanup(c);
    zchunk_destroy(&body);
    free(text);

    hook_t hooks[4];
    size_t n = s_hooks("/inbound", "Body", "STOP please", hooks, 4);
    assert_int_equal(n, 1);
    s_assert_signed(&hooks[0], url);
    assert_string_equal(s_param(&hooks[0], "From"), "+15551230011");
    assert_string_equal(s_param(&hooks[0], "To"), h->sms_from);
    assert_string_equal(s_param(&hooks[0], "AccountSid"), h->sms_account_sid);
    assert_string_equal(s_param(&hooks[0], "NumMedia"), "0");
    assert_string_equal(s_param(&hooks[0], "NumSegments"), "1");
    assert_string_equal(s_param(&hooks[0], "ApiVersion"), "2010-04-01");
    assert_true(s_matches(s_param(&hooks[0], "MessageSid"), "^SM[0-9a-f]{32}$"));
    assert_string_equal(s_param(&hooks[0], "SmsSid"), s_param(&hooks[0], "MessageSid"));
    s_hooks_free(hooks, n);

    //  Arbitrary signed params (a status callback out of order, say), relayed likewise.
    snprintf(url, sizeof url, "%s/custom?x=1", s_listener.url);
    request = json_pack("{s:s, s:{s:s, s:s}}", "url", url, "params", "MessageSid",
                        "SM00000000000000000000000000000001", "MessageStatus", "delivered");
    text = json_dumps(request, 0);
    json_decref(request);
    c = curl_easy_init();
    snprintf(stub_url, sizeof stub_url, "%s/_stub/callback", h->sms_url);
    curl_easy_setopt(c, CURLOPT_URL, stub_url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    body = zchunk_new(NULL, 256);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    curl_easy_cleanup(c);
    zchunk_destroy(&body);
    free(text);
    n = s_hooks("/custom", "MessageSid", "SM00000000000000000000000000000001", hooks, 4);
    assert_int_equal(n, 1);
    s_assert_signed(&hooks[0], url);
    assert_string_equal(s_param(&hooks[0], "MessageStatus"), "delivered");
    assert_int_equal(json_array_size(hooks[0].pairs), 2);
    s_hooks_free(hooks, n);

    //  To the gateway, through the harness: whatever the gateway answers comes back (not
    //  the stub's 502, which would mean the gateway was not reached).
    harness_response_t r = harness_sms_inbound("+15551230012", h->sms_from, "hello");
    assert_true(r.status >= 200 && r.status < 600);
    assert_int_not_equal(r.status, 502);
    harness_response_free(&r);
    const char *params[] = {"MessageSid=SM00000000000000000000000000000002",
                            "MessageStatus=delivered", "ErrorCode=", NULL};
    r = harness_sms_callback("/v1/webhooks/sms/status?attempt=1", params);
    assert_true(r.status >= 200 && r.status < 600);
    assert_int_not_equal(r.status, 502);
    harness_response_free(&r);
    //  The stub logged both, signed for the gateway's URLs.
    answer_t log = s_sms(NULL, "GET", "/_stub/callbacks", NULL, NULL, NULL, NULL);
    json_t *entry, *inbound = NULL, *custom = NULL;
    size_t i;
    json_array_foreach(log.json, i, entry) {
        if (strstr(s_str(entry, "url"), "/v1/webhooks/sms/inbound"))
            inbound = entry;
        if (strstr(s_str(entry, "url"), "/v1/webhooks/sms/status?attempt=1"))
            custom = entry;
    }
    assert_non_null(inbound);
    assert_non_null(custom);
    char expected[256];
    snprintf(expected, sizeof expected, "%s/v1/webhooks/sms/inbound", h->http_url);
    assert_string_equal(s_str(inbound, "url"), expected);
    assert_string_equal(s_str(inbound, "kind"), "inbound");
    assert_string_equal(s_str(json_object_get(custom, "params"), "ErrorCode"), "");
    json_decref(log.json);
}

static void test_throughput(void **state) {
    (void)state;
    //  SMS: one kept-alive connection, as the sender's pooled handle uses it.
    CURL *c = curl_easy_init();
    char *form = s_form("To", "+15551230013", "From", h->sms_from, "Body",
                        "Your service appointment is tomorrow at 9:00", NULL);
    const int requests = 2000;
    long connects = 0;
    int64_t start = zclock_usecs();
    for (int i = 0; i < requests; i++) {
        answer_t a = s_sms(c, "POST", NULL, h->sms_account_sid, h->sms_auth_token, form, NULL);
        if (a.status != 201)
            fprintf(stderr, "request %d: %ld %s\n", i, a.status, curl_easy_strerror(a.rc));
        assert_int_equal(a.status, 201);
        connects += a.connects;
        json_decref(a.json);
    }
    double sms_rate = requests / ((zclock_usecs() - start) / 1e6);
    curl_easy_cleanup(c);
    free(form);
    assert_int_equal(connects, 1);

    //  Email: one connection (STARTTLS and AUTH once), a message per transfer.
    c = curl_easy_init();
    const char *payload = "From: crm@localhost\r\nTo: ann@example.com\r\n"
                          "Subject: load\r\n\r\nHello\r\n";
    const int mails = 300;
    size_t before = s_mail_count();
    connects = 0;
    start = zclock_usecs();
    for (int i = 0; i < mails; i++) {
        long code, opened = 0;
        assert_int_equal(s_mail(c, CURLUSESSL_ALL, h->smtp_password, payload, &code), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &opened);
        connects += opened;
    }
    double mail_rate = mails / ((zclock_usecs() - start) / 1e6);
    curl_easy_cleanup(c);
    assert_int_equal(connects, 1);
    assert_int_equal(s_mail_count(), before + (size_t)mails);
    printf("sms stub: %.0f requests/s over one connection; smtp sink: %.0f messages/s\n", sms_rate,
           mail_rate);
    //  Required: 1,500/s and several hundred/s; the floors leave room for a busy machine.
    assert_true(sms_rate >= 750);
    assert_true(mail_rate >= 150);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email_starttls_auth),
        cmocka_unit_test(test_email_refusals),
        cmocka_unit_test(test_sms_send),
        cmocka_unit_test(test_sms_auth),
        cmocka_unit_test(test_sms_validation),
        cmocka_unit_test(test_sms_status_callbacks),
        cmocka_unit_test(test_sms_list),
        cmocka_unit_test(test_sms_failure_modes),
        cmocka_unit_test(test_sms_drop_on_reused_connection),
        cmocka_unit_test(test_sms_webhooks),
        cmocka_unit_test(test_throughput),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
