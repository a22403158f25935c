//! The exchange on a fake clock: every instant is `start + n ms`, and
//! nothing reads the real clock, so each case is exact.

use super::*;
use crate::reply::{Reply, ReplyBody, ReplyHeader};
use crate::testing::tracking_reply;

const BASE: u32 = 0xffff_fff0; // wraps within the batch

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config(window: usize, attempts: u16, resend_ms: u64) -> ExchangeConfig {
    ExchangeConfig {
        window,
        attempts,
        resend_after: ms(resend_ms),
    }
}

/// Every datagram due at `now`, as (index in the batch, attempt number).
fn sends(exchange: &mut Exchange<'_>, now: Instant) -> Vec<(usize, u16)> {
    std::iter::from_fn(|| exchange.poll_transmit(now))
        .map(|packet| {
            let (_, sequence, attempt) = Request::decode(&packet).expect("a valid request");
            (sequence.wrapping_sub(BASE) as usize, attempt)
        })
        .collect()
}

fn reply(index: usize) -> Vec<u8> {
    tracking_reply(BASE.wrapping_add(index as u32))
}

fn trackings(n: usize) -> Vec<Request> {
    vec![Request::Tracking; n]
}

fn ok_count(results: &[Result<ReplyBody, Failure>]) -> usize {
    results.iter().filter(|r| r.is_ok()).count()
}

#[test]
fn the_window_is_filled_and_refilled_as_replies_arrive() {
    let requests = trackings(10);
    let t = Instant::now();
    let mut ex = Exchange::new(&requests, BASE, config(4, 3, 100), t + ms(300), t);
    assert_eq!(sends(&mut ex, t), [(0, 0), (1, 0), (2, 0), (3, 0)]);
    assert_eq!(sends(&mut ex, t), [], "the window is full");
    assert_eq!(
        ex.on_datagram(t + ms(1), &reply(1)),
        Received::Answered { index: 1 }
    );
    assert_eq!(sends(&mut ex, t + ms(1)), [(4, 0)]);
    ex.on_datagram(t + ms(2), &reply(0));
    ex.on_datagram(t + ms(2), &reply(3));
    assert_eq!(sends(&mut ex, t + ms(2)), [(5, 0), (6, 0)]);
    for i in [2, 4, 5, 6] {
        ex.on_datagram(t + ms(3), &reply(i));
    }
    assert_eq!(sends(&mut ex, t + ms(3)), [(7, 0), (8, 0), (9, 0)]);
    for i in 7..10 {
        ex.on_datagram(t + ms(4), &reply(i));
    }
    assert!(ex.is_done());
    assert_eq!(ex.next_wakeup(), None);
    assert_eq!(ok_count(&ex.into_results()), 10);
}

#[test]
fn an_unanswered_request_is_resent_on_time_with_the_next_attempt_number() {
    let requests = trackings(1);
    let t = Instant::now();
    let mut ex = Exchange::new(&requests, BASE, config(8, 3, 100), t + ms(300), t);
    assert_eq!(sends(&mut ex, t), [(0, 0)]);
    assert_eq!(ex.next_wakeup(), Some(t + ms(100)));
    assert_eq!(sends(&mut ex, t + ms(99)), [], "not due yet");
    assert_eq!(sends(&mut ex, t + ms(100)), [(0, 1)]);
    assert_eq!(ex.next_wakeup(), Some(t + ms(200)));
    assert_eq!(sends(&mut ex, t + ms(200)), [(0, 2)]);
    // The third send is the last; then only the deadline is left.
    assert_eq!(ex.next_wakeup(), Some(t + ms(300)));
    ex.on_timeout(t + ms(299));
    assert!(!ex.is_done());
    ex.on_timeout(t + ms(300));
    assert!(ex.is_done());
    assert_eq!(ex.into_results(), [Err(Failure::TimedOut { attempts: 3 })]);
}

