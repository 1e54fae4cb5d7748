#!/usr/bin/env python3
"""Drives mock Qdrant with the unmodified python `qdrant-client` (REST), exactly as a user would.

Usage: check_qdrant.py http://127.0.0.1:PORT

Covers: the start-up version check (no warning), collections (list, exists, create, info, delete),
payload index, upsert (int and UUID ids), query_points with a filter, query_batch_points, scroll
paging, count with a filter, retrieve, delete, the async client, the preloaded demo collection in
LlamaIndex's payload layout, and the error answers (UnexpectedResponse 404 / 400 / 409).
Prints `N passed, M failed` and exits non-zero on any failure.
"""

import asyncio
import json
import sys
import threading
import uuid
import warnings

from qdrant_client import AsyncQdrantClient, QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

DEMO = "ragperf-demo"


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

    def raises(self, name, fn, status, text):
        try:
            fn()
        except UnexpectedResponse as e:
            body = e.content.decode(errors="replace")
            self.check(name, e.status_code == status and text in body, f"{e.status_code} {body}")
            return
        except Exception as e:  # noqa: BLE001 - any other exception is a mismatch
            self.check(name, False, f"raised {type(e).__name__}: {e}")
            return
        self.check(name, False, "no exception")


def version_check(c, url):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = QdrantClient(url=url)
        names = [x.name for x in client.get_collections().collections]
        # The client checks the server version in a daemon thread: wait for it.
        for t in threading.enumerate():
            if "_check_compatibility" in t.name:
                t.join(timeout=10)
    noisy = [str(w.message) for w in caught if "version" in str(w.message)]
    c.check("no version warning on connect", not noisy, str(noisy))
    c.check("demo collection listed", DEMO in names, str(names))
    return client


def crud(c, client):
    name = f"check-{uuid.uuid4().hex[:8]}"
    c.check("collection_exists before create", client.collection_exists(name) is False)
    created = client.create_collection(
        name, vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE)
    )
    c.check("create_collection", created is True)
    c.check("collection_exists after create", client.collection_exists(name) is True)
    r = client.create_payload_index(name, "topic", models.PayloadSchemaType.KEYWORD)
    c.check("create_payload_index", r.status == models.UpdateStatus.COMPLETED, str(r))

    topics = ["a", "b", "c"]
    points = [
        models.PointStruct(id=i, vector=[1.0, i / 10, 0.0, 0.5], payload={"topic": topics[i % 3], "n": i})
        for i in range(1, 21)
    ]
    u = str(uuid.UUID("550e8400-e29b-41d4-a716-446655440000"))
    points.append(models.PointStruct(id=u, vector=[0.0, 0.0, 1.0, 0.0], payload={"topic": "u"}))
    r = client.upsert(name, points=points, wait=True)
    c.check("upsert", r.status == models.UpdateStatus.COMPLETED, str(r))

    only_a = models.Filter(must=[models.FieldCondition(key="topic", match=models.MatchValue(value="a"))])
    res = client.query_points(name, query=[1.0, 0.3, 0.0, 0.5], query_filter=only_a, limit=3, with_payload=True)
    ids = [p.id for p in res.points]
    c.check("query_points with a filter", ids[:1] == [3] and len(ids) == 3, str(res))
    c.check("filter respected", all(p.payload["topic"] == "a" for p in res.points))
    c.check("cosine score of an identical direction", abs(res.points[0].score - 1.0) < 1e-4)
    res = client.query_points(name, query=[0.0, 0.0, 1.0, 0.0], limit=1)
    c.check("uuid id round-trips", res.points[0].id == u, str(res.points[0].id))
    res = client.query_points(name, query=[1.0, 2.0, 0.0, 0.5], limit=2, score_threshold=0.9)
    c.check("score_threshold", [p.id for p in res.points][:1] == [20] and all(p.score >= 0.9 for p in res.points))

    batch = client.query_batch_points(
        name,
        requests=[
            models.QueryRequest(query=[1.0, 0.0, 0.0, 0.0], limit=2),
            models.QueryRequest(query=[1.0, 2.0, 0.0, 0.5], limit=1, with_payload=True),
        ],
    )
    c.check("query_batch_points", len(batch) == 2 and batch[1].points[0].id == 20, str(batch))

    seen, offset = [], None
    while True:
        records, offset = client.scroll(name, limit=6, offset=offset, with_payload=True)
        seen += [r.id for r in records]
        if offset is None:
            break
    c.check("scroll pages cover every point once", seen == list(range(1, 21)) + [u], str(seen))

    n = client.count(name, exact=True).count
    c.check("count", n == 21, str(n))
    rng = models.Filter(must=[models.FieldCondition(key="n", range=models.Range(gte=5, lt=10))])
    n = client.count(name, count_filter=rng, exact=True).count
    c.check("count with a range filter", n == 5, str(n))

    info = client.get_collection(name)
    c.check("get_collection points_count", info.points_count == 21, str(info.points_count))
    c.check("get_collection vectors", info.config.params.vectors.size == 4)
    c.check(
        "payload_schema records the index",
        info.payload_schema.get("topic") is not None
        and info.payload_schema["topic"].data_type == models.PayloadSchemaType.KEYWORD,
        str(info.payload_schema),
    )

    recs = client.retrieve(name, ids=[2, 5], with_vectors=True)
    c.check("retrieve", sorted(r.id for r in recs) == [2, 5] and len(recs[0].vector) == 4)
    client.delete(name, points_selector=models.PointIdsList(points=[1, 2]), wait=True)
    c.check("delete points", client.count(name).count == 19)

    c.raises(
        "wrong dimension -> 400",
        lambda: client.upsert(name, points=[models.PointStruct(id=99, vector=[1.0, 2.0])]),
        400,
        "Vector dimension error: expected dim: 4, got 2",
    )
    c.raises(
        "create an existing collection -> 409",
        lambda: client.create_collection(name, vectors_config=models.VectorParams(size=4, distance="Cosine")),
        409,
        "already exists",
    )
    c.check("delete_collection", client.delete_collection(name) is True)
    c.check("collection gone", client.collection_exists(name) is False)
    c.raises("unknown collection -> 404", lambda: client.get_collection(name), 404, "doesn't exist")


