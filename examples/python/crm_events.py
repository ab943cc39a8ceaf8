#!/usr/bin/python3
"""Follow the Dealer CRM suite's events and print each as one JSON line.

The same as `crmctl events tail`, in Python, with Debian 12's python3-zmq and
python3-protobuf and the classes protoc generates from proto/*.proto:

    examples/python/gen.sh                 # once: build/python/*_pb2.py
    examples/python/crm_events.py [--topic PREFIX] [--from SEQ] [--count N]

Live only (no --from), what arrives is printed: at most once. With --from SEQ (and a
--topic naming one source, e.g. "contacts"), the source's history from SEQ is replayed
through the broker (the source's "Events.Replay" method, spoken in MDP 0.1 over a
DEALER socket), then the live stream continues without gaps or duplicates: the SUB
socket subscribes before the replay, events at or below the last printed seq are
dropped, and a seq beyond the next one or a "<source>._head" announcement ahead of the
last printed one makes it replay again. docs/EVENTS.md explains the guarantees.

Endpoints: --subscribe (default $CRM_EVENTS_SUBSCRIBE_ENDPOINT or tcp://127.0.0.1:5557),
--broker (default $CRM_BROKER_ENDPOINT or tcp://127.0.0.1:5555). Generated classes:
--pb2-dir (default $CRM_PB2_DIR or build/python in the repository).

CurveZMQ: the gateway admits known keys only. --key names this client's key pair (a
NAME.key_secret file from `crmctl certs create NAME --role subscriber:TENANT`; default
$CRM_SECURITY_CERT), --server-key the gateway's public key (default
$CRM_SECURITY_SERVER_CERT, or gateway.key in $CRM_SECURITY_CERTS_DIR). Without --key the
sockets are plain text, which only a gateway with security.insecure: true accepts.
Topics are "<source>.<tenant>.<Type>"; a key bound to one tenant subscribes to
"<source>.<tenant>." (or longer) and replays with that tenant.
"""
import argparse
import json
import os
import sys
import time

import zmq
from google.protobuf import json_format

HERE = os.path.dirname(os.path.abspath(__file__))
RETRY_SECONDS = 1.0
REPLAY_TIMEOUT_MS = 5000
ENVELOPE_ORDER = ("source", "seq", "type", "tenantId", "aggregateId", "occurredAt", "eventId")


class Refused(Exception):
    """The source refused a replay for good (410 past the retention, another 4xx)."""


class Source:
    """The replay side: Events.Replay calls to one source over the Majordomo broker."""

    def __init__(self, ctx, args, name, pb):
        self.ctx, self.args, self.broker, self.name, self.pb = ctx, args, args.broker, name, pb
        self.socket = None

    def _call(self, from_seq):
        """One Events.Replay call: (ReplyHeader, ReplayResponse or None), or None when no
        answer came in time (the socket is then replaced, so a late answer is never taken
        for the next one)."""
        common, events = self.pb
        if self.socket is None:
            self.socket = self.ctx.socket(zmq.DEALER)
            self.socket.setsockopt(zmq.LINGER, 0)
            secure(self.args, self.socket)
            self.socket.connect(self.broker)
        header = common.RequestHeader(method="Events.Replay", tenant_id=self.args.tenant,
                                      actor_id="crm_events.py",
                                      role="system" if self.args.tenant == "*" else "admin",
                                      deadline_ms=REPLAY_TIMEOUT_MS)
        request = events.ReplayRequest(from_seq=from_seq)
        # MDP 0.1 client request: "", "MDPC01", service, then the body frames.
        self.socket.send_multipart([b"", b"MDPC01", self.name.encode(),
                                    header.SerializeToString(), request.SerializeToString()])
        if not self.socket.poll(REPLAY_TIMEOUT_MS + 1000):
            self.socket.close()
            self.socket = None
            return None
        frames = self.socket.recv_multipart()  # "", "MDPC01", service, header, body
        reply = common.ReplyHeader.FromString(frames[3])
        page = events.ReplayResponse.FromString(frames[4]) if reply.code == 200 else None
        return reply, page

    def replay(self, from_seq):
        """The page of events from from_seq; None to try again later; Refused."""
        answer = self._call(from_seq)
        if answer is None:
            warn(f"no answer from {self.name} to Events.Replay; retrying")
            return None
        reply, page = answer
        if reply.code == 200:
            return page
        if reply.code == 410:
            probe = self._call(1 << 62)  # beyond any event: tells the oldest kept seq
            oldest = f"; the oldest kept is {probe[1].oldest_seq}" if probe and probe[1] else ""
            raise Refused(f"events of {self.name} from seq {from_seq} are no longer kept"
                          f"{oldest}\nhint: start at the oldest kept seq or later (--from)")
        if reply.code >= 500:
            warn(f"{self.name} could not replay events ({reply.code} {reply.error}:"
                 f" {reply.message}); retrying")
            return None
        raise Refused(f"{self.name} refused Events.Replay: {reply.code} {reply.error}:"
                      f" {reply.message}")


