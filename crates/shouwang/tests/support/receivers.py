#!/usr/bin/env python3
"""Real receivers for the delivery tests, written independently of the Rust
code they test: an SMTP server (aiosmtpd) and an HTTP server for webhooks
and group robots that checks each platform's signature with Python's own
hmac module. Everything received is appended to OUT/received.jsonl, one JSON
object per line; "ready" is printed once listening.

    receivers.py smtp PORT OUT [--reject] [--starttls CERT KEY]
    receivers.py hang PORT                      (accepts, never answers)
    receivers.py http PORT OUT SECRET

HTTP paths: /webhook checks our X-Shouwang-Signature; /dingtalk the
timestamp+sign query; /feishu the body's timestamp+sign; /wecom nothing (its
key is in the URL). /fail answers 500 for ever.
"""
import base64
import hashlib
import hmac
import json
import socket
import sys
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()


def record(out, obj):
    with LOCK, open(f"{out}/received.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(obj, ensure_ascii=False) + "\n")


def smtp(port, out, reject, starttls):
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if reject:
                return "550 5.1.1 mailbox unavailable"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            msg = message_from_bytes(envelope.content, policy=policy.default)
            record(out, {
                "via": "smtp",
                "tls": bool(session.ssl),
                "from": envelope.mail_from,
                "to": envelope.rcpt_tos,
                "subject": str(msg["subject"]),
                "message_id": str(msg["message-id"]),
                "content_type": msg.get_content_type(),
                "body": msg.get_content(),
            })
            return "250 Message accepted"

    kwargs = {}
    if starttls:
        import ssl
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(starttls[0], starttls[1])
        kwargs = {"tls_context": ctx, "require_starttls": True}
    c = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
    c.start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


def hang(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    print("ready", flush=True)
    held = []
    while True:
        conn, _ = s.accept()
        held.append(conn)  # never greets, never closes


def http(port, out, secret):
    key = secret.encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            url = urlparse(self.path)
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            entry = {"via": "http", "path": url.path, "query": query,
                     "headers": {k.lower(): v for k, v in self.headers.items()},
                     "body": json.loads(body or b"null")}
            status, answer = 200, {"errcode": 0, "errmsg": "ok"}
            if url.path == "/webhook":
                ts = self.headers.get("x-shouwang-timestamp", "")
                want = "sha256=" + hmac.new(key, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
                entry["signature_ok"] = hmac.compare_digest(want, self.headers.get("x-shouwang-signature", ""))
            elif url.path == "/dingtalk":
                ts = query.get("timestamp", "")
                want = base64.b64encode(hmac.new(key, f"{ts}\n{secret}".encode(), hashlib.sha256).digest()).decode()
                entry["signature_ok"] = hmac.compare_digest(want, query.get("sign", ""))
            elif url.path == "/feishu":
                b = entry["body"] or {}
                ts = b.get("timestamp", "")
                want = base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
                entry["signature_ok"] = hmac.compare_digest(want, b.get("sign", ""))
                answer = {"code": 0, "msg": "success"}
            elif url.path == "/fail":
                status, answer = 500, {"error": "always failing"}
            record(out, entry)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "smtp":
        args = sys.argv[4:]
        tls = args[args.index("--starttls") + 1:args.index("--starttls") + 3] if "--starttls" in args else None
        smtp(port, sys.argv[3], "--reject" in args, tls)
    elif mode == "hang":
        hang(port)
    else:
        http(port, sys.argv[3], sys.argv[4])
