#!/usr/bin/python3
"""sms_stub: a local stand-in for a Twilio-compatible Messages API.

`make run` and the system tests point the suite's SMS sender here (notify.sms_base_url).

    sms_stub.py --dir DIR --port N --account-sid AC... --auth-token T [--host 127.0.0.1]
                [--sent-delay-ms 200] [--delivered-delay-ms 1000]
                [--callback-retries 3] [--callback-backoff-ms 250] [--quiet]

The Messages API, checked as Twilio checks it (HTTP Basic AccountSid:AuthToken, form
parameters, Twilio's error codes and JSON bodies):

    POST /2010-04-01/Accounts/{AccountSid}/Messages.json         send: 201 + Message
    GET  /2010-04-01/Accounts/{AccountSid}/Messages.json         list (To, From,
         DateSent, DateSent>, DateSent<, PageSize, Page), newest first
    GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json   one Message

A message goes queued -> sent -> delivered (To +15005550001: failed, ErrorCode 30006;
+15005550009: sent -> undelivered, 30003), --sent-delay-ms and --delivered-delay-ms
apart. With StatusCallback, each step is POSTed there by a background thread, form
encoded and signed with X-Twilio-Signature as Twilio does; a connection error or 5xx is
retried --callback-retries times, waiting --callback-backoff-ms, then twice that, ...

Controls for tests (JSON in, JSON out):

    POST /_stub/mode      {"mode": "ok"|"500"|"429"|"slow"|"drop_before_read"|
                           "drop_after_read", "count": N (0: until changed),
                           "retry_after": s, "delay_ms": ms}
                          applies to the next N requests of the Messages API
    POST /_stub/inbound   {"from", "to", "body", "url"}: a signed inbound-SMS webhook to url;
                          answers with the webhook's status, body and Content-Type
    POST /_stub/callback  {"url", "params": {...}}: arbitrary signed form params to url;
                          answers likewise
    GET  /_stub/messages  every accepted message (as in messages.jsonl, plus its status now)
    GET  /_stub/callbacks every webhook attempt (as in callbacks.jsonl)

Files in DIR: messages.jsonl (one line per accepted message: sid, account_sid, to, from,
messaging_service_sid, body, num_segments, status_callback, received_at, headers: the
request's headers but Authorization), callbacks.jsonl (one line per webhook attempt:
kind status|inbound|custom, url, params, signature, idempotency_token, attempt,
http_status or null, error or null, sent_at) and port. Prints "sms stub: listening on
http://HOST:PORT ..." when ready. SIGTERM or SIGINT stops it cleanly. Standard library
only.
"""
import argparse
import base64
import datetime
import email.utils
import hashlib
import heapq
import hmac
import http.client
import http.server
import itertools
import json
import math
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid

API_VERSION = "2010-04-01"
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages(?:/([^/]+))?\.json$")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
SHORT_CODE = re.compile(r"^[0-9]{5,6}$")
ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
SERVICE_SID = re.compile(r"^MG[0-9a-f]{32}$")
POOL_NUMBER = "+15005550006"  # what a MessagingServiceSid-only send goes out from

# To numbers that simulate failures: (final status, ErrorCode, whether "sent" comes first)
FAILING_NUMBERS = {
    "+15005550001": ("failed", 30006, False),       # landline or unreachable carrier
    "+15005550009": ("undelivered", 30003, True),   # unreachable destination handset
}
ERROR_MESSAGES = {
    30003: "Unreachable destination handset",
    30006: "Landline or unreachable carrier",
}

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = set("^{}\\[~]|€\f")  # two septets each (escape + char)


