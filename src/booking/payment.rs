//! The life of a deposit, beside its appointment's.
//!
//! ```text
//! requested ──> open ──> processing ──> paid
//!                 │           │
//!                 ├─> expired ├─> failed
//! ```
//! A status only moves forward (in the order of [`PaymentStatus`]), and `paid` wins over
//! everything: Stripe's events come late, twice and out of order, and a payment is a payment
//! whenever its news arrives. The refund beside it moves forward too ([`RefundStatus`]).
//!
//! [`decide`] is the one place where a deposit's news becomes changes: of the deposit, of its
//! appointment, calls to Stripe and what the customer is told. Pure, so that every pair of news in
//! both orders can be checked to end alike (the tests below).

use std::fmt;

use super::appointment::AppointmentStatus;

/// Where a deposit's payment is. The order of the variants is the order it moves in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PaymentStatus {
    /// Asked for; Stripe has not created the Checkout Session yet.
    Requested,
    /// The Checkout Session is open: its link can be paid.
    Open,
    /// The customer completed checkout with a method that settles later.
    Processing,
    /// The session expired unpaid.
    Expired,
    /// The payment failed (a slow method was declined) or the session could not be created.
    Failed,
    /// Paid.
    Paid,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 6] = [
        PaymentStatus::Requested,
        PaymentStatus::Open,
        PaymentStatus::Processing,
        PaymentStatus::Expired,
        PaymentStatus::Failed,
        PaymentStatus::Paid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Requested => "requested",
            PaymentStatus::Open => "open",
            PaymentStatus::Processing => "processing",
            PaymentStatus::Expired => "expired",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Paid => "paid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Not settled yet: the customer may still pay.
    pub fn is_unsettled(self) -> bool {
        matches!(
            self,
            PaymentStatus::Requested | PaymentStatus::Open | PaymentStatus::Processing
        )
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of the refund the bot asked for. Ordered: `failed` stays visible until a later
/// attempt succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefundStatus {
    Pending,
    Failed,
    Succeeded,
}

impl RefundStatus {
    pub const ALL: [RefundStatus; 3] = [
        RefundStatus::Pending,
        RefundStatus::Failed,
        RefundStatus::Succeeded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Failed => "failed",
            RefundStatus::Succeeded => "succeeded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

impl fmt::Display for RefundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A deposit as the decision sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub status: PaymentStatus,
    /// The deposit, in minor units.
    pub amount: u64,
    /// Refunded so far, as Stripe reports it (cumulative).
    pub refunded: u64,
    /// What the bot asked Stripe to refund (0: nothing).
    pub refund_requested: u64,
    /// What became of the refunds: the bot's, or one made by the salon in Stripe's dashboard.
    pub refund: Option<RefundStatus>,
    /// Refunds the bot asked for so far (a failed one is asked for again, up to
    /// [`REFUND_ATTEMPTS`]); one more once the last of them failed too and the bot gave up, so that
    /// no news of an earlier attempt is taken for the latest's.
    pub refund_attempts: u32,
    pub disputed: bool,
}

impl Payment {
    /// A deposit of `amount` just asked for.
    pub fn requested(amount: u64) -> Self {
        Self {
            status: PaymentStatus::Requested,
            amount,
            refunded: 0,
            refund_requested: 0,
            refund: None,
            refund_attempts: 0,
            disputed: false,
        }
    }
}

/// How many times the bot asks for a refund that Stripe reports failed (a card closed since, say).
pub const REFUND_ATTEMPTS: u32 = 3;

/// What happened to a deposit: the facts the worker reads from Stripe's events, from the answers
/// to its own calls, and from the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentEvent {
    /// Stripe created the Checkout Session: its link can be sent.
    SessionCreated,
    /// Stripe refused to create the session.
    SessionRefused,
    /// The customer completed checkout; `paid` is false while a slow method settles.
    Completed { paid: bool },
    /// A slow method settled.
    AsyncSucceeded,
    /// A slow method failed.
    AsyncFailed,
    /// The session expired unpaid.
    Expired,
    /// `charge.refunded`: refunded so far (cumulative) and whether that is all of it.
    ChargeRefunded { total: u64, full: bool },
    /// News of one refund; `ours` when the bot asked for it (its metadata names the appointment),
    /// `attempt` the bot's attempt it answers (its metadata's, when it says).
    Refund {
        status: RefundStatus,
        ours: bool,
        attempt: Option<u32>,
    },
    /// The customer opened a dispute with their bank.
    Disputed,
    /// One attempt to pay was declined; the customer may try again on the same page.
    AttemptFailed,
    /// The session's time is up: ask Stripe what became of it.
    CheckDue,
    /// The customer gave the held time up before paying (picked another, cancelled, went away).
    HoldGivenUp,
    /// The customer cancelled a booking whose deposit the policy gives back: this much.
    RefundAsked { amount: u64 },
}

/// A call to make to Stripe, decided with the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// Expire the session, so that nobody pays for a time they no longer hold (Stripe refuses
    /// when the session is no longer open; then ask what became of it).
    ExpireSession,
    /// Ask what became of the session.
    RetrieveSession,
    /// Refund this much; `attempt` counts the refunds asked for (each its own idempotency key).
    Refund { amount: u64, attempt: u32 },
}

