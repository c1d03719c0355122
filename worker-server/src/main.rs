use std::process::ExitCode;

fn main() -> ExitCode {
    worker_server::server::main()
}
