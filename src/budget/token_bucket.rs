//! The AWS SDKs' retry quota: a bucket of tokens that retries spend and
//! successes refill.

use super::RetryBudget;
use crate::classify::RetryKind;
use std::sync::atomic::{AtomicU32, Ordering};

/// A token bucket with the AWS SDKs' "standard" retry-mode semantics.
///
/// The bucket starts full. A retry costs [`throttled_cost`](Self::with_throttled_cost)
/// tokens after a [`Throttled`](RetryKind::Throttled) error,
/// [`timeout_cost`](Self::with_timeout_cost) after a [`Timeout`](RetryKind::Timeout)
/// and [`retry_cost`](Self::with_retry_cost) after any other; when the bucket
/// cannot pay, the call stops with
/// [`BudgetExhausted`](crate::StopReason::BudgetExhausted). A call that
/// succeeds at its first attempt adds [`success_reward`](Self::with_success_reward)
/// token; a call that succeeds after retrying gives back what its latest
/// retry cost, as the AWS SDKs do ([`Refund::LastRetry`]), or all that its
/// retries cost with [`Refund::AllRetries`]. The bucket never holds more than
/// its capacity.
///
/// Withdrawing and refilling are each one atomic compare-and-swap loop; a
/// success with a full bucket is one atomic load.
///
/// # Default
///
/// The 2026 AWS values ("retry 2.1"), [`TokenBucket::new`]:
///
/// | setting | value |
/// |---|---|
/// | capacity | 500 |
/// | retry after throttling | 5 |
/// | retry after a timeout | 14 |
/// | any other retry | 14 |
/// | success at the first attempt | +1 |
/// | success after retrying | + the latest retry's cost ([`Refund::LastRetry`]) |
///
/// [`TokenBucket::legacy`] has the values from before 2026: 5 per retry and
/// 10 after a timeout.
///
/// Source: AWS SDKs and Tools reference guide, "Retry behavior"
/// (standard mode, `RETRY_COST`, `RETRY_TIMEOUT_COST`, `NO_RETRY_INCREMENT`);
/// botocore's `RetryQuotaChecker` and smithy-rs's standard retry strategy.
/// Tested against smithy-kotlin's standard-mode integration cases, legacy
/// and 2.1 (`tests/conformance_aws.rs`).
///
/// # Examples
///
/// ```
/// use persevere::{RetryKind, budget::{RetryBudget, TokenBucket}};
///
/// let bucket = TokenBucket::new();
/// assert_eq!(bucket.try_withdraw(RetryKind::Transient), Some(14));
/// assert_eq!(bucket.try_withdraw(RetryKind::Throttled), Some(5));
/// assert_eq!(bucket.available(), 481);
/// bucket.on_success(true, 19, 5); // a retried call succeeded: refund the latest retry
/// assert_eq!(bucket.available(), 486);
/// ```
#[derive(Debug)]
pub struct TokenBucket {
    capacity: u32,
    retry_cost: u32,
    throttled_cost: u32,
    timeout_cost: u32,
    success_reward: u32,
    refund: Refund,
    available: AtomicU32,
}

/// What a call that succeeds after retrying gives back to a [`TokenBucket`].
///
/// # Examples
///
/// ```
/// use persevere::{RetryKind, budget::{Refund, RetryBudget, TokenBucket}};
///
/// let bucket = TokenBucket::new().with_refund(Refund::AllRetries);
/// let first = bucket.try_withdraw(RetryKind::Transient).unwrap();
/// let second = bucket.try_withdraw(RetryKind::Transient).unwrap();
/// bucket.on_success(true, first + second, second);
/// assert_eq!(bucket.available(), 500);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Refund {
    /// The cost of the call's latest retry, as the AWS SDKs do (botocore
    /// releases "whatever quota was associated with the last acquisition";
    /// smithy-rs and smithy-kotlin keep one permit per call, replaced at each
    /// retry). The default.
    #[default]
    LastRetry,
    /// Everything the call's retries cost: a call that ends well leaves the
    /// bucket as it found it. Gentler than the AWS SDKs after a call that
    /// needed several retries.
    AllRetries,
}

impl TokenBucket {
    /// A full bucket with the 2026 AWS values listed above.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::TokenBucket;
    ///
    /// assert_eq!(TokenBucket::new().available(), 500);
    /// ```
    pub const fn new() -> Self {
        TokenBucket {
            capacity: 500,
            retry_cost: 14,
            throttled_cost: 5,
            timeout_cost: 14,
            success_reward: 1,
            refund: Refund::LastRetry,
            available: AtomicU32::new(500),
        }
    }

