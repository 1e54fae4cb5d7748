#!/usr/bin/env python3
"""Drives mock Bedrock Runtime with the unmodified boto3 `bedrock-runtime` client, exactly as a
user would.

Usage: check_bedrock.py http://127.0.0.1:PORT

Covers: converse (message, stop reason, usage, metrics, inline citations of the `[source: id]`
passages), converse_stream (event order, one delta per output token, the same text as converse,
maxTokens -> max_tokens), an inference-profile ARN as model id, invoke_model on Titan Text
Embeddings v2 (1024 and 256 dimensions, unit norm, embeddingsByType) and v1 (1536), and the error
answers (ValidationException, ResourceNotFoundException).
Prints `N passed, M failed` and exits non-zero on any failure.
"""

import json
import math
import sys

import boto3
from botocore.config import Config

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
PROFILE_ARN = (
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
    "us.anthropic.claude-3-5-haiku-20241022-v1:0"
)
TITAN_V2 = "amazon.titan-embed-text-v2:0"
TITAN_V1 = "amazon.titan-embed-text-v1"

SYSTEM = [
    {
        "text": "Answer from the passages and cite them.\n"
        "[source: doc-0042] The primary cooling pump is serviced every six weeks.\n"
        "[source: doc-0007] Pump vibration above 4 mm/s triggers an inspection."
    }
]
QUESTION = [{"role": "user", "content": [{"text": "How often is the cooling pump serviced?"}]}]


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

    def raises(self, name, fn, exc_type, text):
        try:
            fn()
        except exc_type as e:
            err = e.response.get("Error", {})
            msg = err.get("Message", "")
            self.check(name, text in msg, f"message {msg!r} lacks {text!r}")
            return
        except Exception as e:  # noqa: BLE001 - any other exception is a mismatch
            self.check(name, False, f"raised {type(e).__name__}: {e}")
            return
        self.check(name, False, "no exception")


