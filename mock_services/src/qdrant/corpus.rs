//! The demo corpus preloaded into mock Qdrant: deterministic synthetic passages about eight
//! business topics (plant maintenance, site safety status, quarterly finance, HR policy, IT
//! incidents, customer support, logistics, compliance), embedded with
//! [`crate::embedding::embed`] so a question sharing words with a passage retrieves it.
//!
//! Passage `id` (1-based) belongs to document `doc-{id:04}`, has topic `(id - 1) % 8` and is drawn
//! from a generator seeded by its id alone, so the corpus is the same for every run, seed and
//! corpus size (passage 42 reads the same whether 100 or 100,000 are loaded). Payloads follow
//! LlamaIndex's layout (docs/wire-facts.md §B3) so `QdrantVectorStore` turns hits back into `TextNode`s.

use serde_json::{Map, Value, json};

use super::ids::PointId;
use super::model::{PointInput, VectorInput, VectorValue};
use crate::embedding::{embed, fnv1a};

/// One topic: payload key, human name, where its passages "come from", title template and
/// sentence templates (`{slot}` placeholders, see [`Slots`]).
struct Topic {
    key: &'static str,
    source: &'static str,
    title: &'static str,
    sentences: [&'static str; 6],
}

const TOPICS: [Topic; 8] = [
    Topic {
        key: "maintenance",
        source: "maintenance-log",
        title: "Maintenance log: {equip} at the {site} plant",
        sentences: [
            "The {equip} at the {site} plant was serviced in week {week}, and vibration readings are back within limits.",
            "Technicians replaced the worn bearings on {equip} unit {unit} after {hours} operating hours.",
            "Preventive maintenance for the {equip} is scheduled every {n} weeks; the next window is week {week2}.",
            "Spare parts for the {equip} are stocked at {site}, with {n} seal kits on hand.",
            "Unplanned downtime on the {site} line totalled {hours} hours this month because of a {equip} fault.",
            "Lubrication of the {equip} drive train was completed and logged by the {team} crew.",
        ],
    },
    Topic {
        key: "site-status",
        source: "site-status-report",
        title: "Site status: {site} plant, week {week}",
        sentences: [
            "Site status for {site} in week {week}: all safety systems are green and the site is fully operational.",
            "The {site} site reported {n} near-miss incidents and zero lost-time injuries this week.",
            "Fire alarm and sprinkler tests at {site} passed; the evacuation drill took {mins} minutes.",
            "Access to zone {unit} at the {site} site is restricted while scaffolding is inspected.",
            "The safety officer at {site} confirmed that protective equipment compliance is at {pct} percent.",
            "Gas detectors in the {site} boiler house were recalibrated and the site status remains normal.",
        ],
    },
    Topic {
        key: "finance",
        source: "finance-report",
        title: "Quarterly finance: {quarter} {year} results for the {region} region",
        sentences: [
            "Revenue in the {region} region grew {pct} percent in {quarter} {year}, driven by service contracts.",
            "Operating margin for {quarter} {year} was {pct2} percent after higher energy costs.",
            "The {region} region's capital expenditure reached {money} million, mostly for plant upgrades.",
            "Accounts receivable older than 90 days fell to {money2} million at the end of {quarter}.",
            "The board approved the {quarter} {year} budget revision for the {region} region.",
            "Cash flow from operations in {quarter} covered {pct} percent of planned investments.",
        ],
    },
    Topic {
        key: "hr-policy",
        source: "hr-handbook",
        title: "HR policy: {policy}",
        sentences: [
            "Under the {policy} policy, employees must submit requests at least {n} days in advance.",
            "The {policy} policy applies to all permanent staff after a probation period of {months} months.",
            "Managers approve {policy} requests in the HR portal within {n} working days.",
            "Changes to the {policy} policy take effect on the first of {month}.",
            "Questions about {policy} should be sent to the HR service desk, reference HR-{code}.",
            "The {policy} policy was reviewed with the works council in {month} {year}.",
        ],
    },
    Topic {
        key: "it-incident",
        source: "it-incident",
        title: "IT incident INC-{code}: {system} outage",
        sentences: [
            "Incident INC-{code} affected the {system} service for {mins} minutes on {weekday}.",
            "Root cause of the {system} outage was an expired certificate on the {site} gateway.",
            "The {team} team restored the {system} service and added monitoring for disk usage.",
            "Users at {site} could not reach the {system} service until the failover completed.",
            "A post-incident review for INC-{code} is scheduled with the {system} owners.",
            "The {system} service level for {month} was {pct} percent availability.",
        ],
    },
    Topic {
        key: "support",
        source: "support-kb",
        title: "Customer support: {product} {issue}",
        sentences: [
            "Customers reporting {issue} with the {product} should restart the device and check the status page.",
            "Support tickets about {issue} rose to {n} this week, mostly from {region} customers.",
            "The {product} knowledge base article on {issue} was updated with new screenshots.",
            "Escalate {issue} cases to second-level support when they remain open for more than {n} hours.",
            "Average first response time for {product} tickets was {mins} minutes.",
            "A fix for {issue} in the {product} ships in release {version}.",
        ],
    },
    Topic {
        key: "logistics",
        source: "logistics-update",
        title: "Logistics update: shipments from {site} to {city}",
        sentences: [
            "Shipments from {site} to {city} are running {n} days behind schedule because of port congestion.",
            "The {city} warehouse received {n} pallets of spare parts in week {week}.",
            "Carrier capacity on the {site} to {city} route was increased by {pct} percent.",
            "Customs clearance for {city} deliveries now requires the updated export declaration.",
            "Forklift availability at the {site} dock limits loading to {n} trucks per shift.",
            "Delivery accuracy for the {city} route reached {pct} percent in {month}.",
        ],
    },
    Topic {
        key: "compliance",
        source: "compliance-note",
        title: "Compliance: {regulation} audit at {site}",
        sentences: [
            "The {regulation} audit at {site} found {n} minor non-conformities and no major findings.",
            "Corrective actions for the {regulation} findings are due by the end of {month}.",
            "Records required by {regulation} must be retained for {years} years at {site}.",
            "The {regulation} training was completed by {pct} percent of staff at {site}.",
            "External auditors will revisit {site} in {month} to verify the {regulation} corrective actions.",
            "The {regulation} register for {site} was updated after the latest process change.",
        ],
    },
];

const SITES: [&str; 8] = [
    "Riverside",
    "Northgate",
    "Harbor Point",
    "Eastfield",
    "Ridgeway",
    "Lakeshore",
    "Summit",
    "Westbrook",
];
const EQUIPMENT: [&str; 8] = [
    "cooling pump",
    "conveyor belt",
    "boiler",
    "air compressor",
    "steam turbine",
    "packaging robot",
    "hydraulic press",
    "chiller",
];
const TEAMS: [&str; 6] = [
    "night shift",
    "day shift",
    "platform",
    "network",
    "facilities",
    "field service",
];
const REGIONS: [&str; 6] = ["Nordic", "Iberian", "Benelux", "Alpine", "Baltic", "Danube"];
const QUARTERS: [&str; 4] = ["Q1", "Q2", "Q3", "Q4"];
const POLICIES: [&str; 8] = [
    "remote work",
    "parental leave",
    "overtime compensation",
    "travel expenses",
    "annual leave",
    "training budget",
    "performance review",
    "on-call duty",
];
const SYSTEMS: [&str; 8] = [
    "email",
    "VPN",
    "ERP",
    "payroll",
    "badge access",
    "wifi",
    "file server",
    "ticketing",
];
const PRODUCTS: [&str; 6] = [
    "smart meter",
    "billing app",
    "customer portal",
    "sensor kit",
    "mobile app",
    "invoice service",
];
const ISSUES: [&str; 6] = [
    "login problems",
    "delayed invoices",
    "firmware updates",
    "connection errors",
    "refund requests",
    "data export",
];
const CITIES: [&str; 8] = [
    "Rotterdam",
    "Hamburg",
    "Lyon",
    "Milan",
    "Gdansk",
    "Porto",
    "Vienna",
    "Oslo",
];
const REGULATIONS: [&str; 8] = [
    "ISO 14001",
    "ISO 45001",
    "GDPR",
    "SOX",
    "emissions permit",
    "waste handling",
    "export control",
    "data retention",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 5] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];

