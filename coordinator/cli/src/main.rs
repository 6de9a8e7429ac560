//! gpesctl: see the library (`gpesctl::main`).

fn main() -> std::process::ExitCode {
    gpesctl::main()
}