    /// A full bucket with the AWS values from before 2026: capacity 500, 5 per
    /// retry, 10 per retry after a timeout, +1 per first-attempt success.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{RetryKind, budget::{RetryBudget, TokenBucket}};
    ///
    /// let bucket = TokenBucket::legacy();
    /// assert_eq!(bucket.try_withdraw(RetryKind::Transient), Some(5));
    /// assert_eq!(bucket.try_withdraw(RetryKind::Timeout), Some(10));
    /// ```
    pub const fn legacy() -> Self {
        TokenBucket::new()
            .with_retry_cost(5)
            .with_throttled_cost(5)
            .with_timeout_cost(10)
    }

    /// Sets the capacity, and fills the bucket to it.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::TokenBucket;
    ///
    /// assert_eq!(TokenBucket::new().with_capacity(50).available(), 50);
    /// ```
    pub const fn with_capacity(mut self, capacity: u32) -> Self {
        self.capacity = capacity;
        self.available = AtomicU32::new(capacity);
        self
    }

    /// Sets what a retry costs after a transient error.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{RetryKind, budget::{RetryBudget, TokenBucket}};
    ///
    /// let bucket = TokenBucket::new().with_retry_cost(1);
    /// assert_eq!(bucket.try_withdraw(RetryKind::Transient), Some(1));
    /// ```
    pub const fn with_retry_cost(mut self, cost: u32) -> Self {
        self.retry_cost = cost;
        self
    }

    /// Sets what a retry costs after a throttling error.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{RetryKind, budget::{RetryBudget, TokenBucket}};
    ///
    /// let bucket = TokenBucket::new().with_throttled_cost(2);
    /// assert_eq!(bucket.try_withdraw(RetryKind::Throttled), Some(2));
    /// ```
    pub const fn with_throttled_cost(mut self, cost: u32) -> Self {
        self.throttled_cost = cost;
        self
    }

    /// Sets what a retry costs after a timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{RetryKind, budget::{RetryBudget, TokenBucket}};
    ///
    /// let bucket = TokenBucket::new().with_timeout_cost(20);
    /// assert_eq!(bucket.try_withdraw(RetryKind::Timeout), Some(20));
    /// ```
    pub const fn with_timeout_cost(mut self, cost: u32) -> Self {
        self.timeout_cost = cost;
        self
    }

    /// Sets how many tokens a call that succeeds at its first attempt adds.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{RetryKind, budget::{RetryBudget, TokenBucket}};
    ///
    /// let bucket = TokenBucket::new().with_success_reward(3);
    /// bucket.try_withdraw(RetryKind::Transient);
    /// bucket.on_success(false, 0, 0);
    /// assert_eq!(bucket.available(), 489);
    /// ```
    pub const fn with_success_reward(mut self, reward: u32) -> Self {
        self.success_reward = reward;
        self
    }

    /// Sets what a call that succeeds after retrying gives back: the latest
    /// retry's cost (the default, as the AWS SDKs) or all its retries cost.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{RetryKind, budget::{Refund, RetryBudget, TokenBucket}};
    ///
    /// let bucket = TokenBucket::legacy().with_refund(Refund::AllRetries);
    /// bucket.try_withdraw(RetryKind::Transient);
    /// bucket.try_withdraw(RetryKind::Timeout);
    /// bucket.on_success(true, 15, 10);
    /// assert_eq!(bucket.available(), 500);
    /// assert_eq!(bucket.refund(), Refund::AllRetries);
    /// ```
    pub const fn with_refund(mut self, refund: Refund) -> Self {
        self.refund = refund;
        self
    }

    /// What a call that succeeds after retrying gives back.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::{Refund, TokenBucket};
    ///
    /// assert_eq!(TokenBucket::new().refund(), Refund::LastRetry);
    /// ```
    pub const fn refund(&self) -> Refund {
        self.refund
    }

    /// The tokens in the bucket now.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::TokenBucket;
    ///
    /// assert_eq!(TokenBucket::legacy().available(), 500);
    /// ```
    pub fn available(&self) -> u32 {
        self.available.load(Ordering::Relaxed)
    }