#[test]
fn out_of_attempts_a_request_still_waits_for_a_late_reply_until_the_deadline() {
    let requests = trackings(1);
    let t = Instant::now();
    let mut ex = Exchange::new(&requests, BASE, config(8, 2, 100), t + ms(1000), t);
    assert_eq!(sends(&mut ex, t), [(0, 0)]);
    assert_eq!(sends(&mut ex, t + ms(100)), [(0, 1)]);
    assert_eq!(ex.next_wakeup(), Some(t + ms(200)));
    assert_eq!(sends(&mut ex, t + ms(200)), [], "no third attempt");
    assert_eq!(ex.next_wakeup(), Some(t + ms(1000)), "only the deadline");
    assert_eq!(
        ex.on_datagram(t + ms(900), &reply(0)),
        Received::Answered { index: 0 }
    );
    assert_eq!(ok_count(&ex.into_results()), 1);
}

#[test]
fn a_late_reply_to_the_first_attempt_answers_and_the_second_is_a_duplicate() {
    let requests = trackings(2);
    let t = Instant::now();
    let mut ex = Exchange::new(&requests, BASE, config(8, 3, 100), t + ms(300), t);
    assert_eq!(sends(&mut ex, t), [(0, 0), (1, 0)]);
    assert_eq!(sends(&mut ex, t + ms(100)), [(0, 1), (1, 1)]);
    // chronyd answers both attempts of request 0 (the reply echoes the
    // sequence number, the same for every attempt).
    assert_eq!(
        ex.on_datagram(t + ms(110), &reply(0)),
        Received::Answered { index: 0 }
    );
    assert_eq!(ex.on_datagram(t + ms(111), &reply(0)), Received::Stray);
    // Request 0 is answered: only request 1 is resent.
    assert_eq!(sends(&mut ex, t + ms(200)), [(1, 2)]);
    ex.on_datagram(t + ms(210), &reply(1));
    assert!(ex.is_done());
    assert_eq!(ok_count(&ex.into_results()), 2);
}

#[test]
fn replies_to_an_earlier_batch_or_to_numbers_not_sent_are_ignored() {
    let requests = trackings(6);
    let t = Instant::now();
    let mut ex = Exchange::new(&requests, BASE, config(2, 3, 100), t + ms(300), t);
    assert_eq!(sends(&mut ex, t), [(0, 0), (1, 0)]);
    // The previous batch's numbers lie just below this one's.
    for earlier in [BASE.wrapping_sub(1), BASE.wrapping_sub(300)] {
        assert_eq!(
            ex.on_datagram(t + ms(1), &tracking_reply(earlier)),
            Received::Stray
        );
    }
    // In the batch's range but not sent yet (the window holds it back),
    // and past the batch's end: a guess, not an answer.
    assert_eq!(ex.on_datagram(t + ms(1), &reply(4)), Received::Stray);
    assert_eq!(ex.on_datagram(t + ms(1), &reply(6)), Received::Stray);
    assert_eq!(sends(&mut ex, t + ms(1)), [], "nothing was answered");
    assert_eq!(ex.discarded().count, 0, "strays are not garbage");
}

#[test]
fn a_reply_to_another_command_with_the_right_sequence_is_ignored() {
    let requests = [Request::NSources];
    let t = Instant::now();
    let mut ex = Exchange::new(&requests, BASE, config(8, 3, 100), t + ms(300), t);
    sends(&mut ex, t);
    assert_eq!(ex.on_datagram(t + ms(1), &reply(0)), Received::Stray);
    let right = Reply {
        header: ReplyHeader {
            command: Request::NSources.command(),
            reply_type: 0,
            status: Status::Success,
            sequence: BASE,
        },
        body: ReplyBody::NSources(3),
    }
    .encode();
    ex.on_datagram(t + ms(2), &right);
    assert_eq!(ex.into_results(), [Ok(ReplyBody::NSources(3))]);
}