/// What the customer is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    /// The payment link is ready.
    Link,
    /// Paid: the appointment is confirmed.
    Confirmed,
    /// Not paid (the session expired or the payment failed): the time is released.
    Failed,
    /// Paid after the time was released and someone else took it: refunded, pick another time.
    LateRefund,
    /// The deposit was given back.
    Refunded,
    /// The salon refunded the deposit and so cancelled the appointment.
    CancelledBySalon,
}

/// What a deposit's news changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub payment: Payment,
    /// The status the appointment moves to, when it moves.
    pub appointment: Option<AppointmentStatus>,
    pub calls: Vec<Call>,
    /// What to tell the customer (one message, about where things ended).
    pub notice: Option<Notice>,
    /// What happened, as the outcome labels of `salonbot_payments_total`.
    pub payments: Vec<&'static str>,
    /// ... and of `salonbot_refunds_total`.
    pub refunds: Vec<&'static str>,
}

/// Decides what one piece of news changes for a deposit and its appointment (in `appointment`
/// status). `slot_free` says whether the appointment's time is still free, for a payment that
/// arrives after the time was released: then it is confirmed again; otherwise it is refunded.
///
/// Every change only moves forward, so news arriving late, twice or out of order ends in the same
/// state (the pair table in the tests checks every pair, both ways and repeated).
pub fn decide(
    payment: &Payment,
    appointment: AppointmentStatus,
    slot_free: bool,
    event: &PaymentEvent,
) -> Decision {
    let mut d = Decider {
        decision: Decision {
            payment: payment.clone(),
            appointment: None,
            calls: Vec::new(),
            notice: None,
            payments: Vec::new(),
            refunds: Vec::new(),
        },
        appointment,
        slot_free,
    };
    match event {
        PaymentEvent::SessionCreated => d.session_created(),
        PaymentEvent::SessionRefused | PaymentEvent::AsyncFailed => d.unpaid(PaymentStatus::Failed),
        PaymentEvent::Expired => d.unpaid(PaymentStatus::Expired),
        PaymentEvent::Completed { paid: true } | PaymentEvent::AsyncSucceeded => d.paid(),
        PaymentEvent::Completed { paid: false } => {
            let p = &mut d.decision.payment;
            p.status = p.status.max(PaymentStatus::Processing);
        }
        PaymentEvent::ChargeRefunded { total, full } => {
            // A charge refunded is a charge paid, whatever news of it came first.
            d.paid();
            d.refunded(*total, *full);
        }
        PaymentEvent::Refund {
            status,
            ours,
            attempt,
        } => {
            d.paid();
            if *ours {
                d.refund_news(*status, *attempt);
            }
        }
        PaymentEvent::Disputed => {
            d.paid();
            if !d.decision.payment.disputed {
                d.decision.payment.disputed = true;
                d.decision.payments.push("disputed");
            }
        }
        PaymentEvent::AttemptFailed => {}
        PaymentEvent::CheckDue => match d.decision.payment.status {
            PaymentStatus::Open => d.decision.calls.push(Call::ExpireSession),
            PaymentStatus::Processing => d.decision.calls.push(Call::RetrieveSession),
            _ => {}
        },
        PaymentEvent::HoldGivenUp => d.given_up(),
        PaymentEvent::RefundAsked { amount } => d.ask_refund(*amount),
    }
    d.decision
}

struct Decider {
    decision: Decision,
    appointment: AppointmentStatus,
    slot_free: bool,
}

impl Decider {
    /// The appointment's status, with what this decision already changed.
    fn current(&self) -> AppointmentStatus {
        self.decision.appointment.unwrap_or(self.appointment)
    }

