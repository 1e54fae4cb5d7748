"""The seed's RAG service: FastAPI + LlamaIndex + Bedrock + Qdrant, as the seed Q&A writes it.

A worked example for `ragperf run --target`: the real Python stack, pointed at `ragperf mock`
(or at real AWS Bedrock and Qdrant), so its limits can be measured next to ragperf's model of
them (see README.md beside this file and docs/fastapi-rag.md).

Run with ONE uvicorn worker (the numbers are per worker):

    uvicorn app:app --host 127.0.0.1 --port 8080 --workers 1

Configured only by environment variables:

    QDRANT_URL    http://127.0.0.1:6333   (RAGPERF_QDRANT_URL wins: `ragperf run --target-cmd` sets it)
    BEDROCK_URL   http://127.0.0.1:8000   (boto `endpoint_url`; empty = real AWS; RAGPERF_BEDROCK_URL wins)
    AWS_REGION    us-east-1
    COLLECTION    ragperf-demo
    EMBED_MODEL   amazon.titan-embed-text-v2:0
    EMBED_DIM     256
    CHAT_MODEL    anthropic.claude-3-haiku-20240307-v1:0
    TOP_K         4
    SHARED_CLIENT_POOL  1000  (connection pool of the one shared client, /chat/stream/shared-client)

Dummy AWS credentials (`test`) are set when none are in the environment.

Endpoints (all POST `{"session_id": str, "message": str}`, except /health):

    POST /chat                        `def`, whole answer            (seed Q1, Q4: thread pool)
    POST /chat/stream/sync            `def`, StreamingResponse over a sync generator
    POST /chat/stream                 `async def`, seed Q7/Q13/Q15 as written
    POST /chat/stream/shared-client   VARIATION: `async def`, one aioboto3 client for the process
    GET  /health                      readiness

Streaming endpoints send Server-Sent Events:

    data: {"type": "token", "content": "..."}          one per text delta
    data: {"type": "done", "citations": ["doc-0042"]}  last event on success
    data: {"type": "error", "message": "..."}          last event on failure (the stream ends)
"""

import contextlib
import json
import logging
import os
from typing import AsyncIterator, Iterator, List

# --- configuration (environment only) ------------------------------------------------------------

# `ragperf run --target-cmd` starts its embedded mocks first and names them in RAGPERF_*_URL.
QDRANT_URL = os.environ.get("RAGPERF_QDRANT_URL") or os.environ.get("QDRANT_URL", "http://127.0.0.1:6333")
BEDROCK_URL = (
    os.environ.get("RAGPERF_BEDROCK_URL") or os.environ.get("BEDROCK_URL", "http://127.0.0.1:8000") or None
)
AWS_REGION = os.environ.get("AWS_REGION", "us-east-1")
COLLECTION = os.environ.get("COLLECTION", "ragperf-demo")
EMBED_MODEL = os.environ.get("EMBED_MODEL", "amazon.titan-embed-text-v2:0")
EMBED_DIM = int(os.environ.get("EMBED_DIM", "256"))
CHAT_MODEL = os.environ.get("CHAT_MODEL", "anthropic.claude-3-haiku-20240307-v1:0")
TOP_K = int(os.environ.get("TOP_K", "4"))
SHARED_CLIENT_POOL = int(os.environ.get("SHARED_CLIENT_POOL", "1000"))

# boto3/aioboto3 read these when a client is built. The mock accepts any signed request.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("AWS_DEFAULT_REGION", AWS_REGION)
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")  # never probe 169.254.169.254
if BEDROCK_URL:
    # `BedrockEmbedding` (llama-index-embeddings-bedrock 0.9) has no `endpoint_url` argument: its
    # sync client is `session.client("bedrock-runtime", config=...)` and its async path opens
    # `self._asession.client("bedrock-runtime", config=...)` on every call, neither with an
    # endpoint. Without patching LlamaIndex, botocore's service-specific endpoint variable is the
    # only way to point it at the mock; it applies to every bedrock-runtime client in the process.
    os.environ.setdefault("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", BEDROCK_URL)

import aioboto3  # noqa: E402  (imported after the environment is set)
from botocore.config import Config  # noqa: E402
from fastapi import FastAPI, HTTPException  # noqa: E402
from fastapi.responses import StreamingResponse  # noqa: E402
from llama_index.core import VectorStoreIndex  # noqa: E402
from llama_index.core.llms import ChatMessage  # noqa: E402
from llama_index.core.schema import NodeWithScore  # noqa: E402
from llama_index.core.vector_stores.types import VectorStoreQuery  # noqa: E402
from llama_index.embeddings.bedrock import BedrockEmbedding  # noqa: E402
from llama_index.llms.bedrock_converse import BedrockConverse  # noqa: E402
from llama_index.vector_stores.qdrant import QdrantVectorStore  # noqa: E402
from pydantic import BaseModel  # noqa: E402
from qdrant_client import AsyncQdrantClient, QdrantClient  # noqa: E402