#[test]
fn garbage_is_discarded_and_the_right_reply_still_answers() {
    let requests = trackings(3);
    let t = Instant::now();
    let mut ex = Exchange::new(&requests, BASE, config(8, 3, 100), t + ms(300), t);
    sends(&mut ex, t);
    let http = b"HTTP/1.1 400 Bad Request\r\n\r\n";
    assert_eq!(
        ex.on_datagram(t + ms(1), http),
        Received::Discarded(DecodeError::BadVersion(b'H'))
    );
    assert!(matches!(
        ex.on_datagram(t + ms(1), &[]),
        Received::Discarded(DecodeError::Truncated { .. })
    ));
    for i in 0..3 {
        ex.on_datagram(t + ms(2), &reply(i));
    }
    assert!(ex.is_done());
    assert_eq!(
        ex.discarded(),
        &Discarded {
            count: 2,
            first: Some(DecodeError::BadVersion(b'H'))
        }
    );
    assert_eq!(ok_count(&ex.into_results()), 3);
}

#[test]
fn at_the_deadline_every_unanswered_request_times_out_with_its_sends() {
    let requests = trackings(5);
    let t = Instant::now();
    let mut ex = Exchange::new(&requests, BASE, config(2, 3, 100), t + ms(250), t);
    assert_eq!(sends(&mut ex, t), [(0, 0), (1, 0)]);
    ex.on_datagram(t + ms(10), &reply(0));
    assert_eq!(sends(&mut ex, t + ms(10)), [(2, 0)]);
    assert_eq!(sends(&mut ex, t + ms(100)), [(1, 1)]);
    assert_eq!(sends(&mut ex, t + ms(110)), [(2, 1)]);
    assert_eq!(sends(&mut ex, t + ms(200)), [(1, 2)]);
    assert_eq!(ex.next_wakeup(), Some(t + ms(210)));
    assert_eq!(sends(&mut ex, t + ms(210)), [(2, 2)]);
    assert_eq!(
        ex.next_wakeup(),
        Some(t + ms(250)),
        "the deadline comes first"
    );
    // A reply at the deadline is too late.
    assert_eq!(ex.on_datagram(t + ms(250), &reply(1)), Received::Stray);
    assert!(ex.is_done());
    assert_eq!(sends(&mut ex, t + ms(250)), []);
    let results = ex.into_results();
    assert!(results[0].is_ok());
    assert_eq!(results[1], Err(Failure::TimedOut { attempts: 3 }));
    assert_eq!(results[2], Err(Failure::TimedOut { attempts: 3 }));
    // Never sent: the window was full until the end.
    assert_eq!(results[3], Err(Failure::TimedOut { attempts: 0 }));
    assert_eq!(results[4], Err(Failure::TimedOut { attempts: 0 }));
}

#[test]
fn a_batch_that_starts_after_the_deadline_sends_nothing() {
    let requests = trackings(2);
    let t = Instant::now();
    let mut ex = Exchange::new(&requests, BASE, config(8, 3, 100), t, t + ms(5));
    assert!(ex.is_done());
    assert_eq!(ex.poll_transmit(t + ms(5)), None);
    assert_eq!(
        ex.into_results(),
        [
            Err(Failure::TimedOut { attempts: 0 }),
            Err(Failure::TimedOut { attempts: 0 })
        ]
    );
}

#[test]
fn an_empty_batch_is_done_at_once() {
    let t = Instant::now();
    let mut ex = Exchange::new(&[], BASE, config(8, 3, 100), t + ms(300), t);
    assert!(ex.is_done());
    assert_eq!(ex.poll_transmit(t), None);
    assert_eq!(ex.next_wakeup(), None);
    assert!(ex.into_results().is_empty());
}

#[test]
fn a_refusal_fails_its_request_alone() {
    let requests = [Request::Tracking, Request::ServerStats, Request::Tracking];
    let t = Instant::now();
    let mut ex = Exchange::new(&requests, BASE, config(8, 3, 100), t + ms(300), t);
    sends(&mut ex, t);
    let refusal = Reply {
        header: ReplyHeader {
            command: Request::ServerStats.command(),
            reply_type: 1,
            status: Status::Unauthorised,
            sequence: BASE.wrapping_add(1),
        },
        body: ReplyBody::Null,
    }
    .encode();
    assert_eq!(
        ex.on_datagram(t + ms(1), &refusal),
        Received::Answered { index: 1 }
    );
    ex.on_datagram(t + ms(1), &reply(0));
    ex.on_datagram(t + ms(1), &reply(2));
    let results = ex.into_results();
    assert!(results[0].is_ok() && results[2].is_ok());
    assert_eq!(results[1], Err(Failure::Refused(Status::Unauthorised)));
}