    fn move_to(&mut self, status: AppointmentStatus) {
        self.decision.appointment = Some(status);
    }

    fn tell(&mut self, notice: Notice) {
        self.decision.notice = Some(notice);
    }

    fn waiting(&self) -> bool {
        matches!(
            self.current(),
            AppointmentStatus::Held | AppointmentStatus::PendingPayment
        )
    }

    fn session_created(&mut self) {
        if self.decision.payment.status != PaymentStatus::Requested {
            return;
        }
        self.decision.payment.status = PaymentStatus::Open;
        self.decision.payments.push("link");
        if self.waiting() {
            self.tell(Notice::Link);
        }
    }

    fn paid(&mut self) {
        if self.decision.payment.status == PaymentStatus::Paid {
            return;
        }
        self.decision.payment.status = PaymentStatus::Paid;
        match self.current() {
            AppointmentStatus::Held | AppointmentStatus::PendingPayment => {
                self.move_to(AppointmentStatus::Confirmed);
                self.tell(Notice::Confirmed);
                self.decision.payments.push("paid");
            }
            // Paid after the time was let go: confirmed again if nobody took it meanwhile, else
            // given back at once (exactly once: the refund is asked for only here and then
            // remembered).
            AppointmentStatus::Expired | AppointmentStatus::Cancelled if self.slot_free => {
                self.move_to(AppointmentStatus::Confirmed);
                self.tell(Notice::Confirmed);
                self.decision.payments.push("late_paid");
            }
            AppointmentStatus::Expired | AppointmentStatus::Cancelled => {
                self.decision.payments.push("late_refunded");
                let amount = self.decision.payment.amount;
                self.ask_refund(amount);
                self.tell(Notice::LateRefund);
            }
            _ => {}
        }
    }

    fn unpaid(&mut self, status: PaymentStatus) {
        let payment = &mut self.decision.payment;
        if payment.status >= status {
            return;
        }
        payment.status = status;
        if self.waiting() {
            self.move_to(AppointmentStatus::Expired);
            self.tell(Notice::Failed);
            self.decision.payments.push(status.as_str());
        }
    }

    fn given_up(&mut self) {
        if !self.decision.payment.status.is_unsettled() {
            return;
        }
        if self.waiting() {
            self.move_to(AppointmentStatus::Cancelled);
        }
        self.decision.calls.push(Call::ExpireSession);
    }

    fn ask_refund(&mut self, amount: u64) {
        let p = &mut self.decision.payment;
        if p.status != PaymentStatus::Paid || p.refund_requested > 0 {
            return;
        }
        let amount = amount.min(p.amount.saturating_sub(p.refunded));
        if amount == 0 {
            return;
        }
        p.refund_requested = amount;
        p.refund = p.refund.max(Some(RefundStatus::Pending));
        p.refund_attempts += 1;
        let attempt = p.refund_attempts;
        self.decision.calls.push(Call::Refund { amount, attempt });
        self.decision.refunds.push("requested");
    }

    fn refunded(&mut self, total: u64, full: bool) {
        let p = &mut self.decision.payment;
        let grew = total > p.refunded;
        p.refunded = p.refunded.max(total);
        let whole = full || p.refunded >= p.amount;
        if p.refund_requested > 0 {
            if p.refunded >= p.refund_requested {
                self.refund_news(RefundStatus::Succeeded, None);
            }
        } else if whole {
            // Refunded in full by the salon (the dashboard): the booking is off.
            if p.refund == Some(RefundStatus::Succeeded) {
                return;
            }
            p.refund = Some(RefundStatus::Succeeded);
            self.decision.refunds.push("by_salon");
            match self.current() {
                AppointmentStatus::Confirmed => {
                    self.move_to(AppointmentStatus::Refunded);
                    self.tell(Notice::CancelledBySalon);
                }
                AppointmentStatus::Cancelled | AppointmentStatus::Expired => {
                    self.move_to(AppointmentStatus::Refunded);
                    self.tell(Notice::Refunded);
                }
                _ => {}
            }
        } else if grew {
            // A partial refund by the salon: recorded, the booking stands.
            self.decision.refunds.push("partial");
        }
    }