log = logging.getLogger("fastapi_rag")

# --- LlamaIndex objects, built once per process, as in the seed ----------------------------------

# Seed Q9/Q10: BedrockConverse, not the deprecated Bedrock class, because it has a native
# `astream_chat` (aioboto3). Sync calls share one boto3 client; every async call opens a new
# aioboto3 client (see /chat/stream/shared-client for what that costs).
llm = BedrockConverse(model=CHAT_MODEL, region_name=AWS_REGION, endpoint_url=BEDROCK_URL)

# Titan Text Embeddings v2 at EMBED_DIM dimensions: the size of the demo collection's vectors.
embed_model = BedrockEmbedding(
    model_name=EMBED_MODEL, region_name=AWS_REGION, additional_kwargs={"dimensions": EMBED_DIM}
)

# Seed Q14: QdrantVectorStore takes a sync client (for `retrieve`) and an async one (for
# `aretrieve`).
qdrant = QdrantClient(url=QDRANT_URL)
aqdrant = AsyncQdrantClient(url=QDRANT_URL)
vector_store = QdrantVectorStore(collection_name=COLLECTION, client=qdrant, aclient=aqdrant)

# Seed Q8: VectorIndexRetriever has `retrieve` and `aretrieve` (which embeds asynchronously).
index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed_model)
retriever = index.as_retriever(similarity_top_k=TOP_K)

SYSTEM_PROMPT = (
    "You are a helpful assistant. Answer the question using only the sources below, and cite "
    "each source you use as [doc-id].\n\n"
)


def doc_id(n: NodeWithScore) -> str:
    node = n.node
    return node.ref_doc_id or node.metadata.get("doc_id") or node.node_id


def extract_citations(nodes: List[NodeWithScore]) -> List[str]:
    """The retrieved documents' ids, in rank order, each once (seed Q13's `extract_citations`)."""
    return list(dict.fromkeys(doc_id(n) for n in nodes))


def build_messages(nodes: List[NodeWithScore], message: str) -> List[ChatMessage]:
    # Seed Q13 joins the node texts; each passage is prefixed with its source here so the model
    # (and the mock) can cite it as [doc-id]. One line per passage.
    context = "\n".join(
        f"[source: {doc_id(n)}] {' '.join(n.node.get_content().split())}" for n in nodes
    )
    return [
        ChatMessage(role="system", content=SYSTEM_PROMPT + context),
        ChatMessage(role="user", content=message),
    ]


def sse(event: dict) -> str:
    return f"data: {json.dumps(event)}\n\n"


def error_event(e: BaseException) -> str:
    log.exception("stream failed")
    return sse({"type": "error", "message": f"{type(e).__name__}: {e}"})


class ChatRequest(BaseModel):
    session_id: str
    message: str


# --- the one shared aioboto3 client (VARIATION only) ---------------------------------------------


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    async with contextlib.AsyncExitStack() as stack:
        # Same retry and timeout settings LlamaIndex's Bedrock classes use, plus a connection
        # pool big enough for every concurrent stream (botocore's default is 10).
        config = Config(
            retries={"max_attempts": 10, "mode": "standard"},
            connect_timeout=60,
            read_timeout=60,
            max_pool_connections=SHARED_CLIENT_POOL,
        )
        session = aioboto3.Session(region_name=AWS_REGION)
        app.state.bedrock = await stack.enter_async_context(
            session.client("bedrock-runtime", endpoint_url=BEDROCK_URL, config=config)
        )
        yield
    await aqdrant.close()
    qdrant.close()


app = FastAPI(title="seed RAG service (ragperf example)", lifespan=lifespan)


@app.get("/health")
async def health():
    return {"ok": True}


# --- POST /chat: `def`, whole answer --------------------------------------------------------------
# Seed Q1/Q4: sync retrieval + sync generation. FastAPI runs a `def` endpoint on Starlette's thread
# pool (anyio, 40 threads), and the thread is held for the whole request: 40 requests at a time.


@app.post("/chat")
def chat(req: ChatRequest):
    try:
        nodes = retriever.retrieve(req.message)
        response = llm.chat(build_messages(nodes, req.message))
    except Exception as e:
        log.exception("chat failed")
        raise HTTPException(status_code=502, detail=f"{type(e).__name__}: {e}")
    return {"answer": response.message.content, "citations": extract_citations(nodes)}