#[test]
fn a_malformed_reply_to_a_request_fails_that_request_alone() {
    let requests = trackings(2);
    let t = Instant::now();
    let mut ex = Exchange::new(&requests, BASE, config(8, 3, 100), t + ms(300), t);
    sends(&mut ex, t);
    let mut truncated = reply(0);
    truncated.truncate(60);
    assert_eq!(
        ex.on_datagram(t + ms(1), &truncated),
        Received::Answered { index: 0 }
    );
    ex.on_datagram(t + ms(1), &reply(1));
    let results = ex.into_results();
    assert!(matches!(
        &results[0],
        Err(Failure::Malformed(ReplyError::Decode(
            DecodeError::WrongLength { .. }
        )))
    ));
    assert!(results[1].is_ok());
}

#[test]
fn abort_keeps_the_answers_and_fails_the_rest() {
    let requests = trackings(3);
    let t = Instant::now();
    let mut ex = Exchange::new(&requests, BASE, config(8, 3, 100), t + ms(300), t);
    sends(&mut ex, t);
    ex.on_datagram(t + ms(1), &reply(1));
    ex.abort();
    assert!(ex.is_done());
    assert_eq!(ex.next_wakeup(), None);
    let results = ex.into_results();
    assert_eq!(results[0], Err(Failure::Aborted));
    assert!(results[1].is_ok());
    assert_eq!(results[2], Err(Failure::Aborted));
}

/// A lost request holds one place of the window, not the whole window.
#[test]
fn a_lost_request_does_not_stall_the_window() {
    let requests = trackings(20);
    let t = Instant::now();
    let mut ex = Exchange::new(&requests, BASE, config(4, 3, 100), t + ms(300), t);
    let mut now = t;
    let mut resent = Vec::new();
    for step in 0..100 {
        assert!(step < 99, "never done");
        let batch = sends(&mut ex, now);
        if batch.is_empty() {
            match ex.next_wakeup() {
                Some(wake) => now = wake,
                None => break,
            }
        }
        // The peer answers at once, except the first attempt of request 0.
        for (i, attempt) in batch {
            if attempt > 0 {
                resent.push(i);
            }
            if !(i == 0 && attempt == 0) {
                ex.on_datagram(now, &reply(i));
            }
        }
    }
    // Everything else was answered before the one resend, at 100 ms.
    assert_eq!(now, t + ms(100));
    assert_eq!(resent, [0]);
    assert_eq!(ok_count(&ex.into_results()), 20);
}

mod simulated {
    //! A simulated peer that loses, delays, duplicates and precedes
    //! replies with garbage, on a virtual clock, against the rules.

    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// What the peer does with one datagram it receives.
    #[derive(Debug, Clone, Copy)]
    enum Fate {
        Lose,
        Answer { delay_ms: u64 },
        AnswerTwice { delay_ms: u64, again_ms: u64 },
        GarbageThenAnswer { delay_ms: u64 },
    }

    fn fate() -> impl Strategy<Value = Fate> {
        prop_oneof![
            2 => Just(Fate::Lose),
            4 => (0u64..250).prop_map(|delay_ms| Fate::Answer { delay_ms }),
            1 => (0u64..250, 0u64..100)
                .prop_map(|(delay_ms, again_ms)| Fate::AnswerTwice { delay_ms, again_ms }),
            1 => (0u64..250).prop_map(|delay_ms| Fate::GarbageThenAnswer { delay_ms }),
        ]
    }

