#!/usr/bin/env python3
"""Self-check of the example RAG service (app.py) running against `ragperf mock`.

Usage: check_app.py BASE_URL [REPEATS]     e.g. check_app.py http://127.0.0.1:8080 3

Calls every endpoint REPEATS times (default 3) with the standard library only and checks:
HTTP 200; the whole answer (/chat) or, for the SSE endpoints, at least one token event and a final
done event; non-empty citations; every cited id appears in the answer text as `[doc_id]` (the mock
cites each passage of the prompt inline). An error event fails the check with its message.
Prints `N passed, M failed` and exits non-zero on any failure.
"""

import http.client
import json
import sys
import time
import urllib.parse

QUESTIONS = [
    "How often is the primary cooling pump serviced?",
    "What is the current site status?",
    "Which vibration level triggers an inspection?",
]
STREAMS = ["/chat/stream/sync", "/chat/stream", "/chat/stream/shared-client"]
TIMEOUT_S = 60


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name} {detail}")


def post(base, path, body):
    """Opens a POST; returns (connection, response) with the body not yet read."""
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=TIMEOUT_S)
    conn.request(
        "POST",
        u.path.rstrip("/") + path,
        body=json.dumps(body),
        headers={"content-type": "application/json", "accept": "text/event-stream"},
    )
    return conn, conn.getresponse()


def read_sse(resp):
    """Reads `data:` events line by line as they arrive; returns (events, first_token_s)."""
    events, data, start, first = [], [], time.monotonic(), None
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.decode("utf-8").rstrip("\r\n")
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif line == "" and data:
            event = json.loads("\n".join(data))
            data = []
            events.append(event)
            if event.get("type") == "token" and first is None:
                first = time.monotonic() - start
            if event.get("type") in ("done", "error"):
                break
    return events, first


def check_citations(c, name, answer, citations):
    c.check(f"{name} citations non-empty", bool(citations), citations)
    missing = [d for d in citations if f"[{d}]" not in answer]
    c.check(f"{name} every citation is in the answer", not missing, f"missing {missing} in {answer!r}")


def check_whole(c, base, i, question):
    name = f"/chat #{i}"
    conn, resp = post(base, "/chat", {"session_id": f"check-{i}", "message": question})
    try:
        raw = resp.read()
        c.check(f"{name} HTTP 200", resp.status == 200, f"{resp.status} {raw[:300]!r}")
        if resp.status != 200:
            return
        body = json.loads(raw)
        answer = body.get("answer") or ""
        c.check(f"{name} answer non-empty", bool(answer.strip()), body)
        check_citations(c, name, answer, body.get("citations") or [])
    finally:
        conn.close()


def check_stream(c, base, path, i, question):
    name = f"{path} #{i}"
    conn, resp = post(base, path, {"session_id": f"check-{i}", "message": question})
    try:
        if resp.status != 200:
            c.check(f"{name} HTTP 200", False, f"{resp.status} {resp.read()[:300]!r}")
            return
        c.check(f"{name} HTTP 200", True)
        ctype = resp.getheader("content-type", "")
        c.check(f"{name} text/event-stream", ctype.startswith("text/event-stream"), ctype)
        events, _ = read_sse(resp)
        tokens = [e for e in events if e.get("type") == "token"]
        last = events[-1] if events else {}
        c.check(f"{name} no error event", last.get("type") != "error", last.get("message"))
        c.check(f"{name} >= 1 token event", len(tokens) >= 1, len(tokens))
        c.check(f"{name} ends with done", last.get("type") == "done", last)
        answer = "".join(e.get("content", "") for e in tokens)
        check_citations(c, name, answer, last.get("citations") or [])
    finally:
        conn.close()


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__)
        return 2
    base = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) == 3 else 3
    c = Checks()
    for i in range(repeats):
        question = QUESTIONS[i % len(QUESTIONS)]
        for run in [lambda: check_whole(c, base, i, question)] + [
            (lambda p=p: check_stream(c, base, p, i, question)) for p in STREAMS
        ]:
            try:
                run()
            except Exception as e:  # noqa: BLE001 - a transport error is a failed check
                c.check(f"request #{i} completes", False, f"{type(e).__name__}: {e}")
    print(f"{c.passed} passed, {c.failed} failed")
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
