#![forbid(unsafe_code)]

/// The lab API allocates per request; mimalloc keeps the tail latency down under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    autolabs::run()
}
