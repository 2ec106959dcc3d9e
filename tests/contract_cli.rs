//! `ny-power contract`, run as the real binary: the document the web dashboard's tests read
//! lists every topic of the contract, and every example decodes with the stream's decoders.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

use ny_power::stream::contract_doc::{every_kind, topic_of, ContractDoc};
use ny_power::stream::{decode, CursorPayload, Topics};

fn ny_power(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ny-power"))
        .args(args)
        .env_remove("TOPIC_ROOT")
        .output()
        .unwrap()
}

fn document(args: &[&str]) -> ContractDoc {
    let out = ny_power(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_json_document_lists_every_topic_with_an_example_that_decodes() {
    for root in [None, Some("test-42/ny")] {
        let mut args = vec!["contract", "--json"];
        args.extend(root.iter().flat_map(|r| ["--topic-root", r]));
        let doc = document(&args);
        let topics = Topics::new(root.unwrap_or("ny-power"));
        assert_eq!(doc.root, topics.root());
        assert_eq!(doc.default_root, "ny-power");
        // The newest reading of the bundled days is the clock the examples are checked at.
        let cursor = doc.topics.iter().find(|t| t.kind == "cursor").unwrap();
        let now = decode::<CursorPayload>(&cursor.topic, cursor.payload.as_bytes())
            .unwrap()
            .ts;
        doc.check(now).unwrap();
        let services = ["pump", "co2", "archive"];
        let listed: Vec<&str> = doc.topics.iter().map(|t| t.topic.as_str()).collect();
        let expected: Vec<String> = every_kind(&services)
            .iter()
            .map(|k| topic_of(&topics, k))
            .collect();
        assert_eq!(listed, expected);
        for t in &doc.topics {
            assert_eq!(t.qos, 1, "{}", t.topic);
            assert_eq!(t.retained, t.kind != "co2_archive", "{}", t.topic);
        }
    }
}

#[test]
fn the_table_names_each_topic_and_a_bad_root_is_refused() {
    let out = ny_power(&["contract"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("schema v1, root `ny-power`\n"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("ny-power/archive/co2/points") && l.contains("not retained")),
        "{text}"
    );

    let out = ny_power(&["contract", "--json", "--topic-root", "a/#"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TOPIC_ROOT"));
}