class Tail:
    def __init__(self, pb, count):
        self.pb, self.count, self.printed = pb, count, 0

    def print_event(self, envelope):
        """Print one event; False once --count events were printed."""
        common, events = self.pb
        fields = json_format.MessageToDict(envelope)
        line = {name: fields[name] for name in ENVELOPE_ORDER if name in fields}
        payload_class = None
        if envelope.type in events.DESCRIPTOR.message_types_by_name:
            payload_class = getattr(events, envelope.type)
        if payload_class is not None:
            payload = payload_class.FromString(envelope.payload)
            line["payload"] = json_format.MessageToDict(payload)
        elif "payload" in fields:
            line["payload"] = fields["payload"]  # an unknown type: base64, as bytes are
        print(json.dumps(line, separators=(",", ":")), flush=True)
        self.printed += 1
        return not self.count or self.printed < self.count


def warn(text):
    print(f"crm_events.py: {text}", file=sys.stderr, flush=True)


def load_classes(pb2_dir):
    sys.path.insert(0, pb2_dir)
    try:
        import common_pb2
        import events_pb2
    except ImportError as error:
        sys.exit(f"crm_events.py: could not load the generated classes from {pb2_dir}: {error}\n"
                 "hint: run examples/python/gen.sh (needs protoc: apt-get install"
                 " protobuf-compiler)")
    return common_pb2, events_pb2


def read_cert(path):
    """The public and secret keys (Z85) of a CZMQ certificate file (zcert)."""
    keys = {}
    with open(path, encoding="ascii") as cert:
        for line in cert:
            name, _, value = line.strip().partition("=")
            if name.strip() in ("public-key", "secret-key"):
                keys[name.strip()] = value.strip().strip('"').encode()
    return keys.get("public-key"), keys.get("secret-key")


def secure(args, socket):
    """Make socket a CURVE client of the gateway, when a key pair is given."""
    if not args.key:
        return
    public, secret = read_cert(args.key)
    server, _ = read_cert(args.server_key)
    if not public or not secret or not server:
        sys.exit("crm_events.py: --key must be a NAME.key_secret file, --server-key the"
                 " gateway's NAME.key")
    socket.curve_publickey = public
    socket.curve_secretkey = secret
    socket.curve_serverkey = server


