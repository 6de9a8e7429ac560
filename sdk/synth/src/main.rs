fn main() -> std::process::ExitCode {
    gpes_synth::cli::main()
}