    proptest! {
        #[test]
        fn the_rules_hold_whatever_the_peer_does(
            n in 0usize..60,
            window in 1usize..12,
            attempts in 1u16..4,
            resend_ms in 10u64..150,
            deadline_ms in 1u64..600,
            fates in proptest::collection::vec(fate(), 1..64),
        ) {
            let requests = trackings(n);
            let t = Instant::now();
            let deadline = t + ms(deadline_ms);
            let mut ex = Exchange::new(&requests, BASE, config(window, attempts, resend_ms), deadline, t);
            // Deliveries by time: (time, order) -> datagram (None: garbage).
            let mut inbox: BTreeMap<(Instant, usize), Option<usize>> = BTreeMap::new();
            let mut sent_at: Vec<Vec<Instant>> = vec![Vec::new(); n];
            let mut first_answer: Vec<Option<Instant>> = vec![None; n];
            let mut garbage = 0u32;
            let mut now = t;
            let mut sends_total = 0usize;
            let mut order = 0usize;
            while !ex.is_done() {
                while let Some(packet) = ex.poll_transmit(now) {
                    let (_, sequence, attempt) = Request::decode(&packet).expect("valid request");
                    let i = sequence.wrapping_sub(BASE) as usize;
                    prop_assert!(i < n);
                    // Attempt numbers count up from 0, at most `attempts` sends.
                    prop_assert_eq!(usize::from(attempt), sent_at[i].len());
                    prop_assert!(attempt < attempts);
                    // A resend comes exactly one interval after the send before.
                    if let Some(&before) = sent_at[i].last() {
                        prop_assert_eq!(now, before + ms(resend_ms));
                    }
                    sent_at[i].push(now);
                    let mut deliver = |at: Instant, what: Option<usize>| {
                        order += 1;
                        inbox.insert((at, order), what);
                    };
                    match fates[sends_total % fates.len()] {
                        Fate::Lose => {}
                        Fate::Answer { delay_ms } => deliver(now + ms(delay_ms), Some(i)),
                        Fate::AnswerTwice { delay_ms, again_ms } => {
                            deliver(now + ms(delay_ms), Some(i));
                            deliver(now + ms(delay_ms + again_ms), Some(i));
                        }
                        Fate::GarbageThenAnswer { delay_ms } => {
                            deliver(now + ms(delay_ms), None);
                            deliver(now + ms(delay_ms), Some(i));
                        }
                    }
                    sends_total += 1;
                }
                // Never more outstanding than the window.
                let outstanding = sent_at.iter().zip(&first_answer)
                    .filter(|(s, a)| !s.is_empty() && a.is_none())
                    .count();
                prop_assert!(outstanding <= window, "{} outstanding", outstanding);
                let wake = ex.next_wakeup().expect("not done: a wake-up");
                prop_assert!(wake <= deadline);
                match inbox.first_key_value() {
                    Some((&(at, key), _)) if at <= wake => {
                        let what = inbox.remove(&(at, key)).flatten();
                        now = at;
                        let datagram = match what {
                            Some(i) => reply(i),
                            None => b"\x05garbage".to_vec(),
                        };
                        let received = ex.on_datagram(now, &datagram);
                        if what.is_none() {
                            prop_assert!(matches!(received, Received::Discarded(_)));
                            garbage += 1;
                        } else if now < deadline {
                            match (what, &received) {
                                (Some(i), Received::Answered { index }) => {
                                    prop_assert_eq!(*index, i);
                                    prop_assert!(first_answer[i].is_none());
                                    first_answer[i] = Some(now);
                                }
                                (Some(i), Received::Stray) => {
                                    prop_assert!(first_answer[i].is_some(), "an answer was ignored");
                                }
                                (what, received) => {
                                    prop_assert!(false, "{:?} gave {:?}", what, received);
                                }
                            }
                        }
                    }
                    _ => {
                        now = wake;
                        ex.on_timeout(now);
                    }
                }
                prop_assert!(now <= deadline, "ran past the deadline");
            }
            prop_assert_eq!(ex.discarded().count, garbage);
            let results = ex.into_results();
            prop_assert_eq!(results.len(), n);
            for (i, result) in results.iter().enumerate() {
                match result {
                    Ok(_) => prop_assert!(first_answer[i].is_some_and(|at| at < deadline)),
                    Err(Failure::TimedOut { attempts: made }) => {
                        prop_assert!(first_answer[i].is_none());
                        prop_assert_eq!(usize::from(*made), sent_at[i].len());
                    }
                    Err(other) => prop_assert!(false, "request {}: {:?}", i, other),
                }
            }
        }
    }
}
