#!/usr/bin/env python3
"""Drives mock Qdrant through LlamaIndex's unmodified `QdrantVectorStore` (sync and async).

Usage: check_llamaindex_qdrant.py http://127.0.0.1:PORT

No embedding model is involved: query embeddings are the stored vectors of demo passages (read
with qdrant-client), so the expected top node is known. Covers: store construction (vector format
detection), `query` with and without metadata filters, `aquery` with an async-only store, and
`add` on a new collection (create, payload index, `upload_points` with the `""` vector name), then
querying back what was added. Prints `N passed, M failed`; exits non-zero on any failure. When
`llama-index-vector-stores-qdrant` is not installed it says so and reports the check as skipped.
"""

import asyncio
import sys
import uuid

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


def run(c, url):
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.core.vector_stores.types import (
        MetadataFilter,
        MetadataFilters,
        VectorStoreQuery,
    )
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import AsyncQdrantClient, QdrantClient

    client = QdrantClient(url=url)
    store = QdrantVectorStore(client=client, collection_name=DEMO)
    vec = client.retrieve(DEMO, ids=[42], with_vectors=True)[0].vector

    result = store.query(VectorStoreQuery(query_embedding=vec, similarity_top_k=3))
    top = result.nodes[0]
    c.check("query returns 3 nodes", len(result.nodes) == 3, str(result.ids))
    c.check("top node is the passage itself", result.ids[0] == "42", str(result.ids))
    c.check("similarity of the top node", abs(result.similarities[0] - 1.0) < 1e-4, str(result.similarities))
    c.check("node text restored from _node_content", isinstance(top, TextNode) and top.text.startswith(top.metadata["title"]), repr(top.text[:80]))
    c.check("ref_doc_id restored", top.ref_doc_id == "doc-0042", str(top.ref_doc_id))

    site = MetadataFilters(filters=[MetadataFilter(key="topic", value="site-status")])
    result = store.query(VectorStoreQuery(query_embedding=vec, similarity_top_k=4, filters=site))
    c.check(
        "metadata filter",
        len(result.nodes) == 4 and all(n.metadata["topic"] == "site-status" for n in result.nodes),
        str([n.metadata.get("topic") for n in result.nodes]),
    )

    async def async_query():
        aclient = AsyncQdrantClient(url=url)
        try:
            astore = QdrantVectorStore(aclient=aclient, collection_name=DEMO)
            return await astore.aquery(VectorStoreQuery(query_embedding=vec, similarity_top_k=2))
        finally:
            await aclient.close()

    result = asyncio.run(async_query())
    c.check("aquery with an async-only store", result.ids[:1] == ["42"], str(result.ids))

    name = f"li-check-{uuid.uuid4().hex[:8]}"
    new_store = QdrantVectorStore(client=client, collection_name=name)
    nodes = []
    for i, (text, emb) in enumerate(
        [("alpha pump report", [1.0, 0.0, 0.0]), ("beta audit note", [0.0, 1.0, 0.0]), ("gamma shipment", [0.0, 0.0, 1.0])]
    ):
        n = TextNode(id_=str(uuid.UUID(int=i + 1)), text=text, embedding=emb, metadata={"kind": f"k{i}"})
        n.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=f"doc-{i}")
        nodes.append(n)
    added = new_store.add(nodes)
    c.check("add returns the node ids", added == [n.node_id for n in nodes], str(added))
    info = client.get_collection(name)
    c.check("add created an unnamed collection", info.config.params.vectors.size == 3 and info.points_count == 3, str(info.config.params.vectors))
    c.check("add indexed doc_id", "doc_id" in info.payload_schema, str(info.payload_schema))
    result = new_store.query(VectorStoreQuery(query_embedding=[0.0, 0.9, 0.1], similarity_top_k=1))
    c.check("query what was added", result.nodes[0].text == "beta audit note" and result.nodes[0].ref_doc_id == "doc-1", str(result.ids))
    new_store.delete("doc-1")
    c.check("delete by ref_doc_id", client.count(name).count == 2)
    client.delete_collection(name)


def main():
    if len(sys.argv) != 2:
        print("usage: check_llamaindex_qdrant.py http://127.0.0.1:PORT", file=sys.stderr)
        return 2
    try:
        import llama_index.vector_stores.qdrant  # noqa: F401
    except ImportError:
        print("skipped: llama-index-vector-stores-qdrant is not installed (pip install llama-index-vector-stores-qdrant)")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    c = Checks()
    try:
        run(c, sys.argv[1])
    except Exception as e:  # noqa: BLE001 - report and count, then fail
        c.check("no unexpected exception", False, f"{type(e).__name__}: {e}")
    print(f"{c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
