fn main() -> std::process::ExitCode {
    gpes_agent::cli::main()
}
