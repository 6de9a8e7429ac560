fn main() -> std::process::ExitCode {
    gpes_coordinator::cli::main()
}