# --- POST /chat/stream/sync: `def` + StreamingResponse over a sync generator ----------------------
# What a `def` user writes to stream. Starlette iterates a sync generator with one
# `anyio.to_thread.run_sync` per `next()`, so a thread is borrowed per token, not per request.


@app.post("/chat/stream/sync")
def chat_stream_sync(req: ChatRequest):
    def generate() -> Iterator[str]:
        try:
            nodes = retriever.retrieve(req.message)
            for chunk in llm.stream_chat(build_messages(nodes, req.message)):
                if chunk.delta:
                    yield sse({"type": "token", "content": chunk.delta})
            yield sse({"type": "done", "citations": extract_citations(nodes)})
        except Exception as e:
            yield error_event(e)

    return StreamingResponse(generate(), media_type="text/event-stream")


# --- POST /chat/stream: `async def`, seed Q13 + Q15 as written -----------------------------------
# Seed Q7 recommends async retrieval + async generation. Q13 writes `async for chunk in
# llm.astream_chat(messages)`, which fails (Q26: `astream_chat` is a coroutine returning an async
# generator), so the awaited form from Q11/Q26 is used.


async def async_chat_stream(session_id: str, message: str) -> AsyncIterator[dict]:
    # 1. Async retrieval (async Titan embedding, then AsyncQdrantClient)
    nodes = await retriever.aretrieve(message)
    # 2. Build prompt with retrieved context
    messages = build_messages(nodes, message)
    # 3. Stream generation
    stream = await llm.astream_chat(messages)
    async for chunk in stream:
        if chunk.delta:
            yield {"type": "token", "content": chunk.delta}
    # 4. Return citations at end
    yield {"type": "done", "citations": extract_citations(nodes)}


@app.post("/chat/stream")
async def chat_stream(req: ChatRequest):
    async def generate() -> AsyncIterator[str]:
        try:
            async for chunk in async_chat_stream(req.session_id, req.message):
                yield sse(chunk)  # SSE format
        except Exception as e:
            yield error_event(e)

    return StreamingResponse(generate(), media_type="text/event-stream")


# --- POST /chat/stream/shared-client: VARIATION, not what the seed writes -------------------------
# The same pipeline with one aioboto3 bedrock-runtime client opened at startup and reused for the
# embedding (invoke_model, Titan) and the generation (converse_stream), and the same
# AsyncQdrantClient through the LlamaIndex store. LlamaIndex's BedrockEmbedding and
# BedrockConverse open a new aioboto3 client (session, endpoint resolution, SSL context, aiohttp
# connector, fresh TCP connection) on every async call; comparing this endpoint with /chat/stream
# shows what that costs in CPU per request. (BedrockConverse accepts `async_client=` to avoid it;
# BedrockEmbedding has no such argument.)


async def shared_client_stream(message: str) -> AsyncIterator[dict]:
    bedrock = app.state.bedrock
    # 1. Embed the question: the request body BedrockEmbedding sends.
    r = await bedrock.invoke_model(
        modelId=EMBED_MODEL,
        body=json.dumps({"inputText": message, "dimensions": EMBED_DIM}),
        accept="application/json",
        contentType="application/json",
    )
    embedding = json.loads(await r["body"].read())["embedding"]
    # 2. Search Qdrant (AsyncQdrantClient via the LlamaIndex store: the same nodes as aretrieve).
    result = await vector_store.aquery(
        VectorStoreQuery(query_embedding=embedding, similarity_top_k=TOP_K)
    )
    nodes = [
        NodeWithScore(node=n, score=s) for n, s in zip(result.nodes, result.similarities or [])
    ]
    # 3. Stream the answer with the same prompt and inference settings as BedrockConverse.
    system = build_messages(nodes, message)[0].content
    response = await bedrock.converse_stream(
        modelId=CHAT_MODEL,
        system=[{"text": system}],
        messages=[{"role": "user", "content": [{"text": message}]}],
        inferenceConfig={"maxTokens": llm.max_tokens, "temperature": llm.temperature},
    )
    async for event in response["stream"]:
        text = event.get("contentBlockDelta", {}).get("delta", {}).get("text")
        if text:
            yield {"type": "token", "content": text}
    yield {"type": "done", "citations": extract_citations(nodes)}


@app.post("/chat/stream/shared-client")
async def chat_stream_shared_client(req: ChatRequest):
    async def generate() -> AsyncIterator[str]:
        try:
            async for chunk in shared_client_stream(req.message):
                yield sse(chunk)
        except Exception as e:
            yield error_event(e)

    return StreamingResponse(generate(), media_type="text/event-stream")
