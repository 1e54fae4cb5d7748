//! The whole RAG round trip against the real in-process mocks, with both client stacks: embed a
//! question, search the demo collection, stream an answer whose prompt carries the passages as
//! `[source: <doc_id>] <text>` lines, and check that tokens arrived and the answer cites a
//! retrieved document as `[doc_id]`.

use mock_services::{Bind, MockConfig, MockServices};
use ragperf::client::{
    AsyncClients, BlockingClients, ChatRequest, ClientConfig, Endpoints, GenerateOutcome, Passage,
};

const QUESTION: &str = "When is preventive maintenance of the pump scheduled at the plant?";
const SYSTEM: &str = "Answer using only the sources below and cite each one you use as [doc_id].";

fn mock_config() -> MockConfig {
    MockConfig {
        time_scale: 0.01,
        ..Default::default()
    }
}

fn endpoints(mocks: &MockServices, config: &MockConfig) -> Endpoints {
    let mut e = Endpoints::new(mocks.qdrant_url(), mocks.bedrock_url());
    e.collection = config.qdrant.collection.clone();
    e.embed_dimensions = u32::try_from(config.qdrant.dimensions).expect("dimensions fit u32");
    e
}

fn prompt(passages: &[Passage]) -> String {
    let mut user = String::new();
    for p in passages {
        user.push_str(&format!("[source: {}] {}\n", p.doc_id, p.text));
    }
    user.push_str("\nQuestion: ");
    user.push_str(QUESTION);
    user
}

fn chat(user: &str) -> ChatRequest<'_> {
    ChatRequest {
        system: SYSTEM,
        user,
        max_tokens: 256,
        temperature: 0.1,
    }
}

fn check(passages: &[Passage], out: &GenerateOutcome, tokens: &[String]) {
    assert_eq!(passages.len(), 3);
    assert!(
        passages
            .iter()
            .all(|p| !p.doc_id.is_empty() && !p.text.is_empty())
    );
    assert!(
        passages.windows(2).all(|w| w[0].score >= w[1].score),
        "best first"
    );
    assert!(!tokens.is_empty(), "tokens arrived");
    assert_eq!(out.output_tokens as usize, tokens.len());
    assert_eq!(tokens.concat(), out.text);
    assert!(
        passages
            .iter()
            .any(|p| out.text.contains(&format!("[{}]", p.doc_id))),
        "the answer cites a retrieved doc: {}",
        out.text
    );
    assert!(!out.stop_reason.is_empty());
}

#[test]
fn blocking_clients_round_trip_through_the_mocks() {
    let config = mock_config();
    let mocks = MockServices::start_on_own_runtime(config.clone(), Bind::default(), 2)
        .expect("mocks start");
    let clients = BlockingClients::new(
        &endpoints(&mocks, &config),
        &ClientConfig::default(),
        2,
        0.01,
    )
    .expect("clients build");
    let vector = clients.embed.embed(QUESTION).expect("embed").value;
    assert_eq!(vector.len(), config.qdrant.dimensions);
    let passages = clients.qdrant.search(&vector, 3).expect("search").value;
    let user = prompt(&passages);
    let mut tokens = Vec::new();
    let out = clients
        .bedrock
        .converse_stream(&chat(&user), |t| tokens.push(t.to_string()))
        .expect("stream")
        .value;
    check(&passages, &out, &tokens);
    // Non-streaming Converse answers the same prompt with the same citations.
    let whole = clients
        .bedrock
        .converse(&chat(&user))
        .expect("converse")
        .value;
    assert!(whole.output_tokens > 0);
    assert!(
        passages
            .iter()
            .any(|p| whole.text.contains(&format!("[{}]", p.doc_id)))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_clients_round_trip_through_the_mocks() {
    let config = mock_config();
    let mocks = MockServices::start(config.clone(), Bind::default())
        .await
        .expect("mocks start");
    let clients = AsyncClients::new(
        &endpoints(&mocks, &config),
        &ClientConfig::default(),
        2,
        0.01,
    )
    .expect("clients build");
    let vector = clients.embed.embed(QUESTION).await.expect("embed").value;
    let passages = clients
        .qdrant
        .search(&vector, 3)
        .await
        .expect("search")
        .value;
    let user = prompt(&passages);
    let mut tokens = Vec::new();
    let out = clients
        .bedrock
        .converse_stream(&chat(&user), |t| tokens.push(t.to_string()))
        .await
        .expect("stream")
        .value;
    check(&passages, &out, &tokens);
    mocks.shutdown(std::time::Duration::from_millis(200)).await;
}
