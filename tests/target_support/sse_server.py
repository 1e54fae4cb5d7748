#!/usr/bin/env python3
"""A tiny SSE chat server for ragperf's --target-cmd tests (stdlib only).

Usage: sse_server.py PORT [--die-after N] [--token-delay-ms MS]

POST /chat/stream answers in the seed's shape (5 token events, --token-delay-ms apart, default 5, then a done event) from a
thread per connection, like a `def` endpoint. It answers 500 unless RAGPERF_BEDROCK_URL is in
its environment (ragperf puts the mocks' URLs there). GET / answers 200 (readiness). With
--die-after N the process exits with status 3 after N chat requests.
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
DIE_AFTER = int(sys.argv[sys.argv.index("--die-after") + 1]) if "--die-after" in sys.argv else None
TOKEN_DELAY_S = (
    int(sys.argv[sys.argv.index("--token-delay-ms") + 1]) / 1000 if "--token-delay-ms" in sys.argv else 0.005
)
served = 0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = b"ok"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        global served
        length = int(self.headers.get("content-length", "0"))
        request = json.loads(self.rfile.read(length) or b"{}")
        with lock:
            served += 1
            n = served
        if DIE_AFTER is not None and n > DIE_AFTER:
            print(f"dying after {DIE_AFTER} requests", flush=True)
            time.sleep(0.2)  # let the requests already streaming finish
            os._exit(3)
        if not os.environ.get("RAGPERF_BEDROCK_URL") or "message" not in request:
            self.send_response(500)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        for i in range(5):
            time.sleep(TOKEN_DELAY_S)
            event = {"type": "token", "content": f"t{i} "}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        done = {"type": "done", "citations": ["doc-1"]}
        self.wfile.write(f"data: {json.dumps(done)}\n\n".encode())
        self.wfile.flush()
        self.close_connection = True


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