    /// The most tokens the bucket holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::TokenBucket;
    ///
    /// assert_eq!(TokenBucket::new().capacity(), 500);
    /// ```
    pub const fn capacity(&self) -> u32 {
        self.capacity
    }

    const fn cost(&self, kind: RetryKind) -> u32 {
        match kind {
            RetryKind::Throttled => self.throttled_cost,
            RetryKind::Timeout => self.timeout_cost,
            RetryKind::Transient => self.retry_cost,
        }
    }

    fn deposit(&self, tokens: u32) {
        if tokens == 0 || self.available() >= self.capacity {
            return;
        }
        let capacity = self.capacity;
        // The closure always returns `Some`, so this cannot fail.
        let _ = self
            .available
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_add(tokens).min(capacity))
            });
    }
}

impl Default for TokenBucket {
    fn default() -> Self {
        TokenBucket::new()
    }
}

impl RetryBudget for TokenBucket {
    #[inline]
    fn try_withdraw(&self, kind: RetryKind) -> Option<u32> {
        let cost = self.cost(kind);
        self.available
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                n.checked_sub(cost)
            })
            .ok()
            .map(|_| cost)
    }

    #[inline]
    fn on_success(&self, retried: bool, taken: u32, last: u32) {
        self.deposit(match (retried, self.refund) {
            (false, _) => self.success_reward,
            (true, Refund::LastRetry) => last,
            (true, Refund::AllRetries) => taken,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_by_kind_and_refusal() {
        let bucket = TokenBucket::new().with_capacity(30);
        assert_eq!(bucket.try_withdraw(RetryKind::Timeout), Some(14));
        assert_eq!(bucket.try_withdraw(RetryKind::Transient), Some(14));
        assert_eq!(bucket.available(), 2);
        assert_eq!(bucket.try_withdraw(RetryKind::Transient), None);
        assert_eq!(bucket.try_withdraw(RetryKind::Throttled), None);
        assert_eq!(bucket.available(), 2);
    }

    #[test]
    fn legacy_costs() {
        let bucket = TokenBucket::legacy();
        assert_eq!(bucket.try_withdraw(RetryKind::Throttled), Some(5));
        assert_eq!(bucket.try_withdraw(RetryKind::Transient), Some(5));
        assert_eq!(bucket.try_withdraw(RetryKind::Timeout), Some(10));
        assert_eq!(bucket.available(), 480);
    }

    #[test]
    fn successes_refill_up_to_capacity() {
        let bucket = TokenBucket::new();
        bucket.on_success(false, 0, 0);
        assert_eq!(bucket.available(), 500);
        bucket.try_withdraw(RetryKind::Transient);
        bucket.try_withdraw(RetryKind::Transient);
        assert_eq!(bucket.available(), 472);
        bucket.on_success(false, 0, 0);
        assert_eq!(bucket.available(), 473);
        bucket.on_success(true, 28, 14);
        assert_eq!(bucket.available(), 487);
        bucket.on_success(true, 2000, 1000);
        assert_eq!(bucket.available(), 500);
    }

    #[test]
    fn refund_rules() {
        let last = TokenBucket::new();
        let all = TokenBucket::new().with_refund(Refund::AllRetries);
        for bucket in [&last, &all] {
            assert_eq!(bucket.try_withdraw(RetryKind::Transient), Some(14));
            assert_eq!(bucket.try_withdraw(RetryKind::Throttled), Some(5));
            bucket.on_success(true, 19, 5);
        }
        assert_eq!(last.available(), 486);
        assert_eq!(all.available(), 500);
    }

    #[test]
    fn extreme_values_do_not_panic() {
        let bucket = TokenBucket::new()
            .with_capacity(u32::MAX)
            .with_retry_cost(u32::MAX);
        assert_eq!(bucket.try_withdraw(RetryKind::Transient), Some(u32::MAX));
        assert_eq!(bucket.try_withdraw(RetryKind::Transient), None);
        bucket.on_success(true, u32::MAX, u32::MAX);
        bucket.on_success(true, u32::MAX, 0);
        assert_eq!(bucket.available(), u32::MAX);

        let empty = TokenBucket::new().with_capacity(0);
        assert_eq!(empty.try_withdraw(RetryKind::Throttled), None);
        empty.on_success(false, 0, 0);
        assert_eq!(empty.available(), 0);
        let free = TokenBucket::new().with_capacity(0).with_retry_cost(0);
        assert_eq!(free.try_withdraw(RetryKind::Transient), Some(0));
    }
}
