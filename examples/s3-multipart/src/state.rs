//! The state a second run needs to finish an upload: the upload id and the
//! parts already done, with their ETags.

use serde::{Deserialize, Serialize};
use std::io;
use std::path::Path;

/// One part the server has: its number and the ETag it answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedPart {
    /// The part number, from 1.
    pub part_number: i32,
    /// The ETag `UploadPart` returned, needed by `CompleteMultipartUpload`.
    pub etag: String,
}

/// A multipart upload in progress, saved so that a later run uploads only
/// the missing parts (the same contract as the PHP SDK's `MultipartUploader`
/// state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeState {
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub key: String,
    /// The id `CreateMultipartUpload` returned.
    pub upload_id: String,
    /// The size of every part but the last, in bytes.
    pub part_size: u64,
    /// The size of the whole source, in bytes.
    pub total_size: u64,
    /// SHA-256 of the source (hex), so a resume cannot mix in another file.
    pub source_sha256: String,
    /// The parts the server has, in part-number order.
    pub completed: Vec<CompletedPart>,
}

impl ResumeState {
    /// How many parts the upload has in all.
    ///
    /// # Examples
    ///
    /// ```
    /// # use s3_multipart::ResumeState;
    /// let state = ResumeState {
    ///     bucket: "b".into(), key: "k".into(), upload_id: "u".into(),
    ///     part_size: 5, total_size: 12, source_sha256: String::new(), completed: vec![],
    /// };
    /// assert_eq!(state.part_count(), 3);
    /// assert_eq!(state.part_range(3), (10, 2));
    /// ```
    pub fn part_count(&self) -> i32 {
        if self.total_size == 0 {
            1
        } else {
            self.total_size.div_ceil(self.part_size.max(1)) as i32
        }
    }

    /// The offset and length of part `part_number`.
    pub fn part_range(&self, part_number: i32) -> (u64, u64) {
        let offset = (part_number as u64 - 1) * self.part_size;
        (offset, self.part_size.min(self.total_size - offset))
    }

    /// The part numbers the server does not have yet, in order.
    pub fn missing_parts(&self) -> Vec<i32> {
        (1..=self.part_count())
            .filter(|n| !self.completed.iter().any(|p| p.part_number == *n))
            .collect()
    }

    /// Records a finished part, keeping the list in part-number order.
    pub fn record(&mut self, part_number: i32, etag: String) {
        self.completed.retain(|p| p.part_number != part_number);
        self.completed.push(CompletedPart { part_number, etag });
        self.completed.sort_by_key(|p| p.part_number);
    }

    /// Writes the state as JSON to `path` (through a temporary file and a
    /// rename, so a crash leaves the old state or the new one).
    ///
    /// # Errors
    ///
    /// Any error writing the file.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        std::fs::write(&tmp, json)?;
        std::fs::rename(tmp, path)
    }

    /// Reads a state saved by [`save`](Self::save).
    ///
    /// # Errors
    ///
    /// Any error reading the file, or JSON that is not a state.
    pub fn load(path: &Path) -> io::Result<Self> {
        let json = std::fs::read(path)?;
        serde_json::from_slice(&json).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ResumeState {
        ResumeState {
            bucket: "b".into(),
            key: "k".into(),
            upload_id: "u".into(),
            part_size: 5,
            total_size: 24,
            source_sha256: "00".into(),
            completed: vec![],
        }
    }

    #[test]
    fn missing_parts_and_ranges() {
        let mut s = state();
        assert_eq!(s.part_count(), 5);
        assert_eq!(s.part_range(5), (20, 4));
        s.record(4, "e4".into());
        s.record(1, "e1".into());
        s.record(4, "e4b".into());
        assert_eq!(s.missing_parts(), [2, 3, 5]);
        assert_eq!(
            s.completed
                .iter()
                .map(|p| p.part_number)
                .collect::<Vec<_>>(),
            [1, 4]
        );
        assert_eq!(s.completed[1].etag, "e4b");
    }

    #[test]
    fn saves_and_loads() {
        let path =
            std::env::temp_dir().join(format!("s3-multipart-state-{}.json", std::process::id()));
        let mut s = state();
        s.record(2, "\"etag\"".into());
        s.save(&path).unwrap();
        assert_eq!(ResumeState::load(&path).unwrap(), s);
        std::fs::remove_file(path).unwrap();
    }
}
