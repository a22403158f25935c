//! The client against peers a real chronyd cannot imitate: nothing
//! listening, a peer that never answers, and one that answers garbage,
//! truncated or wrong-sequence packets. Every case must end in a precise
//! error within the configured timeout, never a panic or a hang.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use clockwatch::chrony::{ChronyAddress, ChronyClient, ChronyError};
use cmdmon::{ReplyBody, Request};

const TIMEOUT: Duration = Duration::from_millis(600);

fn client_for(port: u16) -> ChronyClient {
    let address: ChronyAddress = format!("udp://127.0.0.1:{port}").parse().expect("address");
    ChronyClient::new(address, TIMEOUT)
}

/// A fake chronyd answering every request with `respond(request, sequence)`.
fn fake_peer(respond: impl Fn(&[u8], u32) -> Vec<Vec<u8>> + Send + 'static) -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = socket.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let sequence = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
            for reply in respond(&buf[..n], sequence) {
                let _ = socket.send_to(&reply, from);
            }
        }
    });
    port
}

async fn tracking_result(c: &ChronyClient) -> (Result<ReplyBody, ChronyError>, Duration) {
    let started = Instant::now();
    let session = c.session().await.expect("UDP session opens");
    (session.query(Request::Tracking).await, started.elapsed())
}

#[tokio::test]
async fn nothing_listening_fails_fast() {
    let port = {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        s.local_addr().expect("addr").port()
    }; // closed again: the port is now unused
    let (result, took) = tracking_result(&client_for(port)).await;
    let err = result.expect_err("nobody there");
    assert!(matches!(err, ChronyError::NotListening { .. }), "{err:?}");
    assert!(err.to_string().contains("is chronyd running"), "{err}");
    assert!(took <= TIMEOUT, "took {took:?}");
}