def demo(c, client):
    info = client.get_collection(DEMO)
    c.check("demo collection has points", (info.points_count or 0) > 0, str(info.points_count))
    rec = client.retrieve(DEMO, ids=[42], with_vectors=True, with_payload=True)[0]
    res = client.query_points(DEMO, query=rec.vector, limit=3, with_payload=True)
    top = res.points[0]
    c.check("demo: a passage is nearest to itself", top.id == 42 and abs(top.score - 1.0) < 1e-4, str(top))
    payload = top.payload
    node = json.loads(payload["_node_content"])
    c.check(
        "demo: LlamaIndex payload layout",
        payload["_node_type"] == "TextNode"
        and payload["ref_doc_id"] == payload["doc_id"] == payload["document_id"] == "doc-0042"
        and node["text"] and node["metadata"]["topic"] == payload["topic"],
        str(payload.keys()),
    )
    site = models.Filter(must=[models.FieldCondition(key="topic", match=models.MatchValue(value="site-status"))])
    res = client.query_points(DEMO, query=rec.vector, query_filter=site, limit=5, with_payload=True)
    c.check(
        "demo: topic filter",
        len(res.points) == 5 and all(p.payload["topic"] == "site-status" for p in res.points),
    )


async def async_client(c, url):
    client = AsyncQdrantClient(url=url)
    try:
        info = await client.get_collection(DEMO)
        rec = (await client.retrieve(DEMO, ids=[7], with_vectors=True))[0]
        res = await client.query_points(DEMO, query=rec.vector, limit=1)
        c.check("async client query_points", info.points_count and res.points[0].id == 7, str(res))
    finally:
        await client.close()


def main():
    if len(sys.argv) != 2:
        print("usage: check_qdrant.py http://127.0.0.1:PORT", file=sys.stderr)
        return 2
    url = sys.argv[1]
    c = Checks()
    try:
        client = version_check(c, url)
        crud(c, client)
        demo(c, client)
        asyncio.run(async_client(c, url))
    except Exception as e:  # noqa: BLE001 - report and count, then fail
        c.check("no unexpected exception", False, f"{type(e).__name__}: {e}")
    print(f"{c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
