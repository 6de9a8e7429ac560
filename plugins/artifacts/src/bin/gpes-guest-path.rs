//! Prints the path of a freshly built guest plugin, for scripts (the demo):
//! `gpes-guest-path csv-export`.

fn main() -> std::process::ExitCode {
    let name = std::env::args().nth(1).unwrap_or_default();
    let path = match name.as_str() {
        "csv-export" => gpes_plugin_artifacts::CSV_EXPORT,
        "fhir-ndjson" => gpes_plugin_artifacts::FHIR_NDJSON,
        _ => {
            eprintln!("gpes-guest-path: give a plugin name: csv-export or fhir-ndjson");
            return std::process::ExitCode::from(2);
        }
    };
    println!("{path}");
    std::process::ExitCode::SUCCESS
}