#[tokio::test]
async fn a_peer_that_never_answers_times_out_on_time() {
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let (result, took) = tracking_result(&client_for(port)).await;
    let err = result.expect_err("no answer");
    assert!(
        matches!(err, ChronyError::Timeout { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(
        took >= TIMEOUT && took < TIMEOUT + Duration::from_millis(300),
        "took {took:?}"
    );
    // The request was resent, each time with the next attempt number.
    let mut buf = [0u8; 512];
    silent
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let mut attempts = Vec::new();
    while let Ok(n) = silent.recv(&mut buf) {
        let (_, _, attempt) = Request::decode(&buf[..n]).expect("a valid request");
        attempts.push(attempt);
    }
    assert_eq!(attempts, vec![0, 1, 2]);
}

/// A peer that answers only garbage: every datagram is discarded, and at
/// the deadline the error says that something other than chronyd answered.
#[tokio::test]
async fn garbage_alone_is_a_precise_error_at_the_deadline_not_a_panic() {
    let port = fake_peer(|_, _| vec![b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()]);
    let (result, took) = tracking_result(&client_for(port)).await;
    let err = result.expect_err("garbage");
    match &err {
        // One datagram per send: three attempts.
        ChronyError::NotChrony { discarded: 3, .. } => {}
        other => panic!("expected NotChrony with 3 discarded, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("not chrony replies") && text.contains("protocol version 72"),
        "{text}"
    );
    assert!(
        took >= TIMEOUT && took < TIMEOUT + Duration::from_millis(300),
        "took {took:?}"
    );
}

/// Issue 16, point 6: one undecodable datagram used to fail the whole
/// batch. Now it is discarded and the right reply, right behind it, counts:
/// a batch larger than the window completes without waiting for a resend.
#[tokio::test]
async fn garbage_before_each_right_reply_is_discarded_and_the_batch_completes() {
    let port = fake_peer(|_, seq| {
        vec![
            b"\xff\x00not a chrony reply".to_vec(),
            Vec::new(),
            cmdmon::testing::tracking_reply(seq),
        ]
    });
    let c = client_for(port);
    let started = Instant::now();
    let session = c.session().await.expect("UDP session opens");
    let batch: Vec<Request> = (0..100).map(|_| Request::Tracking).collect();
    let results = session.query_many(&batch).await;
    let took = started.elapsed();
    let answered = results
        .iter()
        .filter(|r| matches!(r, Ok(ReplyBody::Tracking(t)) if t.stratum == 4))
        .count();
    assert_eq!(answered, 100, "{:?}", results.iter().find(|r| r.is_err()));
    assert!(
        took < TIMEOUT / 3,
        "the garbage made the batch wait for a resend: {took:?}"
    );
}

#[tokio::test]
async fn a_truncated_reply_is_an_error() {
    let port = fake_peer(|_, seq| {
        let mut reply = cmdmon::testing::tracking_reply(seq);
        reply.truncate(60);
        vec![reply]
    });
    let (result, _) = tracking_result(&client_for(port)).await;
    let err = result.expect_err("truncated");
    assert!(
        err.to_string().contains("TRACKING reply is 104 bytes"),
        "{err}"
    );
}

#[tokio::test]
async fn an_oversized_reply_is_an_error() {
    let port = fake_peer(|_, seq| {
        let mut reply = cmdmon::testing::tracking_reply(seq);
        reply.extend_from_slice(&[0; 16]);
        vec![reply]
    });
    let (result, _) = tracking_result(&client_for(port)).await;
    assert!(
        matches!(result, Err(ChronyError::Protocol { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn wrong_sequence_replies_are_ignored() {
    // First a reply to someone else's request, then the right one.
    let port = fake_peer(|_, seq| {
        vec![
            cmdmon::testing::tracking_reply(seq.wrapping_add(7)),
            cmdmon::testing::tracking_reply(seq),
        ]
    });
    let (result, _) = tracking_result(&client_for(port)).await;
    assert!(matches!(result, Ok(ReplyBody::Tracking(_))), "{result:?}");

    // Only wrong sequences: a timeout, not a wrong answer accepted.
    let port = fake_peer(|_, seq| vec![cmdmon::testing::tracking_reply(seq ^ 0x8000_0000)]);
    let (result, took) = tracking_result(&client_for(port)).await;
    assert!(
        matches!(result, Err(ChronyError::Timeout { .. })),
        "{result:?}"
    );
    assert!(took < TIMEOUT + Duration::from_millis(300));
}

#[tokio::test]
async fn a_reply_to_another_command_is_ignored() {
    let port = fake_peer(|request, seq| {
        let mut reply = cmdmon::testing::tracking_reply(seq);
        reply[4..6].copy_from_slice(&14u16.to_be_bytes()); // "n_sources"
        let _ = request;
        vec![reply]
    });
    let (result, _) = tracking_result(&client_for(port)).await;
    assert!(
        matches!(result, Err(ChronyError::Timeout { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_failure_status_is_a_refusal() {
    let port = fake_peer(|_, seq| {
        let mut reply = cmdmon::testing::tracking_reply(seq);
        reply.truncate(28);
        reply[6..8].copy_from_slice(&1u16.to_be_bytes()); // RPY_NULL
        reply[8..10].copy_from_slice(&19u16.to_be_bytes()); // STT_BADPKTLENGTH
        vec![reply]
    });
    let (result, _) = tracking_result(&client_for(port)).await;
    let err = result.expect_err("refused");
    assert!(err.to_string().contains("bad packet length"), "{err}");
}

#[tokio::test]
async fn a_missing_socket_says_so() {
    let c = ChronyClient::new(
        "unix:///nonexistent/chronyd.sock".parse().expect("address"),
        TIMEOUT,
    );
    let err = c.session().await.err().expect("missing");
    assert!(matches!(err, ChronyError::SocketMissing { .. }), "{err:?}");
    assert!(err.to_string().contains("is chronyd running"), "{err}");
}

/// A lossy link: the peer drops the first attempt of every tenth request.
/// A lost request holds one slot of the window, not the whole window: the
/// batch, larger than the window, completes one resend interval later.
#[tokio::test]
async fn lost_requests_are_resent_without_stalling_the_window() {
    let port = fake_peer(|request, seq| {
        let (_, _, attempt) = Request::decode(request).expect("a valid request");
        if attempt == 0 && seq % 10 == 0 {
            Vec::new()
        } else {
            vec![cmdmon::testing::tracking_reply(seq)]
        }
    });
    let c = client_for(port);
    let started = Instant::now();
    let session = c.session().await.expect("UDP session opens");
    let batch: Vec<Request> = (0..100).map(|_| Request::Tracking).collect();
    let results = session.query_many(&batch).await;
    let took = started.elapsed();
    let answered = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(answered, 100, "{:?}", results.iter().find(|r| r.is_err()));
    let resend_every = TIMEOUT / 3;
    assert!(took >= resend_every, "answered before any resend: {took:?}");
    assert!(
        took < resend_every + Duration::from_millis(150),
        "lost requests stalled the window: {took:?}"
    );
}
