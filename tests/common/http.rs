//! A one-request HTTP receiver on loopback, standing in for a webhook endpoint.

/// One HTTP request's body, answered 200.
pub fn receive_one(listener: &std::net::TcpListener) -> serde_json::Value {
    use std::io::{BufRead, BufReader, Read, Write};
    let (conn, _) = listener.accept().unwrap();
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut len = 0;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    (&conn).write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").unwrap();
    serde_json::from_slice(&body).unwrap()
}
