//! Typed payloads (the `serde` feature): a job's payload as JSON.

use crate::job::NewJob;
use crate::worker::Delivery;
use serde::Serialize;
use serde::de::DeserializeOwned;

impl NewJob {
    /// A job due at once whose payload is `payload` as JSON.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere_durable::NewJob;
    ///
    /// #[derive(serde::Serialize)]
    /// struct Hook<'a> { url: &'a str }
    ///
    /// let job = NewJob::json("k", "webhook", &Hook { url: "http://127.0.0.1/" }).unwrap();
    /// assert_eq!(job.payload, br#"{"url":"http://127.0.0.1/"}"#);
    /// ```
    ///
    /// # Errors
    ///
    /// The serializer's error (a map with non-string keys, a failing
    /// `Serialize` impl).
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn json<T: Serialize + ?Sized>(
        key: impl Into<String>,
        kind: impl Into<String>,
        payload: &T,
    ) -> Result<Self, serde_json::Error> {
        Ok(NewJob::new(key, kind, serde_json::to_vec(payload)?))
    }
}

impl Delivery {
    /// The payload read as JSON.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere_durable::Delivery;
    ///
    /// #[derive(serde::Deserialize, Debug, PartialEq)]
    /// struct Hook { url: String }
    ///
    /// let d = Delivery {
    ///     key: "k".into(), kind: "webhook".into(), attempt: 1, round_attempt: 1,
    ///     payload: br#"{"url":"http://127.0.0.1/"}"#.to_vec(),
    /// };
    /// assert_eq!(d.json::<Hook>().unwrap(), Hook { url: "http://127.0.0.1/".into() });
    /// ```
    ///
    /// # Errors
    ///
    /// The payload is not JSON for a `T`. Retrying cannot help: classify it
    /// as terminal.
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.payload)
    }
}
