//! The PROXY protocol, version 1 (HAProxy's `send-proxy`): the line a load
//! balancer sends first on each connection to a node, naming the client it
//! stands for. Read only from the balancers `trusted_proxies` lists; anyone
//! else could claim any address with it.
//!
//! `PROXY TCP4 203.0.113.7 10.0.0.2 51234 8080\r\n` — at most 107 bytes;
//! `PROXY UNKNOWN\r\n` (a health check) names nobody: the balancer stays
//! the peer.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// The longest v1 line, `\r\n` included (the specification's figure).
pub const MAX_LINE: u64 = 107;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyError {
    #[error("PROXY line: {0}")]
    Line(&'static str),
    #[error("PROXY line: connection closed before it ended")]
    Closed,
    #[error("PROXY line: {0}")]
    Io(String),
}

/// The client a v1 line names (`None` for `UNKNOWN`).
pub fn parse_v1(line: &[u8]) -> Result<Option<SocketAddr>, ProxyError> {
    let line = line.strip_suffix(b"\r\n").ok_or(ProxyError::Line("does not end with CRLF within 107 bytes"))?;
    let line = std::str::from_utf8(line).map_err(|_| ProxyError::Line("not ASCII"))?;
    let mut parts = line.split(' ');
    if parts.next() != Some("PROXY") {
        return Err(ProxyError::Line("does not start with `PROXY `"));
    }
    let family = parts.next().ok_or(ProxyError::Line("no protocol family"))?;
    if family == "UNKNOWN" {
        return Ok(None);
    }
    let fields: Vec<&str> = parts.collect();
    let [source, _destination, source_port, _destination_port] = fields[..] else {
        return Err(ProxyError::Line("expected source, destination and both ports"));
    };
    let ip: IpAddr = source.parse().map_err(|_| ProxyError::Line("source address"))?;
    let family_matches = match family {
        "TCP4" => ip.is_ipv4(),
        "TCP6" => ip.is_ipv6(),
        _ => return Err(ProxyError::Line("protocol family is neither TCP4, TCP6 nor UNKNOWN")),
    };
    if !family_matches {
        return Err(ProxyError::Line("source address of another family"));
    }
    let port: u16 = source_port.parse().map_err(|_| ProxyError::Line("source port"))?;
    Ok(Some(SocketAddr::new(ip, port)))
}

/// Reads the v1 line at the start of `stream` (nothing after it: the
/// buffer keeps what follows for the HTTP reader).
pub async fn read_v1<R: AsyncBufRead + Unpin>(stream: &mut R) -> Result<Option<SocketAddr>, ProxyError> {
    let mut line = Vec::with_capacity(MAX_LINE as usize);
    let n =
        (&mut *stream).take(MAX_LINE).read_until(b'\n', &mut line).await.map_err(|e| ProxyError::Io(e.to_string()))?;
    if n == 0 {
        return Err(ProxyError::Closed);
    }
    parse_v1(&line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_their_client_or_nobody() {
        let v4 = parse_v1(b"PROXY TCP4 203.0.113.7 10.0.0.2 51234 8080\r\n").expect("v4");
        assert_eq!(v4, Some("203.0.113.7:51234".parse().expect("addr")));
        let v6 = parse_v1(b"PROXY TCP6 2001:db8::1 2001:db8::2 40000 443\r\n").expect("v6");
        assert_eq!(v6, Some("[2001:db8::1]:40000".parse().expect("addr")));
        assert_eq!(parse_v1(b"PROXY UNKNOWN\r\n"), Ok(None));
        assert_eq!(parse_v1(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), Ok(None));
        for bad in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"PROXY TCP4 203.0.113.7 10.0.0.2 51234 8080\n",
            b"PROXY TCP4 2001:db8::1 10.0.0.2 1 2\r\n",
            b"PROXY TCP4 203.0.113.7 10.0.0.2 99999 8080\r\n",
            b"PROXY UDP4 203.0.113.7 10.0.0.2 1 2\r\n",
            b"PROXY TCP4 203.0.113.7\r\n",
        ] {
            assert!(parse_v1(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[tokio::test]
    async fn the_line_is_read_and_what_follows_is_left() {
        let bytes = &b"PROXY TCP4 198.51.100.9 10.0.0.2 1234 80\r\nGET / HTTP/1.1\r\n"[..];
        let mut reader = tokio::io::BufReader::new(bytes);
        assert_eq!(read_v1(&mut reader).await, Ok(Some("198.51.100.9:1234".parse().expect("addr"))));
        let mut rest = String::new();
        reader.read_to_string(&mut rest).await.expect("rest");
        assert_eq!(rest, "GET / HTTP/1.1\r\n");
        // No line end within 107 bytes: refused, not read for ever.
        let long = vec![b'P'; 500];
        assert!(read_v1(&mut tokio::io::BufReader::new(&long[..])).await.is_err());
    }
}
