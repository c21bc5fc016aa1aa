//! The proxy against loopback servers that count what reaches them.

use super::*;

/// An upstream that accepts connections and reports how many bytes each
/// one delivered before it closed.
async fn counting_upstream() -> (SocketAddr, tokio::sync::mpsc::Receiver<usize>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        for _ in 0..16 {
            let Ok((mut conn, _)) = listener.accept().await else {
                break;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut total = 0;
                let mut buf = vec![0; 4096];
                while let Ok(Ok(n)) = timeout(Duration::from_secs(10), conn.read(&mut buf)).await {
                    if n == 0 {
                        break;
                    }
                    total += n;
                }
                let _ = tx.send(total).await;
            });
        }
    });
    (addr, rx)
}

fn upload_part_request(part: i32, body_len: usize) -> Vec<u8> {
    let mut req = format!(
        "PUT /b/k?partNumber={part}&uploadId=u HTTP/1.1\r\nHost: x\r\nContent-Length: {body_len}\r\n\r\n"
    )
    .into_bytes();
    req.extend(std::iter::repeat_n(b'x', body_len));
    req
}

#[tokio::test]
async fn fails_one_part_and_forwards_the_others() {
    let (upstream, mut delivered) = counting_upstream().await;
    let proxy = Proxy::start(
        upstream,
        Faults {
            fail_part: Some(2),
            ..Faults::default()
        },
    )
    .await
    .unwrap();

    let whole = upload_part_request(1, 100_000);
    let mut conn = TcpStream::connect(proxy.addr()).await.unwrap();
    conn.write_all(&whole).await.unwrap();
    conn.shutdown().await.unwrap();
    drop(conn);
    assert_eq!(delivered.recv().await, Some(whole.len()));

    let failing = upload_part_request(2, 100_000);
    let mut conn = TcpStream::connect(proxy.addr()).await.unwrap();
    let _ = conn.write_all(&failing).await;
    let mut byte = [0];
    let read = timeout(Duration::from_secs(10), conn.read(&mut byte))
        .await
        .unwrap();
    assert_eq!(
        read.map_err(|e| e.kind()),
        Err(io::ErrorKind::ConnectionReset)
    );
    let got = delivered.recv().await.unwrap();
    assert!(got < failing.len(), "{got} of {} bytes", failing.len());

    let stats = proxy.stats();
    assert_eq!(stats.part_failures, 1);
    assert_eq!(stats.upload_parts_seen, BTreeMap::from([(1, 1), (2, 1)]));
    assert_eq!(stats.upload_parts_forwarded, BTreeMap::from([(1, 1)]));
}

/// An upstream that reads one request per connection (head, then
/// `Content-Length` bytes), reports its size, and answers 200 with a
/// 5-byte body.
async fn answering_upstream() -> (SocketAddr, tokio::sync::mpsc::Receiver<usize>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        for _ in 0..16 {
            let Ok((mut conn, _)) = listener.accept().await else {
                break;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = vec![0; 4096];
                for _ in 0..1000 {
                    if let Some(end) = find_head_end(&buf)
                        && buf.len() >= end + parse_head(&buf[..end]).content_length as usize
                    {
                        break;
                    }
                    match timeout(Duration::from_secs(10), conn.read(&mut chunk)).await {
                        Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                        _ => return,
                    }
                }
                let _ = tx.send(buf.len()).await;
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                    .await;
                let _ = timeout(Duration::from_secs(10), conn.read(&mut chunk)).await;
            });
        }
    });
    (addr, rx)
}

/// Sends `request` and reads until the proxy closes or resets.
async fn exchange(proxy: &Proxy, request: &[u8]) -> (Vec<u8>, Option<io::ErrorKind>) {
    let mut conn = TcpStream::connect(proxy.addr()).await.unwrap();
    conn.write_all(request).await.unwrap();
    let mut got = Vec::new();
    let mut chunk = [0; 256];
    for _ in 0..100 {
        match timeout(Duration::from_secs(10), conn.read(&mut chunk)).await {
            Ok(Ok(0)) => return (got, None),
            Ok(Ok(n)) => {
                got.extend_from_slice(&chunk[..n]);
                if got.ends_with(b"hello") {
                    return (got, None);
                }
            }
            Ok(Err(e)) => return (got, Some(e.kind())),
            Err(_) => panic!("no answer and no reset in 10 s"),
        }
    }
    (got, None)
}

#[tokio::test]
async fn loses_the_response_after_the_server_answered() {
    let (upstream, mut delivered) = answering_upstream().await;
    let proxy = Proxy::start(
        upstream,
        Faults {
            lose_response: Some(LoseResponse {
                to: S3Request::CompleteMultipartUpload,
                times: 1,
            }),
            ..Faults::default()
        },
    )
    .await
    .unwrap();
    let complete = b"POST /b/k?uploadId=u HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n<parts>";

    // The first is answered by the server, whole, but the client only
    // sees a reset.
    let (got, error) = exchange(&proxy, complete).await;
    assert_eq!(delivered.recv().await, Some(complete.len()));
    assert_eq!(
        (got.as_slice(), error),
        (&b""[..], Some(io::ErrorKind::ConnectionReset))
    );
    // The second gets the answer.
    let (got, error) = exchange(&proxy, complete).await;
    assert_eq!(delivered.recv().await, Some(complete.len()));
    assert_eq!(error, None);
    assert!(got.starts_with(b"HTTP/1.1 200 OK"), "{got:?}");

    let stats = proxy.stats();
    assert_eq!(stats.lost, 1);
    assert_eq!(
        stats.lost_responses,
        [LostResponse {
            request_line: "POST /b/k?uploadId=u HTTP/1.1".to_owned(),
            status: 200,
            body: b"hello".to_vec(),
        }]
    );
    assert_eq!(
        stats.forwarded,
        BTreeMap::from([("CompleteMultipartUpload".to_owned(), 2)])
    );
}

#[tokio::test]
async fn refuses_a_non_loopback_upstream() {
    let err = Proxy::start("192.0.2.1:80".parse().unwrap(), Faults::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}