def stream_events(client, model_id, max_tokens=None):
    """Returns (event names in order with repeats of deltas collapsed, text, deltas, events)."""
    kwargs = {"modelId": model_id, "system": SYSTEM, "messages": QUESTION}
    if max_tokens is not None:
        kwargs["inferenceConfig"] = {"maxTokens": max_tokens}
    response = client.converse_stream(**kwargs)
    order, text, deltas, events = [], "", 0, []
    for event in response["stream"]:
        events.append(event)
        (name,) = event.keys()
        if name == "contentBlockDelta":
            text += event[name]["delta"]["text"]
            deltas += 1
        if not order or order[-1] != name:
            order.append(name)
    return order, text, deltas, events


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    url = sys.argv[1]
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}),
    )
    c = Checks()

    # converse
    r = client.converse(modelId=HAIKU, system=SYSTEM, messages=QUESTION)
    msg = r["output"]["message"]
    text = msg["content"][0]["text"]
    usage = r["usage"]
    c.check("converse role", msg["role"] == "assistant", msg)
    c.check("converse stop reason", r["stopReason"] == "end_turn", r["stopReason"])
    c.check(
        "converse usage adds up",
        usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"] and usage["outputTokens"] > 0,
        usage,
    )
    c.check("converse metrics", isinstance(r["metrics"]["latencyMs"], int), r["metrics"])
    c.check(
        "converse cites the passages in order",
        "[doc-0042]" in text and "[doc-0007]" in text and text.index("[doc-0042]") < text.index("[doc-0007]"),
        text,
    )
    c.check("converse one word per output token", len(text.split(" ")) == usage["outputTokens"], text)

    # converse_stream
    order, streamed, deltas, events = stream_events(client, HAIKU)
    expected = ["messageStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"]
    c.check("stream event order", order == expected, order)
    c.check("stream role", events[0]["messageStart"]["role"] == "assistant", events[0])
    meta = events[-1].get("metadata", {})
    c.check("stream deltas == outputTokens", deltas == meta.get("usage", {}).get("outputTokens"), (deltas, meta))
    c.check("stream text == converse text", streamed == text, (streamed, text))
    c.check("stream stop reason", events[-2].get("messageStop", {}).get("stopReason") == "end_turn", events[-2])
    c.check("stream metadata latency", isinstance(meta.get("metrics", {}).get("latencyMs"), int), meta)
    c.check(
        "stream padding is not surfaced",
        all("p" not in list(e.values())[0] for e in events),
        [e for e in events if "p" in list(e.values())[0]][:1],
    )

    order, short, deltas, events = stream_events(client, HAIKU, max_tokens=3)
    c.check("maxTokens caps the deltas", deltas == 3, deltas)
    c.check("maxTokens stop reason", events[-2].get("messageStop", {}).get("stopReason") == "max_tokens", events[-2])
    c.check("capped text is a prefix", text.startswith(short), (short, text))

    order, _, deltas, _ = stream_events(client, PROFILE_ARN)
    c.check("inference-profile ARN streams", order == expected and deltas > 0, order)

    # invoke_model embeddings
    for model, body, dims in [
        (TITAN_V2, {"inputText": "cooling pump"}, 1024),
        (TITAN_V2, {"inputText": "cooling pump", "dimensions": 256, "normalize": True}, 256),
        (TITAN_V1, {"inputText": "cooling pump"}, 1536),
    ]:
        r = client.invoke_model(
            modelId=model, body=json.dumps(body), contentType="application/json", accept="application/json"
        )
        out = json.loads(r["body"].read())
        emb = out.get("embedding", [])
        norm = math.sqrt(sum(x * x for x in emb))
        name = f"invoke {model} {dims}"
        c.check(f"{name} contentType", r["contentType"] == "application/json", r["contentType"])
        c.check(f"{name} dims", len(emb) == dims, len(emb))
        c.check(f"{name} unit norm", abs(norm - 1.0) < 1e-4, norm)
        c.check(f"{name} token count", out.get("inputTextTokenCount") == 2, out.get("inputTextTokenCount"))
        if model == TITAN_V2:
            c.check(f"{name} embeddingsByType", out.get("embeddingsByType", {}).get("float") == emb)
        else:
            c.check(f"{name} has no embeddingsByType", "embeddingsByType" not in out, list(out))
    same = json.loads(
        client.invoke_model(modelId=TITAN_V2, body=json.dumps({"inputText": "cooling pump"}))["body"].read()
    )["embedding"]
    c.check("embeddings are deterministic (no contentType/accept sent)", same == emb_v2_1024(client), "differs")

    # errors
    c.raises(
        "conversation starting with assistant -> ValidationException",
        lambda: client.converse(modelId=HAIKU, messages=[{"role": "assistant", "content": [{"text": "hi"}]}]),
        client.exceptions.ValidationException,
        "must start with a user message",
    )
    c.raises(
        "bad dimensions -> ValidationException",
        lambda: client.invoke_model(modelId=TITAN_V2, body=json.dumps({"inputText": "x", "dimensions": 300})),
        client.exceptions.ValidationException,
        "Malformed input request",
    )
    c.raises(
        "unknown provider -> ResourceNotFoundException",
        lambda: client.converse(modelId="acme.model-v1:0", messages=QUESTION),
        client.exceptions.ResourceNotFoundException,
        "Could not resolve the foundation model",
    )
    c.raises(
        "converse_stream errors before streaming",
        lambda: client.converse_stream(modelId="acme.model-v1:0", messages=QUESTION),
        client.exceptions.ResourceNotFoundException,
        "Could not resolve the foundation model",
    )

    print(f"{c.passed} passed, {c.failed} failed")
    return 0 if c.failed == 0 else 1


def emb_v2_1024(client):
    body = json.dumps({"inputText": "cooling pump", "dimensions": 1024})
    return json.loads(client.invoke_model(modelId=TITAN_V2, body=body)["body"].read())["embedding"]


if __name__ == "__main__":
    sys.exit(main())
