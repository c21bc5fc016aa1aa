//! What a hedged call that succeeded returns: the value, and how it won.

use std::time::Duration;

/// The answer of a hedged call that succeeded, and how it was won.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
///
/// let won = persevere::hedge_with_attempt(|attempt| async move {
///     let ms = if attempt == 1 { 500 } else { 2 };
///     tokio::time::sleep(Duration::from_millis(ms)).await;
///     Ok::<_, ()>(attempt)
/// })
/// .delay(Duration::from_millis(10))
/// .await
/// .unwrap();
/// assert!(won.hedged());
/// assert_eq!((won.attempts(), won.winner(), *won.value()), (2, 2, 2));
/// assert_eq!(won.elapsed(), Duration::from_millis(12));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hedged<T> {
    pub(crate) value: T,
    pub(crate) attempts: u32,
    pub(crate) winner: u32,
    pub(crate) elapsed: Duration,
}

impl<T> Hedged<T> {
    /// The winning attempt's value.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let won = persevere::hedge(|| async { Ok::<_, ()>("hi") }).await.unwrap();
    /// assert_eq!(*won.value(), "hi");
    /// # }
    /// ```
    pub fn value(&self) -> &T {
        &self.value
    }

    /// Takes the winning attempt's value.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let won = persevere::hedge(|| async { Ok::<_, ()>(String::from("hi")) }).await.unwrap();
    /// assert_eq!(won.into_inner(), "hi");
    /// # }
    /// ```
    pub fn into_inner(self) -> T {
        self.value
    }

    /// How many attempts were started, the first included.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let won = persevere::hedge(|| async { Ok::<_, ()>(()) }).await.unwrap();
    /// assert_eq!(won.attempts(), 1);
    /// # }
    /// ```
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The number of the attempt whose answer won, starting at 1.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let won = persevere::hedge_with_attempt(|n| async move {
    ///     if n == 1 { Err("reset") } else { Ok(()) }
    /// })
    /// .await
    /// .unwrap();
    /// assert_eq!(won.winner(), 2);
    /// # }
    /// ```
    pub fn winner(&self) -> u32 {
        self.winner
    }

    /// True if more than one attempt was started.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let won = persevere::hedge(|| async { Ok::<_, ()>(()) }).await.unwrap();
    /// assert!(!won.hedged());
    /// # }
    /// ```
    pub fn hedged(&self) -> bool {
        self.attempts > 1
    }

    /// Time from the start of the first attempt to the winning answer; zero
    /// when the first attempt answered the first time it was polled (the call
    /// then reads no clock).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let won = persevere::hedge(|| async { Ok::<_, ()>(()) }).await.unwrap();
    /// assert_eq!(won.elapsed(), Duration::ZERO);
    /// # }
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}
