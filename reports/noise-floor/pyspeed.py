#!/usr/bin/env python3
"""Python's speed on this machine: units of interpreter-bound work per ms of this process's CPU
(json round trips, small objects, dicts, strings: the kind of work a Python RAG service does per
token event). Prints one figure, the median of 5 slices of SECONDS/5 each."""
import json, statistics, sys, time

class Chunk:
    __slots__ = ("text", "meta", "index")
    def __init__(self, text, meta, index):
        self.text, self.meta, self.index = text, meta, index

def unit(i):
    ev = json.dumps({"contentBlockDelta": {"delta": {"text": f"token {i} "}, "contentBlockIndex": 0}, "p": "abcdefghij" * 3})
    d = json.loads(ev)
    chunks = [Chunk(d["contentBlockDelta"]["delta"]["text"], {"n": j, "k": str(j)}, j) for j in range(20)]
    text = "".join(c.text for c in chunks)
    return len(text) + sum(c.meta["n"] for c in chunks)

def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    rates = []
    for _ in range(5):
        n, t0 = 0, time.process_time()
        while time.process_time() - t0 < seconds / 5:
            for i in range(200):
                unit(i)
            n += 200
        rates.append(n / ((time.process_time() - t0) * 1000))
    print(f"{statistics.median(rates):.2f}")

main()
