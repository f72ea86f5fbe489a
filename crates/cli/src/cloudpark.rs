//! `onepark cloudpark`: the parking cloud's open API by hand. `sign` makes
//! a signed request from bizContent, `verify` explains why a request's sign
//! or timestamp is refused (the exact string that should have been signed),
//! `call` sends one and prints the answer. Integrators debug with this.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use onepark_cloudpark::{Answer, Code, Request, build_request, sign};

#[derive(Subcommand)]
pub enum Command {
    /// Sign bizContent (JSON from stdin, sent exactly as given) and print the request body.
    Sign {
        #[arg(long)]
        pid: String,
        /// The pid's secret key.
        #[arg(long, env = "ONEPARK_CLOUDPARK_SECRET")]
        secret: String,
        /// The serviceName (queryAgentParkin, addfixcar, …).
        #[arg(long)]
        service: String,
        /// Unix seconds; default: now.
        #[arg(long)]
        timestamp: Option<i64>,
    },
    /// Check a request body (stdin) against a secret: the string it should
    /// have signed, the sign that gives, and whether the timestamp is fresh.
    Verify {
        #[arg(long, env = "ONEPARK_CLOUDPARK_SECRET")]
        secret: String,
    },
    /// Sign bizContent from stdin, POST it to URL/cloudparkapi/api/SERVICE and print the answer.
    Call {
        /// The platform, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: String,
        #[arg(long)]
        pid: String,
        #[arg(long, env = "ONEPARK_CLOUDPARK_SECRET")]
        secret: String,
        #[arg(long)]
        service: String,
    },
}

fn stdin_text() -> Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("reading stdin")?;
    Ok(text.trim().to_owned())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The body to send, refusing bizContent that is not a JSON object.
fn signed(pid: &str, secret: &str, service: &str, timestamp: i64, biz: &str) -> Result<String> {
    match serde_json::from_str::<serde_json::Value>(biz) {
        Ok(serde_json::Value::Object(_)) => Ok(build_request(pid, service, timestamp, biz, secret)),
        Ok(_) => bail!("bizContent (stdin) must be a JSON object"),
        Err(e) => bail!("bizContent (stdin) is not JSON: {e}"),
    }
}

pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Sign { pid, secret, service, timestamp } => {
            let body = signed(&pid, &secret, &service, timestamp.unwrap_or_else(now), &stdin_text()?)?;
            let request = Request::parse(body.as_bytes()).map_err(|r| anyhow::anyhow!(r.msg()))?;
            eprintln!("signed: {}", sign::string_to_sign(&request.params, "<secret>"));
            println!("{body}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { secret } => {
            let body = stdin_text()?;
            let request = match Request::parse(body.as_bytes()) {
                Ok(r) => r,
                Err(refusal) => {
                    println!("refused before the sign: {}", refusal.msg());
                    return Ok(ExitCode::FAILURE);
                }
            };
            let expected = sign::sign(&request.params, &secret);
            println!("string to sign: {}", sign::string_to_sign(&request.params, "<secret>"));
            println!("expected sign:  {expected}");
            println!("received sign:  {}", request.sign);
            let mut ok = true;
            if sign::matches(&expected, &request.sign) {
                println!("sign: OK");
            } else {
                ok = false;
                println!(
                    "sign: MISMATCH. Common causes: bizContent signed as other text than sent (spaces, key order, \
                     escaped non-ASCII), an empty parameter signed (leave it out), a parameter left out, \
                     `&key=` missing before the secret, lower-case hex from a library that is not MD5."
                );
            }
            match request.check_time(now(), 300) {
                Ok(()) => println!("timestamp: OK ({} s from now)", request.timestamp - now()),
                Err(r) => {
                    ok = false;
                    println!("timestamp: {}", r.msg());
                }
            }
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Call { url, pid, secret, service } => {
            let body = signed(&pid, &secret, &service, now(), &stdin_text()?)?;
            let target = format!("{}/cloudparkapi/api/{service}", url.trim_end_matches('/'));
            let runtime = tokio::runtime::Runtime::new().context("runtime")?;
            let (status, reply) = runtime.block_on(async {
                let reply = reqwest::Client::new()
                    .post(&target)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .with_context(|| format!("POST {target}"))?;
                let status = reply.status();
                anyhow::Ok((status, reply.bytes().await.context("reading the answer")?))
            })?;
            let answer = Answer::parse(&reply)
                .map_err(|r| anyhow::anyhow!("HTTP {status}: {} ({})", r.detail, String::from_utf8_lossy(&reply)))?;
            println!("{}", String::from_utf8_lossy(&reply));
            if Code::from_number(answer.code) == Some(Code::BadSign) {
                let request = Request::parse(body.as_bytes()).map_err(|r| anyhow::anyhow!(r.msg()))?;
                eprintln!("we signed: {}", sign::string_to_sign(&request.params, "<secret>"));
            }
            Ok(if answer.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}
