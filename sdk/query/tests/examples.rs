//! Every query in `examples/queries/` validates, and says which published
//! business rules it transcribes.

#[test]
fn every_example_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/queries");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("examples exist") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let name = path.display().to_string();
        let lists = |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| e.to_string());
        let spec = gpes_query::parse_with(&name, &text, &lists)
            .unwrap_or_else(|e| panic!("{name} does not validate:\n{e}"));
        assert!(!spec.source.trim().is_empty(), "{name} names no source");
        spec.content_hash().expect("hashable");
        seen += 1;
    }
    assert!(seen >= 7, "only {seen} examples");
}