/// SplitMix64: a tiny generator whose output is fixed forever (unlike `StdRng`'s algorithm, which
/// may change between `rand` releases), so the corpus never drifts.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// One synthetic passage.
#[derive(Clone, Debug, PartialEq)]
pub struct Passage {
    /// Point id (1-based).
    pub id: u64,
    /// Document id, `doc-0042`.
    pub doc_id: String,
    /// Title (also the first line of the text).
    pub title: String,
    /// Topic key, e.g. `site-status`.
    pub topic: &'static str,
    /// Where the passage notionally comes from, e.g. `site-status-report/doc-0042.md`.
    pub source: String,
    /// The passage text: the title, then three sentences.
    pub text: String,
}

/// The topic keys, in the order passages cycle through them.
pub fn topics() -> Vec<&'static str> {
    TOPICS.iter().map(|t| t.key).collect()
}

/// Passage `id` (1-based; any positive id works, whatever the corpus size).
pub fn passage(id: u64) -> Passage {
    let topic = &TOPICS[((id.max(1) - 1) % TOPICS.len() as u64) as usize];
    let mut rng = SplitMix(fnv1a(&id.to_le_bytes()) ^ 0x7261_6770_6572_6621);
    let week = 1 + rng.below(52);
    let slots: Vec<(&str, String)> = vec![
        ("{site}", rng.pick(&SITES).to_string()),
        ("{equip}", rng.pick(&EQUIPMENT).to_string()),
        ("{team}", rng.pick(&TEAMS).to_string()),
        ("{region}", rng.pick(&REGIONS).to_string()),
        ("{quarter}", rng.pick(&QUARTERS).to_string()),
        ("{policy}", rng.pick(&POLICIES).to_string()),
        ("{system}", rng.pick(&SYSTEMS).to_string()),
        ("{product}", rng.pick(&PRODUCTS).to_string()),
        ("{issue}", rng.pick(&ISSUES).to_string()),
        ("{city}", rng.pick(&CITIES).to_string()),
        ("{regulation}", rng.pick(&REGULATIONS).to_string()),
        ("{month}", rng.pick(&MONTHS).to_string()),
        ("{weekday}", rng.pick(&WEEKDAYS).to_string()),
        ("{week2}", (1 + (week + 1 + rng.below(8)) % 52).to_string()),
        ("{week}", week.to_string()),
        ("{unit}", (1 + rng.below(12)).to_string()),
        ("{hours}", (10 + rng.below(4000)).to_string()),
        ("{mins}", (5 + rng.below(175)).to_string()),
        ("{months}", (3 + rng.below(4)).to_string()),
        ("{years}", (5 + rng.below(6)).to_string()),
        ("{year}", (2022 + rng.below(4)).to_string()),
        ("{pct2}", (5 + rng.below(25)).to_string()),
        ("{pct}", (50 + rng.below(50)).to_string()),
        (
            "{money2}",
            format!("{}.{}", 1 + rng.below(20), rng.below(10)),
        ),
        (
            "{money}",
            format!("{}.{}", 2 + rng.below(80), rng.below(10)),
        ),
        (
            "{code}",
            format!("{:04}", 1000 + (id * 37 + rng.below(37)) % 9000),
        ),
        (
            "{version}",
            format!("{}.{}.{}", 1 + rng.below(5), rng.below(20), rng.below(10)),
        ),
        ("{n}", (2 + rng.below(40)).to_string()),
    ];
    let fill = |template: &str| {
        let mut s = template.to_string();
        for (k, v) in &slots {
            if s.contains(k) {
                s = s.replace(k, v);
            }
        }
        s
    };
    // Three distinct sentences, in template order so each passage reads naturally.
    let mut order: Vec<usize> = (0..topic.sentences.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut chosen = order[..3].to_vec();
    chosen.sort_unstable();
    let title = fill(topic.title);
    let body: Vec<String> = chosen.iter().map(|&i| fill(topic.sentences[i])).collect();
    let doc_id = format!("doc-{id:04}");
    Passage {
        id,
        source: format!("{}/{doc_id}.md", topic.source),
        doc_id,
        text: format!("{title}.\n{}", body.join(" ")),
        title,
        topic: topic.key,
    }
}

/// The text of passage `id` (what a test expects a retrieval to return).
pub fn passage_text(id: u64) -> String {
    passage(id).text
}

impl Passage {
    /// The payload LlamaIndex's `node_to_metadata_dict` would write for this passage as a
    /// `TextNode` (flat metadata, `_node_content`, `_node_type`, the three doc-id keys).
    pub fn payload(&self) -> Map<String, Value> {
        let metadata = json!({
            "title": self.title,
            "topic": self.topic,
            "source": self.source,
        });
        let node = json!({
            "id_": self.id.to_string(),
            "embedding": null,
            "metadata": metadata,
            "excluded_embed_metadata_keys": [],
            "excluded_llm_metadata_keys": [],
            "relationships": {
                "1": {
                    "node_id": self.doc_id,
                    "node_type": "4",
                    "metadata": {},
                    "hash": null,
                    "class_name": "RelatedNodeInfo"
                }
            },
            "metadata_template": "{key}: {value}",
            "metadata_separator": "\n",
            "text": self.text,
            "mimetype": "text/plain",
            "start_char_idx": null,
            "end_char_idx": null,
            "text_template": "{metadata_str}\n\n{content}",
            "class_name": "TextNode"
        });
        let mut payload = metadata.as_object().cloned().unwrap_or_default();
        payload.insert("_node_content".into(), Value::String(node.to_string()));
        payload.insert("_node_type".into(), "TextNode".into());
        for key in ["document_id", "doc_id", "ref_doc_id"] {
            payload.insert(key.into(), Value::String(self.doc_id.clone()));
        }
        payload
    }

    /// The point to upsert: id, embedding of the text, payload.
    pub fn point(&self, dimensions: usize) -> PointInput {
        PointInput {
            id: PointId::Num(self.id),
            vector: VectorInput::Single(VectorValue::Dense(embed(&self.text, dimensions, true))),
            payload: Some(self.payload()),
        }
    }
}

/// Points `1..=size` of the demo corpus, embedded into `dimensions`.
pub fn demo_points(size: usize, dimensions: usize) -> Vec<PointInput> {
    (1..=size as u64)
        .map(|id| passage(id).point(dimensions))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedding::cosine;

    #[test]
    fn passages_are_deterministic_and_cycle_through_topics() {
        assert_eq!(passage(42), passage(42));
        assert_ne!(passage(42).text, passage(43).text);
        let keys: Vec<_> = (1..=8).map(|i| passage(i).topic).collect();
        assert_eq!(keys, topics());
        assert_eq!(passage(9).topic, "maintenance");
        let p = passage(42);
        assert_eq!(p.doc_id, "doc-0042");
        assert!(p.text.starts_with(&p.title));
        assert!(!p.text.contains('{'), "unfilled slot in {}", p.text);
        // Every template slot of every topic gets filled.
        for id in 1..=400 {
            let t = passage_text(id);
            assert!(!t.contains('{') && !t.contains('}'), "{id}: {t}");
        }
    }

    #[test]
    fn site_status_passages_talk_about_site_status() {
        let p = passage(2);
        assert_eq!(p.topic, "site-status");
        assert!(p.title.starts_with("Site status: "));
    }

    #[test]
    fn payload_has_llamaindex_layout() {
        let p = passage(7).payload();
        for k in [
            "_node_content",
            "_node_type",
            "document_id",
            "doc_id",
            "ref_doc_id",
            "title",
            "topic",
            "source",
        ] {
            assert!(p.contains_key(k), "{k}");
        }
        let node: Value = serde_json::from_str(p["_node_content"].as_str().unwrap()).unwrap();
        assert_eq!(node["text"], passage_text(7));
        assert_eq!(node["id_"], "7");
        assert_eq!(node["embedding"], Value::Null);
        assert_eq!(node["relationships"]["1"]["node_id"], "doc-0007");
        assert_eq!(node["metadata"]["topic"], p["topic"]);
        assert_eq!(p["ref_doc_id"], "doc-0007");
    }

    #[test]
    fn a_passage_is_nearest_to_its_own_words() {
        let dims = 256;
        let points: Vec<Vec<f32>> = (1..=300)
            .map(|i| embed(&passage_text(i), dims, true))
            .collect();
        for id in [1u64, 42, 150, 299] {
            let q = embed(&passage(id).text, dims, true);
            let best = (0..points.len())
                .max_by(|&a, &b| cosine(&q, &points[a]).total_cmp(&cosine(&q, &points[b])))
                .unwrap();
            assert_eq!(best as u64 + 1, id);
        }
        assert_eq!(demo_points(5, 512).len(), 5);
    }
}
