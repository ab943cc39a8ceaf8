#!/usr/bin/python3
"""smtp_sink: a real SMTP server on loopback that keeps every message it accepts.

`make run` and the system tests send the suite's email here instead of to a mail relay.

    smtp_sink.py --dir DIR --port N [--host 127.0.0.1] [--user U --password P]
                 [--tls-cert F --tls-key K] [--implicit-tls]

With a certificate, STARTTLS is offered and required before MAIL (or, with
--implicit-tls, the whole connection is TLS, as smtps:// on port 465). With --user,
AUTH PLAIN or LOGIN is required before MAIL (and, when TLS is configured, offered only
once the connection is encrypted); wrong credentials get 535.

Each accepted message is stored as DIR/<seq>-<uuid>.eml (the message bytes exactly as
received, after SMTP's dot-unstuffing) written to a temporary name and renamed, then one
JSON line is appended to DIR/index.jsonl and fsync-ed before the client gets its 250:

    {"file": "000001-<uuid>.eml", "mail_from": "...", "rcpt_tos": ["..."],
     "received_at": "2026-01-02T03:04:05.678Z", "message_id": "<...>" | null,
     "subject": "..." | null, "tls": true, "auth_user": "..." | null}

Lines must end in CRLF, as RFC 5321 requires: only CRLF.CRLF ends DATA, so a message
written with bare LFs never ends and the client times out, with nothing stored.

Prints "smtp sink: listening on smtp://HOST:PORT ..." on stdout when ready and writes the
port to DIR/port. SIGTERM or SIGINT stops it cleanly. Standard library and Debian's
python3-aiosmtpd only.
"""
import argparse
import datetime
import email.parser
import email.policy
import hmac
import json
import logging
import os
import signal
import ssl
import sys
import threading
import uuid
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def utc_now_iso():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000)


def write_atomically(path, data):
    """Write data to path through a temporary file and a rename: a reader never sees
    half a file."""
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