    fn refund_news(&mut self, status: RefundStatus, attempt: Option<u32>) {
        let p = &mut self.decision.payment;
        let next = p.refund.max(Some(status));
        // The status only moves forward, so a failure after a failure is news only when it is the
        // latest attempt's (asked for again after the first failed); one of an earlier attempt, or
        // the same one again, is not.
        let latest_failed = status == RefundStatus::Failed
            && p.refund == Some(RefundStatus::Failed)
            && attempt.is_some_and(|n| n == p.refund_attempts);
        if next == p.refund && !latest_failed {
            return;
        }
        p.refund = next;
        match status {
            RefundStatus::Succeeded => {
                self.decision.refunds.push("succeeded");
                if matches!(
                    self.current(),
                    AppointmentStatus::Cancelled | AppointmentStatus::Expired
                ) {
                    self.move_to(AppointmentStatus::Refunded);
                }
                self.tell(Notice::Refunded);
            }
            RefundStatus::Failed => {
                self.decision.refunds.push("failed");
                p.refund_attempts += 1;
                if p.refund_attempts <= REFUND_ATTEMPTS {
                    let amount = p.refund_requested.saturating_sub(p.refunded);
                    let attempt = p.refund_attempts;
                    self.decision.calls.push(Call::Refund { amount, attempt });
                } else {
                    // Given up: the salon refunds by hand (the failure stays visible); no later
                    // news of these attempts is taken for a new one.
                    self.decision.refunds.push("given_up");
                }
            }
            RefundStatus::Pending => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AppointmentStatus::*;
    use super::*;

    const AMOUNT: u64 = 2000;

    /// News in the order given, from a deposit whose link is out and whose time is held; the
    /// appointment's status follows each decision.
    fn run(
        events: &[PaymentEvent],
        slot_free: bool,
    ) -> (Payment, AppointmentStatus, Vec<Decision>) {
        let mut payment = Payment {
            status: PaymentStatus::Open,
            ..Payment::requested(AMOUNT)
        };
        let mut appointment = PendingPayment;
        let mut decisions = Vec::new();
        for event in events {
            let d = decide(&payment, appointment, slot_free, event);
            payment = d.payment.clone();
            appointment = d.appointment.unwrap_or(appointment);
            decisions.push(d);
        }
        (payment, appointment, decisions)
    }

    /// Every piece of Stripe news, and the conversation's own (a check at expiry, a hold given up).
    fn news() -> Vec<PaymentEvent> {
        use PaymentEvent::*;
        vec![
            SessionCreated,
            SessionRefused,
            Completed { paid: true },
            Completed { paid: false },
            AsyncSucceeded,
            AsyncFailed,
            Expired,
            ChargeRefunded {
                total: AMOUNT,
                full: true,
            },
            ChargeRefunded {
                total: 500,
                full: false,
            },
            Refund {
                status: RefundStatus::Succeeded,
                ours: false,
                attempt: None,
            },
            Refund {
                status: RefundStatus::Pending,
                ours: false,
                attempt: None,
            },
            Disputed,
            AttemptFailed,
            CheckDue,
            HoldGivenUp,
        ]
    }

    /// Where things ended, as far as they can differ: a held time given up and one whose session
    /// expired are both let go (`cancelled` or `expired`, by which came first; nothing else
    /// depends on the word).
    fn ending(payment: &Payment, appointment: AppointmentStatus) -> (Payment, &'static str) {
        let appointment = match appointment {
            Cancelled | Expired => "let go",
            other => other.as_str(),
        };
        (payment.clone(), appointment)
    }

    /// The customer's last message agrees with where things ended.
    fn coherent(appointment: AppointmentStatus, payment: &Payment, last: Option<Notice>) -> bool {
        match (appointment, last) {
            (_, None) => true,
            (PendingPayment, Some(notice)) => notice == Notice::Link,
            (Confirmed, Some(notice)) => notice == Notice::Confirmed,
            (Cancelled | Expired, Some(notice)) if payment.status == PaymentStatus::Paid => {
                matches!(notice, Notice::LateRefund | Notice::Refunded)
            }
            (Cancelled | Expired, Some(notice)) => notice == Notice::Failed,
            (Refunded, Some(notice)) => {
                matches!(notice, Notice::CancelledBySalon | Notice::Refunded)
            }
            _ => false,
        }
    }

    #[test]
    fn every_pair_of_news_ends_alike_in_both_orders_and_repeated() {
        let news = news();
        for a in &news {
            for b in &news {
                let orders: [Vec<PaymentEvent>; 5] = [
                    vec![a.clone(), b.clone()],
                    vec![b.clone(), a.clone()],
                    vec![a.clone(), a.clone(), b.clone(), b.clone()],
                    vec![b.clone(), b.clone(), a.clone(), a.clone()],
                    vec![a.clone(), b.clone(), a.clone(), b.clone()],
                ];
                let endings: Vec<_> = orders
                    .iter()
                    .map(|events| {
                        let (payment, appointment, decisions) = run(events, true);
                        let last = decisions.iter().rev().find_map(|d| d.notice);
                        assert!(
                            coherent(appointment, &payment, last),
                            "{events:?}: ends {appointment} {payment:?} after telling {last:?}"
                        );
                        ending(&payment, appointment)
                    })
                    .collect();
                for (events, ending) in orders.iter().zip(&endings) {
                    assert_eq!(ending, &endings[0], "{events:?} vs {:?}", orders[0]);
                }
            }
        }
    }

    #[test]
    fn news_repeated_changes_nothing_and_says_nothing_twice() {
        for event in news() {
            let (once, appointment_once, _) = run(std::slice::from_ref(&event), true);
            let (twice, appointment_twice, decisions) = run(&[event.clone(), event.clone()], true);
            assert_eq!(
                (&once, appointment_once),
                (&twice, appointment_twice),
                "{event:?}"
            );
            let second = &decisions[1];
            assert_eq!(second.appointment, None, "{event:?}");
            assert_eq!(second.notice, None, "{event:?}");
            assert!(
                second.payments.is_empty() && second.refunds.is_empty(),
                "{event:?}"
            );
            assert!(
                !second
                    .calls
                    .iter()
                    .any(|c| matches!(c, Call::Refund { .. })),
                "{event:?}: a refund asked for twice"
            );
        }
    }

    #[test]
    fn paid_while_held_confirms_and_says_so() {
        let (payment, appointment, decisions) =
            run(&[PaymentEvent::Completed { paid: true }], true);
        assert_eq!(
            (payment.status, appointment),
            (PaymentStatus::Paid, Confirmed)
        );
        assert_eq!(decisions[0].notice, Some(Notice::Confirmed));
        assert_eq!(decisions[0].payments, ["paid"]);
    }

    #[test]
    fn a_slow_method_keeps_the_time_until_it_settles() {
        let (payment, appointment, decisions) =
            run(&[PaymentEvent::Completed { paid: false }], true);
        assert_eq!(
            (payment.status, appointment),
            (PaymentStatus::Processing, PendingPayment)
        );
        assert_eq!(decisions[0].notice, None);
        let (_, appointment, decisions) = run(
            &[
                PaymentEvent::Completed { paid: false },
                PaymentEvent::AsyncFailed,
            ],
            true,
        );
        assert_eq!(appointment, Expired);
        assert_eq!(decisions[1].notice, Some(Notice::Failed));
        assert_eq!(decisions[1].payments, ["failed"]);
    }

    #[test]
    fn expiry_lets_the_time_go_and_a_late_payment_takes_it_back_while_it_is_free() {
        let (_, appointment, decisions) = run(&[PaymentEvent::Expired], true);
        assert_eq!(appointment, Expired);
        assert_eq!(decisions[0].notice, Some(Notice::Failed));
        let (payment, appointment, decisions) = run(
            &[
                PaymentEvent::Expired,
                PaymentEvent::Completed { paid: true },
            ],
            true,
        );
        assert_eq!(
            (payment.status, appointment),
            (PaymentStatus::Paid, Confirmed)
        );
        assert_eq!(decisions[1].notice, Some(Notice::Confirmed));
        assert_eq!(decisions[1].payments, ["late_paid"]);
        assert!(decisions[1].calls.is_empty());
    }

    #[test]
    fn a_late_payment_for_a_time_someone_took_is_refunded_exactly_once() {
        let late = [
            PaymentEvent::HoldGivenUp,
            PaymentEvent::Completed { paid: true },
            PaymentEvent::AsyncSucceeded,
            PaymentEvent::Completed { paid: true },
        ];
        let (payment, appointment, decisions) = run(&late, false);
        assert_eq!(decisions[0].calls, [Call::ExpireSession]);
        assert_eq!(appointment, Cancelled);
        assert_eq!(decisions[1].notice, Some(Notice::LateRefund));
        let refunds: Vec<&Call> = decisions
            .iter()
            .flat_map(|d| &d.calls)
            .filter(|c| matches!(c, Call::Refund { .. }))
            .collect();
        assert_eq!(
            refunds,
            [&Call::Refund {
                amount: AMOUNT,
                attempt: 1
            }]
        );
        assert_eq!(payment.refund_requested, AMOUNT);
        // Stripe's word that it went through: the appointment says so, and the customer hears it.
        let d = decide(
            &payment,
            appointment,
            false,
            &PaymentEvent::Refund {
                status: RefundStatus::Succeeded,
                ours: true,
                attempt: None,
            },
        );
        assert_eq!(d.appointment, Some(Refunded));
        assert_eq!(d.notice, Some(Notice::Refunded));
        let again = decide(
            &d.payment,
            Refunded,
            false,
            &PaymentEvent::ChargeRefunded {
                total: AMOUNT,
                full: true,
            },
        );
        assert_eq!((again.appointment, again.notice), (None, None));
    }

    #[test]
    fn giving_up_expires_the_session_and_only_while_unpaid() {
        let (_, appointment, decisions) = run(&[PaymentEvent::HoldGivenUp], true);
        assert_eq!(appointment, Cancelled);
        assert_eq!(decisions[0].calls, [Call::ExpireSession]);
        assert_eq!(
            decisions[0].notice, None,
            "the conversation says what comes next"
        );
        let (_, appointment, decisions) = run(
            &[
                PaymentEvent::Completed { paid: true },
                PaymentEvent::HoldGivenUp,
            ],
            true,
        );
        assert_eq!(appointment, Confirmed);
        assert!(decisions[1].calls.is_empty());
    }

    #[test]
    fn at_expiry_stripe_is_asked_about_open_and_settling_sessions_only() {
        let (_, _, decisions) = run(&[PaymentEvent::CheckDue], true);
        assert_eq!(decisions[0].calls, [Call::ExpireSession]);
        let (_, _, decisions) = run(
            &[
                PaymentEvent::Completed { paid: false },
                PaymentEvent::CheckDue,
            ],
            true,
        );
        assert_eq!(decisions[1].calls, [Call::RetrieveSession]);
        for settled in [
            PaymentEvent::Expired,
            PaymentEvent::Completed { paid: true },
        ] {
            let (_, _, decisions) = run(&[settled, PaymentEvent::CheckDue], true);
            assert!(decisions[1].calls.is_empty());
        }
    }

    #[test]
    fn cancelling_asks_for_the_refund_the_policy_gives_and_stripe_settles_it() {
        let (payment, _, _) = run(&[PaymentEvent::Completed { paid: true }], true);
        let d = decide(
            &payment,
            Cancelled,
            true,
            &PaymentEvent::RefundAsked { amount: AMOUNT },
        );
        assert_eq!(
            d.calls,
            [Call::Refund {
                amount: AMOUNT,
                attempt: 1
            }]
        );
        assert_eq!(d.payment.refund, Some(RefundStatus::Pending));
        assert_eq!(
            (d.appointment, d.notice),
            (None, None),
            "refunded only when Stripe says so"
        );
        let asked = d.payment;
        // Stripe's two ways of saying it went through, in either order: one change, one message.
        let by_charge = PaymentEvent::ChargeRefunded {
            total: AMOUNT,
            full: true,
        };
        let by_refund = PaymentEvent::Refund {
            status: RefundStatus::Succeeded,
            ours: true,
            attempt: None,
        };
        for (first, second) in [(&by_charge, &by_refund), (&by_refund, &by_charge)] {
            let one = decide(&asked, Cancelled, true, first);
            assert_eq!(
                (one.appointment, one.notice),
                (Some(Refunded), Some(Notice::Refunded))
            );
            let two = decide(&one.payment, Refunded, true, second);
            assert_eq!((two.appointment, two.notice), (None, None));
            assert_eq!(two.payment.refund, Some(RefundStatus::Succeeded));
        }
        // Nothing was paid: nothing to give back.
        let unpaid = decide(
            &Payment::requested(AMOUNT),
            Cancelled,
            true,
            &PaymentEvent::RefundAsked { amount: AMOUNT },
        );
        assert!(unpaid.calls.is_empty());
    }

    #[test]
    fn a_failed_refund_stays_visible_and_is_asked_for_again_a_few_times() {
        let (paid, _, _) = run(&[PaymentEvent::Completed { paid: true }], true);
        let mut payment = decide(
            &paid,
            Cancelled,
            true,
            &PaymentEvent::RefundAsked { amount: AMOUNT },
        )
        .payment;
        let failed = |attempt| PaymentEvent::Refund {
            status: RefundStatus::Failed,
            ours: true,
            attempt: Some(attempt),
        };
        let d = decide(&payment, Cancelled, true, &failed(1));
        assert_eq!(d.payment.refund, Some(RefundStatus::Failed));
        assert_eq!(d.refunds, ["failed"]);
        assert_eq!(
            d.calls,
            [Call::Refund {
                amount: AMOUNT,
                attempt: 2
            }]
        );
        // The first failure again (Stripe's webhook after the call's answer): nothing more.
        let again = decide(&d.payment, Cancelled, true, &failed(1));
        assert!(again.calls.is_empty() && again.refunds.is_empty());
        // Each failure of the latest attempt is news, until the attempts are spent.
        payment = d.payment;
        for attempt in 2..=REFUND_ATTEMPTS {
            let d = decide(&payment, Cancelled, true, &failed(attempt));
            let expected: Vec<Call> = (attempt < REFUND_ATTEMPTS)
                .then_some(Call::Refund {
                    amount: AMOUNT,
                    attempt: attempt + 1,
                })
                .into_iter()
                .collect();
            assert_eq!(d.calls, expected, "attempt {attempt}");
            assert_eq!(d.refunds[0], "failed", "attempt {attempt}");
            payment = d.payment;
        }
        assert_eq!(payment.refund_attempts, REFUND_ATTEMPTS + 1, "given up");
        for attempt in 1..=REFUND_ATTEMPTS {
            let late = decide(&payment, Cancelled, true, &failed(attempt));
            assert!(
                late.calls.is_empty() && late.refunds.is_empty(),
                "attempt {attempt}"
            );
        }
        // A later attempt that went through after all: refunded.
        let d = decide(
            &payment,
            Cancelled,
            true,
            &PaymentEvent::Refund {
                status: RefundStatus::Succeeded,
                ours: true,
                attempt: Some(REFUND_ATTEMPTS),
            },
        );
        assert_eq!(
            (d.appointment, d.notice),
            (Some(Refunded), Some(Notice::Refunded))
        );
    }

    #[test]
    fn a_refund_by_the_salon_cancels_when_full_and_is_only_recorded_when_partial() {
        let (paid, _, _) = run(&[PaymentEvent::Completed { paid: true }], true);
        let partial = decide(
            &paid,
            Confirmed,
            true,
            &PaymentEvent::ChargeRefunded {
                total: 500,
                full: false,
            },
        );
        assert_eq!((partial.appointment, partial.notice), (None, None));
        assert_eq!(partial.payment.refunded, 500);
        assert_eq!(partial.refunds, ["partial"]);
        let full = decide(
            &partial.payment,
            Confirmed,
            true,
            &PaymentEvent::ChargeRefunded {
                total: AMOUNT,
                full: true,
            },
        );
        assert_eq!(full.appointment, Some(Refunded));
        assert_eq!(full.notice, Some(Notice::CancelledBySalon));
        assert_eq!(full.refunds, ["by_salon"]);
    }

    #[test]
    fn a_dispute_flags_the_deposit_once() {
        let (payment, appointment, decisions) = run(
            &[
                PaymentEvent::Completed { paid: true },
                PaymentEvent::Disputed,
                PaymentEvent::Disputed,
            ],
            true,
        );
        assert!(payment.disputed);
        assert_eq!(appointment, Confirmed);
        assert_eq!(decisions[1].payments, ["disputed"]);
        assert!(decisions[2].payments.is_empty());
    }

    #[test]
    fn the_link_is_sent_while_the_time_is_held_only() {
        let requested = Payment::requested(AMOUNT);
        let d = decide(
            &requested,
            PendingPayment,
            true,
            &PaymentEvent::SessionCreated,
        );
        assert_eq!(
            (d.payment.status, d.notice),
            (PaymentStatus::Open, Some(Notice::Link))
        );
        let d = decide(&requested, Cancelled, true, &PaymentEvent::SessionCreated);
        assert_eq!(
            d.notice, None,
            "given up meanwhile: the session is expired next"
        );
    }

    #[test]
    fn statuses_read_back_their_names() {
        for s in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(s.as_str()), Some(s));
        }
        for s in RefundStatus::ALL {
            assert_eq!(RefundStatus::parse(s.as_str()), Some(s));
        }
    }
}
