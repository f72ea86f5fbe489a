//! `onepark`: the one binary of the project. Thin glue over the library
//! crates: parse arguments, call a library function, map the outcome to an
//! exit code (0 done, 1 failed, 2 bad usage).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod bench_cloudmq;
mod bench_concurrency;
mod bench_dashboard;
mod bench_downlink;
mod bench_lot;
mod bench_payments;
mod city;
mod cloudpark;
mod demo;
mod keyarg;
mod keys;
mod lot;
mod pay_sandbox;
mod platform;
mod qdpark;
mod sim;
mod sim_direct;
mod sim_drive;

#[derive(Parser)]
#[command(name = "onepark", version, about = "City-wide parking platform, lot gateway and integrator tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A live city in one command: platform, lot gateways and traffic, resumed on the next run.
    Demo(demo::Options),
    /// The parking cloud's open API (cloudparkapi): sign, verify and call it by hand.
    Cloudpark {
        #[command(subcommand)]
        command: cloudpark::Command,
    },
    /// Load generators and measurements (see BENCHMARKS.md).
    Bench {
        #[command(subcommand)]
        command: bench::Command,
    },
    /// RSA key pairs for lots and platforms.
    Keys {
        #[command(subcommand)]
        command: keys::Command,
    },
    /// The parking-lot gateway.
    Lot {
        #[command(subcommand)]
        command: lot::Command,
    },
    /// A TEST payment channel (play money) as its own HTTP service, for tests and demos (docs/payments.md).
    PaySandbox(pay_sandbox::Options),
    /// The city platform service.
    Platform {
        #[command(subcommand)]
        command: platform::Command,
    },
    /// The traffic simulator: a Qingdao-like city's lots and traffic.
    Sim {
        #[command(subcommand)]
        command: sim::Command,
    },
    /// Qingdao city-platform protocol tools: seal, open, demo.
    Qdpark {
        #[command(subcommand)]
        command: qdpark::Command,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Bench { command } => bench::run(command),
        Command::Cloudpark { command } => cloudpark::run(command),
        Command::Demo(options) => demo::run(options),
        Command::Keys { command } => keys::run(command),
        Command::Lot { command } => lot::run(command),
        Command::PaySandbox(options) => pay_sandbox::run(options),
        Command::Platform { command } => platform::run(command),
        Command::Qdpark { command } => qdpark::run(command),
        Command::Sim { command } => sim::run(command),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", said_once(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, each said once. Many errors (ours, sqlx's) put
/// their cause's text in their own message *and* return it as their source,
/// so `{:#}` printed "database: error returned from database: role … does not
/// exist" three or four times over; a cause whose text was already said is
/// left out.
fn said_once(e: &anyhow::Error) -> String {
    let mut said = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if said.contains(&text) {
            continue;
        }
        if !said.is_empty() {
            said.push_str(": ");
        }
        said.push_str(&text);
    }
    said
}

#[cfg(test)]
mod tests {
    use super::said_once;

    #[test]
    fn each_cause_is_said_once() {
        // As a StoreError around sqlx's error around PostgreSQL's: each says its cause too.
        let e = anyhow::Error::new(std::io::Error::other("role \"nobody\" does not exist"))
            .context("error returned from database: role \"nobody\" does not exist")
            .context("database: error returned from database: role \"nobody\" does not exist")
            .context("cannot open the database postgres://nobody:***@db/test");
        assert_eq!(
            said_once(&e),
            "cannot open the database postgres://nobody:***@db/test: \
             database: error returned from database: role \"nobody\" does not exist"
        );
        // A cause its wrapper did not repeat is kept.
        let e = anyhow::Error::new(std::io::Error::other("No space left on device")).context("photo file");
        assert_eq!(said_once(&e), "photo file: No space left on device");
    }
}