def follow(args, pb):
    common, events = pb
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, 0)  # hold what arrives during a replay, however much
    topic = args.topic
    source = None
    if args.from_seq is not None:
        source = topic.rstrip(".")
        if not source or "." in source:
            sys.exit("crm_events.py: --from needs --topic to name one source, e.g. contacts")
        topic = source + "."
    sub.setsockopt(zmq.SUBSCRIBE, topic.encode())  # first: live events wait in its queue
    secure(args, sub)
    sub.connect(args.subscribe)
    tail = Tail(pb, args.count)

    last = (args.from_seq or 1) - 1  # the last seq printed (with --from)
    head = 0                         # the highest seq the source announced
    behind = source is not None      # events are missing: replay from last + 1
    retry_at = 0.0
    replayer = Source(ctx, args, source, pb) if source else None
    try:
        while True:
            if behind and time.monotonic() >= retry_at:
                # Catch up through replay, page after page, until the head.
                while True:
                    page = replayer.replay(last + 1)
                    if page is None:
                        break
                    head = max(head, page.head_seq)
                    fresh = [e for e in page.events if e.seq > last]
                    for event in fresh:
                        last = event.seq
                        if not tail.print_event(event):
                            return 0
                    if not fresh or last >= page.head_seq:
                        break
                behind = last < head
                retry_at = time.monotonic() + RETRY_SECONDS
                continue
            if not sub.poll(250):
                continue
            name, body = sub.recv_multipart()
            if name.endswith(b"._head"):
                if source is not None:
                    announced = events.Head.FromString(body)
                    if announced.source == source:
                        head = max(head, announced.head_seq)
                        behind = behind or head > last
                continue
            envelope = common.Event.FromString(body)
            if source is None:
                if not tail.print_event(envelope):
                    return 0
            elif envelope.seq == last + 1:
                last = envelope.seq
                head = max(head, last)
                if not tail.print_event(envelope):
                    return 0
            elif envelope.seq > last + 1:
                head = max(head, envelope.seq)
                behind = True  # a replay prints it after the ones missing before it
            # else: printed already (from the replay), dropped
    except Refused as error:
        warn(str(error))
        return 1
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # the reader went away (| head)
        sys.stdout = open(os.devnull, "w")
        return 0
    finally:
        ctx.destroy(linger=0)


def main():
    parser = argparse.ArgumentParser(description="Print the CRM suite's events as JSON lines.")
    parser.add_argument("--topic", default="",
                        help='topic prefix: "contacts", "contacts.acme.ContactCreated" (default: all)')
    parser.add_argument("--from", dest="from_seq", type=int, metavar="SEQ",
                        help="replay the source's events from SEQ first (needs --topic SOURCE)")
    parser.add_argument("--count", type=int, default=0, metavar="N",
                        help="exit after N events")
    parser.add_argument("--subscribe", metavar="ENDPOINT",
                        default=os.environ.get("CRM_EVENTS_SUBSCRIBE_ENDPOINT",
                                               "tcp://127.0.0.1:5557"),
                        help="the gateway's XPUB (events.subscribe_endpoint)")
    parser.add_argument("--broker", metavar="ENDPOINT",
                        default=os.environ.get("CRM_BROKER_ENDPOINT", "tcp://127.0.0.1:5555"),
                        help="the Majordomo broker (broker.endpoint), for --from")
    certs = os.environ.get("CRM_SECURITY_CERTS_DIR", "var/certs")
    parser.add_argument("--key", metavar="FILE", default=os.environ.get("CRM_SECURITY_CERT"),
                        help="this client's key pair (NAME.key_secret); none: plain text")
    parser.add_argument("--server-key", metavar="FILE",
                        default=os.environ.get("CRM_SECURITY_SERVER_CERT") or
                        os.path.join(certs, "gateway.key"),
                        help="the gateway's public key (gateway.key)")
    parser.add_argument("--tenant", default="*",
                        help="replay this tenant's events only (a key bound to one tenant"
                        " must name it); default: every tenant's")
    parser.add_argument("--pb2-dir", metavar="DIR",
                        default=os.environ.get("CRM_PB2_DIR",
                                               os.path.join(HERE, "..", "..", "build", "python")),
                        help="where examples/python/gen.sh put the generated classes")
    args = parser.parse_args()
    if args.from_seq is not None and args.from_seq < 1:
        parser.error("--from takes a seq from 1")
    if args.count < 0:
        parser.error("--count takes a number from 1")
    return follow(args, load_classes(args.pb2_dir))


if __name__ == "__main__":
    sys.exit(main())