class Store:
    """The sink's directory: numbered .eml files and index.jsonl, one line per message."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.index_path = os.path.join(directory, "index.jsonl")
        self.seq = self._last_seq()
        self.index = open(self.index_path, "ab")
        self.headers = email.parser.BytesHeaderParser(policy=email.policy.default)

    def _last_seq(self):
        """Numbering goes on after the messages a previous run left in the directory."""
        last = 0
        for name in os.listdir(self.dir):
            head = name.split("-", 1)[0]
            if name.endswith(".eml") and head.isdigit():
                last = max(last, int(head))
        return last

    def _header(self, message, name):
        try:
            value = message.get(name)
            return None if value is None else str(value)
        except Exception:  # a malformed header is stored, just not summarised
            return None

    def add(self, envelope, tls, auth_user):
        """Store one message; returns the index record. Runs on the event loop, one
        message at a time, so the numbering needs no lock."""
        raw = envelope.original_content or b""
        self.seq += 1
        name = "%06d-%s.eml" % (self.seq, uuid.uuid4())
        write_atomically(os.path.join(self.dir, name), raw)
        headers = self.headers.parsebytes(raw)
        record = {
            "file": name,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "received_at": utc_now_iso(),
            "message_id": self._header(headers, "Message-ID"),
            "subject": self._header(headers, "Subject"),
            "tls": tls,
            "auth_user": auth_user,
        }
        line = json.dumps(record, ensure_ascii=False).encode() + b"\n"
        self.index.write(line)
        self.index.flush()
        os.fsync(self.index.fileno())
        return record

    def close(self):
        self.index.close()


class SinkHandler:
    """aiosmtpd handler: accepts every envelope and stores its message."""

    def __init__(self, store):
        self.store = store

    async def handle_DATA(self, server, session, envelope):
        tls = server.transport is not None and \
            server.transport.get_extra_info("ssl_object") is not None
        auth_user = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            auth_user = session.auth_data.login.decode("utf-8", "replace")
        try:
            record = self.store.add(envelope, tls, auth_user)
        except OSError as e:
            print("smtp sink: could not store a message: %s" % e, file=sys.stderr, flush=True)
            return "451 4.3.0 could not store the message"
        return "250 2.0.0 OK stored as %s" % record["file"]


class Authenticator:
    """AUTH PLAIN/LOGIN against the one user and password given on the command line."""

    def __init__(self, user, password):
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and hmac.compare_digest(auth_data.login, self.user)
              and hmac.compare_digest(auth_data.password, self.password))
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)  # 535 5.7.8


class SinkController(Controller):
    """aiosmtpd's threaded Controller, able to listen on port 0 (any free port): it
    reads back the bound port before its readiness check connects to it."""

    async def _bind(self):
        server = await self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context)
        self.port = server.sockets[0].getsockname()[1]
        return server

    def _create_server(self):
        return self._bind()


def parse_args(argv):
    p = argparse.ArgumentParser(description="Local SMTP sink for make run and the tests.")
    p.add_argument("--dir", required=True, help="where messages and index.jsonl go")
    p.add_argument("--port", type=int, required=True, help="TCP port; 0: any free port")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--user", help="require AUTH PLAIN/LOGIN as this user")
    p.add_argument("--password", default=os.environ.get("SMTP_SINK_PASSWORD"),
                   help="the user's password (default: $SMTP_SINK_PASSWORD, kept out of ps)")
    p.add_argument("--tls-cert", help="PEM certificate: offer STARTTLS (and require it)")
    p.add_argument("--tls-key", help="PEM private key of --tls-cert")
    p.add_argument("--implicit-tls", action="store_true",
                   help="TLS from the first byte (smtps) instead of STARTTLS")
    a = p.parse_args(argv)
    if (a.user is None) != (a.password is None):
        p.error("--user and --password go together")
    if (a.tls_cert is None) != (a.tls_key is None):
        p.error("--tls-cert and --tls-key go together")
    if a.implicit_tls and not a.tls_cert:
        p.error("--implicit-tls needs --tls-cert and --tls-key")
    return a


def main(argv):
    args = parse_args(argv)
    # aiosmtpd logs every connection at INFO and a deprecation warning at each AUTH.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    # aiosmtpd warns when AUTH may come before TLS: over implicit TLS it cannot, and
    # without a certificate plaintext AUTH on loopback is what was asked for.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    store = Store(args.dir)

    tls_context = None
    if args.tls_cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)

    smtp_kwargs = {
        "server_hostname": "localhost",  # not socket.getfqdn(): no DNS look-up
        "decode_data": False,
        "enable_SMTPUTF8": True,
        "ident": "crm smtp sink",
    }
    if tls_context and not args.implicit_tls:
        smtp_kwargs.update(tls_context=tls_context, require_starttls=True)
    if args.user:
        smtp_kwargs.update(authenticator=Authenticator(args.user, args.password),
                           auth_required=True,
                           # Over implicit TLS the connection is encrypted already;
                           # without TLS there is nothing to wait for.
                           auth_require_tls=bool(tls_context) and not args.implicit_tls)
    controller = SinkController(
        SinkHandler(store), hostname=args.host, port=args.port,
        ssl_context=tls_context if args.implicit_tls else None, **smtp_kwargs)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        controller.start()
    except Exception as e:
        print("smtp sink: could not listen on %s:%d: %s" % (args.host, args.port, e),
              file=sys.stderr, flush=True)
        return 1
    write_atomically(os.path.join(args.dir, "port"), b"%d\n" % controller.port)
    scheme = "smtps" if args.implicit_tls else "smtp"
    features = []
    if tls_context and not args.implicit_tls:
        features.append("STARTTLS required")
    if args.user:
        features.append("AUTH as %s" % args.user)
    print("smtp sink: listening on %s://%s:%d%s, storing in %s" %
          (scheme, args.host, controller.port,
           " (%s)" % ", ".join(features) if features else "", store.index_path), flush=True)
    while not stop.wait(3600):
        pass
    controller.stop()
    store.close()
    print("smtp sink: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
