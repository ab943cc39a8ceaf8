/*  crmctl notify unsubscribe-mail: the mailto side of a marketing email's
    List-Unsubscribe (RFC 2369), for the mail server's pipe transport.

    notify puts <mailto:MAILBOX?subject=unsubscribe%20TOKEN> in the header when
    notify.unsubscribe_mailbox is set (TOKEN: the same signed token as the one-click
    link's). A customer's mail program sends an email to MAILBOX with that subject; the
    mail server pipes it here (Postfix: a pipe transport running this command, see
    docs/OPERATIONS.md). The message is read on standard input and parsed with GMime
    (headers unfolded, encoded words decoded, any charset), the token is taken from the
    Subject ("unsubscribe TOKEN", any case, a "Re:" or other words before it allowed) and
    handed to the notify service's Unsubscribe method over the broker, exactly as the
    one-click POST /v1/unsubscribe/{token} would: the address is out of marketing email
    and the contacts service records the withdrawal.

    Exit status for the mail server (sysexits.h): 0 done (also when already
    unsubscribed); 65 (EX_DATAERR: the mail server bounces it, telling the sender) when
    the message carries no token or a token notify did not make; 75 (EX_TEMPFAIL: the
    mail server keeps it and tries again later) when the notify service did not answer or
    failed. Nothing of the message (addresses, text) is printed; only the outcome.
*/
#include "crmctl.h"

#include <ctype.h>
#include <gmime/gmime.h>
#include <stdio.h>
#include <string.h>

#define S_EX_DATAERR 65
#define S_EX_TEMPFAIL 75
#define S_CALL_TIMEOUT_MS 10000
#define S_TOKEN_MAX 200 // a token's characters at most (base64url; about 60 in practice)

//  The token after the word "unsubscribe" in subject (case-insensitive; base64url
//  characters up to the next space or end) into token: 0, or -1 when there is none.
int crmctl_unsubscribe_token(const char *subject, char *token, size_t size) {
    for (const char *p = subject ? subject : ""; *p; p++) {
        if (strncasecmp(p, "unsubscribe", 11) != 0 || (p > subject && isalnum((unsigned char)p[-1])))
            continue;
        const char *q = p + 11;
        if (!isspace((unsigned char)*q) && *q != ':')
            continue;
        while (isspace((unsigned char)*q) || *q == ':')
            q++;
        size_t n = 0;
        while (isalnum((unsigned char)q[n]) || q[n] == '-' || q[n] == '_')
            n++;
        if (n == 0 || n >= size || n > S_TOKEN_MAX || (q[n] && !isspace((unsigned char)q[n])))
            continue;
        memcpy(token, q, n);
        token[n] = '\0';
        return 0;
    }
    return -1;
}

//  The message's decoded Subject read from stdin (caller frees), or NULL when standard
//  input holds no message.
static char *s_subject_from_stdin(void) {
    g_mime_init();
    GMimeStream *stream = g_mime_stream_file_new(stdin);
    g_mime_stream_file_set_owner(GMIME_STREAM_FILE(stream), FALSE);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *message = g_mime_parser_construct_message(parser, NULL);
    char *subject = NULL;
    if (message) {
        const char *text = g_mime_message_get_subject(message);
        subject = strdup(text ? text : "");
        g_object_unref(message);
    }
    g_object_unref(parser);
    g_object_unref(stream);
    g_mime_shutdown();
    return subject;
}

int crmctl_notify_unsubscribe_mail(crmctl_t *ctl, int argc, char **argv) {
    if (argc != 1)
        return 2;
    (void)argv;
    char *subject = s_subject_from_stdin();
    char token[S_TOKEN_MAX + 1];
    if (!subject || crmctl_unsubscribe_token(subject, token, sizeof token) != 0) {
        free(subject);
        printf("notify unsubscribe-mail: no unsubscribe request: the Subject must be "
               "\"unsubscribe\" followed by the token the List-Unsubscribe address gave\n");
        return S_EX_DATAERR;
    }
    free(subject);

    const char *broker = crm_config_broker(ctl->cfg);
    crm_bus_client_t *client = crm_bus_client_new(broker);
    if (!client) {
        fprintf(stderr, "crmctl: could not connect to the broker at \"%s\"\n", broker);
        return S_EX_TEMPFAIL;
    }
    //  The request the gateway makes of POST /v1/unsubscribe/{token}: keyless, the
    //  token proves which message (and so which tenant and address) it is.
    char path[S_TOKEN_MAX + 32];
    snprintf(path, sizeof path, "/v1/unsubscribe/%s", token);
    Crm__HttpField param = CRM__HTTP_FIELD__INIT;
    param.name = "token";
    param.value = token;
    Crm__HttpField *params[] = {&param};
    Crm__HttpRequest req = CRM__HTTP_REQUEST__INIT;
    req.method = "POST";
    req.path = path;
    req.query = "";
    req.n_path_params = 1;
    req.path_params = params;
    ProtobufCMessage *response = NULL;
    Crm__ReplyHeader *header =
        crmctl_call_tenant(client, "notify", "Unsubscribe", "", "", &req.base,
                           &crm__http_response__descriptor, S_CALL_TIMEOUT_MS, &response);
    int status = S_EX_TEMPFAIL;
    if (!header)
        fprintf(stderr, "crmctl: the notify service did not answer: the mail server will try "
                        "again\n");
    else if (header->code == 200) {
        printf("notify unsubscribe-mail: unsubscribed from marketing email\n");
        status = 0;
    } else if (header->code == 404) {
        printf("notify unsubscribe-mail: the token is not valid (not made by this suite, or "
               "its message is gone)\n");
        status = S_EX_DATAERR;
    } else
        fprintf(stderr, "crmctl: notify refused Unsubscribe: %u %s\n", header->code,
                header->error);
    if (header)
        crm__reply_header__free_unpacked(header, NULL);
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    crm_bus_client_destroy(&client);
    return status;
}