def num_segments(body):
    """SMS segments as Twilio bills them: GSM-7 160 septets, 153 per part when
    concatenated; otherwise UCS-2, 70 code units, 67 per part."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in body):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in body)
        single, part = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, part = 70, 67
    return 1 if units <= single else math.ceil(units / part)


def rfc2822(ts):
    """A time as Twilio writes it: "Thu, 24 Aug 2023 05:01:45 +0000"."""
    return email.utils.format_datetime(
        datetime.datetime.fromtimestamp(int(ts), datetime.timezone.utc))


def iso_utc(ts):
    dt = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def twilio_signature(auth_token, url, params):
    """X-Twilio-Signature: Base64(HMAC-SHA1(token, URL + name1 + value1 + name2 ...)),
    the POST parameters in name order (a repeated name's values in order too)."""
    data = url + "".join(k + v for k, v in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_error(code, message, status):
    return {"code": code, "message": message,
            "more_info": "https://www.twilio.com/docs/errors/%d" % code, "status": status}


class JsonLines:
    """An append-only JSON-lines file, safe to write from several threads."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.file = open(path, "ab")

    def append(self, record):
        line = json.dumps(record, ensure_ascii=False).encode() + b"\n"
        with self.lock:
            self.file.write(line)
            self.file.flush()

    def close(self):
        with self.lock:
            self.file.close()


class Scheduler:
    """Jobs run at a due time by a few background threads (the status steps and the
    callbacks, with their retries). A job scheduled from a job runs after it, which keeps
    one message's callbacks in order."""

    def __init__(self, threads=4):
        self.heap = []
        self.seq = itertools.count()
        self.cond = threading.Condition()
        self.stopping = False
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def at(self, delay_s, job):
        with self.cond:
            heapq.heappush(self.heap, (time.monotonic() + delay_s, next(self.seq), job))
            self.cond.notify()

    def _run(self):
        while True:
            with self.cond:
                while not self.stopping:
                    now = time.monotonic()
                    if self.heap and self.heap[0][0] <= now:
                        break
                    self.cond.wait(self.heap[0][0] - now if self.heap else None)
                if self.stopping:
                    return
                _, _, job = heapq.heappop(self.heap)
            try:
                job()
            except Exception as e:  # a job's failure must not end the thread
                print("sms stub: background job failed: %r" % e, file=sys.stderr, flush=True)

    def stop(self):
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        for t in self.threads:
            t.join(timeout=2)


class Webhooks:
    """Signed form POSTs to the suite, as Twilio sends them, each attempt recorded."""

    def __init__(self, auth_token, log, timeout_s=15):
        self.auth_token = auth_token
        self.log = log
        self.timeout_s = timeout_s

    def post(self, kind, url, params, token=None, attempt=1):
        """One attempt. Returns (http_status, body bytes, content type); http_status is
        None after a connection error (the reason is in the record and returned as the
        body)."""
        token = token or uuid.uuid4().hex
        signature = twilio_signature(self.auth_token, url, params)
        body = urllib.parse.urlencode(params).encode()
        record = {"kind": kind, "url": url, "params": dict(params), "signature": signature,
                  "idempotency_token": token, "attempt": attempt, "http_status": None,
                  "error": None, "sent_at": iso_utc(time.time())}
        parts = urllib.parse.urlsplit(url)
        connection_class = (http.client.HTTPSConnection if parts.scheme == "https"
                            else http.client.HTTPConnection)
        result = (None, b"", "")
        try:
            conn = connection_class(parts.hostname, parts.port, timeout=self.timeout_s)
            try:
                target = parts.path or "/"
                if parts.query:
                    target += "?" + parts.query
                conn.request("POST", target, body=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signature,
                    "I-Twilio-Idempotency-Token": token,
                    "User-Agent": "TwilioProxy/1.1",
                    "Accept": "*/*",
                    "Connection": "close"})
                response = conn.getresponse()
                result = (response.status, response.read(),
                          response.getheader("Content-Type", ""))
                record["http_status"] = response.status
            finally:
                conn.close()
        except (OSError, http.client.HTTPException) as e:
            record["error"] = "%s: %s" % (type(e).__name__, e)
            result = (None, record["error"].encode(), "text/plain")
        self.log.append(record)
        return result


class Stub:
    """The stub's state: accounts, messages, the test failure mode, and the status
    progression of each message."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.messages = []   # stored records, oldest first
        self.by_sid = {}     # sid -> {"record": ..., "resource": ...}
        os.makedirs(args.dir, exist_ok=True)
        self.messages_log = JsonLines(os.path.join(args.dir, "messages.jsonl"))
        self.callbacks_log = JsonLines(os.path.join(args.dir, "callbacks.jsonl"))
        self.callbacks = []
        self.webhooks = Webhooks(args.auth_token, self)
        self.scheduler = Scheduler()
        self.mode = {"mode": "ok", "count": 0, "retry_after": 1, "delay_ms": 1000}
        self.remaining = None  # requests the mode still applies to; None: until changed

    # -- the callbacks log, kept in memory too for GET /_stub/callbacks
    def append(self, record):
        with self.lock:
            self.callbacks.append(record)
        self.callbacks_log.append(record)

    # -- failure modes
    def set_mode(self, spec):
        mode = spec.get("mode")
        if mode not in ("ok", "500", "429", "slow", "drop_before_read", "drop_after_read"):
            raise ValueError("mode must be one of ok, 500, 429, slow, drop_before_read, "
                             "drop_after_read")
        count = int(spec.get("count", 0))
        if count < 0:
            raise ValueError("count must be 0 (until changed) or more")
        with self.lock:
            self.mode = {"mode": mode, "count": count,
                         "retry_after": int(spec.get("retry_after", 1)),
                         "delay_ms": int(spec.get("delay_ms", 1000))}
            self.remaining = count if count > 0 else None
            return dict(self.mode)

    def take_mode(self):
        """The mode for this API request (None: behave), counting it down."""
        with self.lock:
            if self.mode["mode"] == "ok":
                return None
            mode = dict(self.mode)
            if self.remaining is not None:
                self.remaining -= 1
                if self.remaining <= 0:
                    self.mode = {"mode": "ok", "count": 0, "retry_after": 1, "delay_ms": 1000}
                    self.remaining = None
            return mode

    # -- messages
    def accept(self, params, headers):
        """Store a validated send and start its status progression; returns the
        Message resource."""
        now = time.time()
        sid = "SM" + uuid.uuid4().hex
        to, sender = params["To"], params.get("From")
        service = params.get("MessagingServiceSid")
        body = params["Body"]
        segments = num_segments(body)
        account = self.args.account_sid
        resource = {
            "account_sid": account, "api_version": API_VERSION, "body": body,
            "date_created": rfc2822(now), "date_sent": None, "date_updated": rfc2822(now),
            "direction": "outbound-api", "error_code": None, "error_message": None,
            "from": sender, "messaging_service_sid": service, "num_media": "0",
            "num_segments": str(segments), "price": None, "price_unit": "USD", "sid": sid,
            # A send through a Messaging Service alone is "accepted" until a sender is
            # picked from its pool; one with a From is "queued".
            "status": "queued" if sender else "accepted",
            "subresource_uris": {
                "media": "/%s/Accounts/%s/Messages/%s/Media.json" % (API_VERSION, account, sid),
                "feedback": "/%s/Accounts/%s/Messages/%s/Feedback.json" % (API_VERSION, account,
                                                                           sid)},
            "to": to, "uri": "/%s/Accounts/%s/Messages/%s.json" % (API_VERSION, account, sid),
        }
        record = {"sid": sid, "account_sid": account, "to": to, "from": sender,
                  "messaging_service_sid": service, "body": body, "num_segments": segments,
                  "status_callback": params.get("StatusCallback"),
                  "received_at": iso_utc(now), "headers": headers}
        with self.lock:
            self.messages.append(record)
            self.by_sid[sid] = {"record": record, "resource": resource, "sent_at": None}
        self.messages_log.append(record)
        self._plan(sid)
        return dict(resource)

    def _plan(self, sid):
        """queued -> sent -> delivered, or the simulated failure, each step after its
        delay and after the previous step's callback is done."""
        to = self.by_sid[sid]["record"]["to"]
        final, code, sent_first = FAILING_NUMBERS.get(to, ("delivered", None, True))
        steps = ([("sent", None)] if sent_first else []) + [(final, code)]
        delays = [self.args.sent_delay_ms, self.args.delivered_delay_ms]

        def step(i):
            status, error_code = steps[i]
            self._set_status(sid, status, error_code)
            callback = self.by_sid[sid]["record"]["status_callback"]

            def next_step():
                if i + 1 < len(steps):
                    self.scheduler.at(delays[min(i + 1, 1)] / 1000.0, lambda: step(i + 1))
            if callback:
                self._status_callback(sid, callback, status, error_code, next_step)
            else:
                next_step()
        self.scheduler.at(delays[0] / 1000.0, lambda: step(0))

    def _set_status(self, sid, status, error_code):
        now = time.time()
        with self.lock:
            entry = self.by_sid[sid]
            resource = entry["resource"]
            resource["status"] = status
            resource["date_updated"] = rfc2822(now)
            if resource["from"] is None:
                resource["from"] = POOL_NUMBER
            if resource["date_sent"] is None:
                resource["date_sent"] = rfc2822(now)
                entry["sent_at"] = now
            if error_code:
                resource["error_code"] = error_code
                resource["error_message"] = ERROR_MESSAGES.get(error_code)

    def _status_callback(self, sid, url, status, error_code, then):
        """POST one status callback, retrying a connection error or 5xx with backoff;
        then() runs once it is delivered or given up."""
        with self.lock:
            resource = dict(self.by_sid[sid]["resource"])
        params = [("AccountSid", resource["account_sid"]), ("ApiVersion", API_VERSION),
                  ("From", resource["from"]), ("MessageSid", sid), ("MessageStatus", status),
                  ("SmsSid", sid), ("SmsStatus", status), ("To", resource["to"])]
        if resource["messaging_service_sid"]:
            params.append(("MessagingServiceSid", resource["messaging_service_sid"]))
        if error_code:
            params.append(("ErrorCode", str(error_code)))
        token = uuid.uuid4().hex  # one per event, the same on every retry (as Twilio)

        def attempt(n):
            http_status, _, _ = self.webhooks.post("status", url, params, token, n)
            if (http_status is None or http_status >= 500) and n <= self.args.callback_retries:
                backoff = self.args.callback_backoff_ms * (2 ** (n - 1)) / 1000.0
                self.scheduler.at(backoff, lambda: attempt(n + 1))
            else:
                then()
        attempt(1)

    def resource(self, sid):
        with self.lock:
            entry = self.by_sid.get(sid)
            return dict(entry["resource"]) if entry else None

    def listing(self, to=None, sender=None, sent_from=None, sent_to=None):
        """Messages matching the filters, newest first."""
        with self.lock:
            out = []
            for record in reversed(self.messages):
                entry = self.by_sid[record["sid"]]
                resource = entry["resource"]
                if to is not None and resource["to"] != to:
                    continue
                if sender is not None and resource["from"] != sender:
                    continue
                if sent_from is not None or sent_to is not None:
                    sent = entry["sent_at"]
                    if sent is None or (sent_from is not None and sent < sent_from) or \
                            (sent_to is not None and sent >= sent_to):
                        continue
                out.append(dict(resource))
            return out

    def stub_messages(self):
        with self.lock:
            out = []
            for record in self.messages:
                resource = self.by_sid[record["sid"]]["resource"]
                out.append(dict(record, status=resource["status"],
                                error_code=resource["error_code"]))
            return out

    def stub_callbacks(self):
        with self.lock:
            return list(self.callbacks)

    def close(self):
        self.scheduler.stop()
        self.messages_log.close()
        self.callbacks_log.close()


def parse_day(text):
    """A DateSent filter value: YYYY-MM-DD (or an ISO time, whose day counts), as the
    UTC midnight starting that day, in seconds."""
    day = datetime.date.fromisoformat(text[:10])
    return datetime.datetime(day.year, day.month, day.day,
                             tzinfo=datetime.timezone.utc).timestamp()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"       # keep-alive
    disable_nagle_algorithm = True      # an answer leaves at once
    server_version = "crm-sms-stub"
    sys_version = ""

    def log_message(self, fmt, *args):
        if not self.server.stub.args.quiet:
            sys.stderr.write("sms stub: %s %s\n" % (self.address_string(), fmt % args))

    def log_request(self, code="-", size="-"):
        pass  # one line per request is too many at thousands a second

    # -- reading and answering
    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def respond(self, status, payload, content_type=None, extra=()):
        """The whole answer in one write: status line, headers, body."""
        if isinstance(payload, (dict, list)):
            body = json.dumps(payload).encode()
        elif isinstance(payload, str):
            body = payload.encode()
        else:
            body = payload or b""
        reason = http.server.BaseHTTPRequestHandler.responses.get(status, ("",))[0]
        head = ["HTTP/1.1 %d %s" % (status, reason),
                "Date: " + email.utils.formatdate(usegmt=True),
                "Server: " + self.server_version,
                "Content-Type: " + (content_type or "application/json; charset=utf-8"),
                "Content-Length: %d" % len(body)]
        head.extend("%s: %s" % h for h in extra)
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def drop(self):
        """Close the connection without answering."""
        self.close_connection = True

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        stub = self.server.stub
        parts = urllib.parse.urlsplit(self.path)
        path = parts.path
        if path.startswith("/_stub/"):
            return self.control(method, path)
        match = MESSAGES_PATH.match(path)
        mode = stub.take_mode() if path.startswith("/%s/" % API_VERSION) else None
        if mode:
            name = mode["mode"]
            if name == "drop_before_read":
                return self.drop()  # before the body is read: nothing is stored
            if name == "slow":
                time.sleep(mode["delay_ms"] / 1000.0)
            elif name in ("500", "429"):
                self.read_body()
                if name == "500":
                    return self.respond(500, twilio_error(20500, "Internal Server Error", 500))
                return self.respond(429, twilio_error(20429, "Too Many Requests", 429),
                                    extra=[("Retry-After", str(mode["retry_after"]))])
        body = self.read_body() if method in ("POST", "PUT") else b""
        answer = self.messages_api(method, parts, match, body)
        if mode and mode["mode"] == "drop_after_read":
            return self.drop()  # read and handled (a send is stored), never answered
        self.respond(*answer)

    def authenticated(self, account_sid):
        """HTTP Basic AccountSid:AuthToken, for the account in the path."""
        args = self.server.stub.args
        value = self.headers.get("Authorization", "")
        if not value.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(value[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return (hmac.compare_digest(user, args.account_sid)
                and hmac.compare_digest(password, args.auth_token)
                and account_sid == args.account_sid)

    def messages_api(self, method, parts, match, body):
        """The Messages API; returns (status, payload[, content type[, headers]])."""
        stub = self.server.stub
        if not match:
            return 404, twilio_error(20404, "The requested resource %s was not found"
                                     % parts.path, 404)
        account_sid, sid = match.group(1), match.group(2)
        if not self.authenticated(account_sid):
            return (401, twilio_error(20003, "Authenticate", 401), None,
                    [("WWW-Authenticate", 'Basic realm="Twilio API"')])
        if sid is None and method == "POST":
            return self.create(body)
        if sid is None and method == "GET":
            return self.list(parts)
        if sid is not None and method == "GET":
            resource = stub.resource(sid)
            if resource is None:
                return 404, twilio_error(20404, "The requested resource %s was not found"
                                         % parts.path, 404)
            return 200, resource
        return 405, twilio_error(20004, "Method not allowed", 405)

    def create(self, body):
        """POST Messages.json: validate as Twilio does, then 201 and the Message."""
        content_type = self.headers.get("Content-Type", "")
        pairs = []
        if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                           keep_blank_values=True)
        params = {}
        for name, value in pairs:
            params.setdefault(name, value)  # the first of a repeated parameter counts
        to = params.get("To", "")
        sender = params.get("From", "")
        service = params.get("MessagingServiceSid", "")
        text = params.get("Body", "")
        callback = params.get("StatusCallback", "")
        if not E164.match(to):
            return 400, twilio_error(21211, "The 'To' number %s is not a valid phone number."
                                     % to, 400)
        if not sender and not service:
            return 400, twilio_error(21603, "A 'From' phone number is required.", 400)
        if sender and not (E164.match(sender) or SHORT_CODE.match(sender)
                           or ALPHANUMERIC_SENDER.match(sender)):
            return 400, twilio_error(21212, "The 'From' number %s is not a valid phone number,"
                                     " shortcode, or alphanumeric sender ID." % sender, 400)
        if service and not SERVICE_SID.match(service):
            return 400, twilio_error(21701, "The Messaging Service Sid %s is invalid."
                                     % service, 400)
        if sender and sender == to:
            return 400, twilio_error(21266, "'To' and 'From' number cannot be the same: %s"
                                     % to, 400)
        if not text:
            return 400, twilio_error(21602, "Message body is required.", 400)
        if len(text) > 1600:
            return 400, twilio_error(21617, "The concatenated message body exceeds the 1600 "
                                     "character limit.", 400)
        if callback and urllib.parse.urlsplit(callback).scheme not in ("http", "https"):
            return 400, twilio_error(21609, "The StatusCallback URL %s is not a valid URL."
                                     % callback, 400)
        clean = {k: v for k, v in (("To", to), ("From", sender or None),
                                   ("MessagingServiceSid", service or None), ("Body", text),
                                   ("StatusCallback", callback or None)) if v is not None}
        headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        return 201, self.server.stub.accept(clean, headers)

    def list(self, parts):
        """GET Messages.json: Twilio's page format, newest first."""
        stub = self.server.stub
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        try:
            page_size = max(1, min(1000, int(query.get("PageSize", "50"))))
            page = max(0, int(query.get("Page", "0")))
            sent_from = sent_to = None
            if "DateSent" in query:
                sent_from = parse_day(query["DateSent"])
                sent_to = sent_from + 86400
            if "DateSent>" in query:
                sent_from = parse_day(query["DateSent>"])
            if "DateSent<" in query:
                sent_to = parse_day(query["DateSent<"]) + 86400
        except ValueError as e:
            return 400, twilio_error(20001, "Invalid parameter: %s" % e, 400)
        found = stub.listing(query.get("To"), query.get("From"), sent_from, sent_to)
        chosen = found[page * page_size:(page + 1) * page_size]

        def page_uri(n):
            q = [(k, v) for k, v in query.items() if k not in ("Page", "PageSize")]
            q += [("PageSize", str(page_size)), ("Page", str(n))]
            return parts.path + "?" + urllib.parse.urlencode(q)
        more = (page + 1) * page_size < len(found)
        start = page * page_size
        return 200, {
            "end": start + len(chosen) - 1 if chosen else 0,
            "first_page_uri": page_uri(0),
            "messages": chosen,
            "next_page_uri": page_uri(page + 1) if more else None,
            "page": page, "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start if chosen else 0,
            "uri": page_uri(page),
        }

    # -- the test controls
    def control(self, method, path):
        stub = self.server.stub
        body = self.read_body() if method == "POST" else b""
        if method == "GET" and path == "/_stub/messages":
            return self.respond(200, stub.stub_messages())
        if method == "GET" and path == "/_stub/callbacks":
            return self.respond(200, stub.stub_callbacks())
        if method != "POST" or path not in ("/_stub/mode", "/_stub/inbound", "/_stub/callback"):
            return self.respond(404, {"error": "no such stub control: %s %s" % (method, path)})
        try:
            spec = json.loads(body or b"{}")
            if not isinstance(spec, dict):
                raise ValueError("expected a JSON object")
            if path == "/_stub/mode":
                return self.respond(200, stub.set_mode(spec))
            if path == "/_stub/inbound":
                return self.relay("inbound", spec["url"], self.inbound_params(spec))
            params = spec.get("params") or {}
            if not isinstance(params, dict):
                raise ValueError("params must be an object of names to strings")
            return self.relay("custom", spec["url"], [(str(k), str(v))
                                                      for k, v in params.items()])
        except (ValueError, KeyError, TypeError) as e:
            return self.respond(400, {"error": "bad stub request: %s" % e})

    def inbound_params(self, spec):
        """An incoming SMS as Twilio posts it to the number's webhook."""
        sid = "SM" + uuid.uuid4().hex
        sender, to, text = str(spec["from"]), str(spec["to"]), str(spec.get("body", ""))
        params = [("ToCountry", "US" if to.startswith("+1") else ""), ("ToState", ""),
                  ("SmsMessageSid", sid), ("NumMedia", "0"), ("ToCity", ""), ("FromZip", ""),
                  ("SmsSid", sid), ("FromState", ""), ("SmsStatus", "received"),
                  ("FromCity", ""), ("Body", text),
                  ("FromCountry", "US" if sender.startswith("+1") else ""), ("To", to),
                  ("ToZip", ""), ("NumSegments", str(num_segments(text) if text else 1)),
                  ("MessageSid", sid), ("AccountSid", self.server.stub.args.account_sid),
                  ("From", sender), ("ApiVersion", API_VERSION)]
        return params

    def relay(self, kind, url, params):
        """Send one signed webhook now; answer with what it answered (502 when it could
        not be reached)."""
        status, body, content_type = self.server.stub.webhooks.post(kind, url, params)
        if status is None:
            return self.respond(502, {"error": "could not reach %s: %s"
                                      % (url, body.decode("utf-8", "replace"))})
        return self.respond(status, body, content_type or "application/octet-stream")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def parse_args(argv):
    p = argparse.ArgumentParser(description="Local Twilio-compatible Messages API stub.")
    p.add_argument("--dir", required=True, help="where messages.jsonl and callbacks.jsonl go")
    p.add_argument("--port", type=int, required=True, help="TCP port; 0: any free port")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--account-sid", required=True, help="AC + 32 hex digits")
    p.add_argument("--auth-token", default=os.environ.get("SMS_STUB_AUTH_TOKEN"),
                   help="Basic password and webhook key (default: $SMS_STUB_AUTH_TOKEN, kept "
                        "out of ps)")
    p.add_argument("--sent-delay-ms", type=int, default=200,
                   help="from accepted to sent (or failed)")
    p.add_argument("--delivered-delay-ms", type=int, default=1000,
                   help="from sent to delivered (or undelivered)")
    p.add_argument("--callback-retries", type=int, default=3,
                   help="retries of a status callback after a connection error or 5xx")
    p.add_argument("--callback-backoff-ms", type=int, default=250,
                   help="wait before the first retry; doubles each time")
    p.add_argument("--quiet", action="store_true", help="no log lines on stderr")
    a = p.parse_args(argv)
    if not re.match(r"^AC[0-9a-f]{32}$", a.account_sid):
        p.error("--account-sid must be AC followed by 32 lower-case hex digits")
    if not a.auth_token:
        p.error("--auth-token must not be empty")
    return a


def main(argv):
    args = parse_args(argv)
    stub = Stub(args)
    try:
        server = Server((args.host, args.port), Handler)
    except OSError as e:
        print("sms stub: could not listen on %s:%d: %s" % (args.host, args.port, e),
              file=sys.stderr, flush=True)
        return 1
    server.stub = stub
    port = server.server_address[1]
    tmp = os.path.join(args.dir, "port.tmp-%d" % os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, os.path.join(args.dir, "port"))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # A short poll: SIGTERM's shutdown() waits for the loop to look up.
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                               daemon=True)
    serving.start()
    print("sms stub: listening on http://%s:%d (account %s), storing in %s" %
          (args.host, port, args.account_sid, os.path.join(args.dir, "messages.jsonl")),
          flush=True)
    while not stop.wait(3600):
        pass
    server.shutdown()
    server.server_close()
    stub.close()
    print("sms stub: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
