//! The file to upload: generated, hashed, and read one part at a time.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// One mebibyte.
pub const MIB: u64 = 1024 * 1024;

/// Writes `len` bytes of seeded pseudo-random (incompressible) data to
/// `path`, so that a byte out of place cannot go unnoticed.
///
/// # Errors
///
/// Any error creating or writing the file.
pub fn generate(path: &Path, len: u64, seed: u64) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = BufWriter::with_capacity(MIB as usize, File::create(path)?);
    let mut state = seed;
    let mut left = len;
    while left > 0 {
        let word = splitmix64(&mut state).to_le_bytes();
        let n = left.min(8) as usize;
        out.write_all(&word[..n])?;
        left -= n as u64;
    }
    out.flush()
}

/// SHA-256 of the file at `path`, as lowercase hex, and its length.
///
/// # Errors
///
/// Any error opening or reading the file.
pub fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; MIB as usize];
    let mut len = 0;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((hex(&hasher.finalize()), len))
}

/// Reads `len` bytes at `offset` from the file at `path`, off the async
/// runtime's threads.
///
/// # Errors
///
/// Any error opening or reading the file, including a file shorter than
/// `offset + len`.
pub async fn read_range(path: PathBuf, offset: u64, len: u64) -> io::Result<Bytes> {
    tokio::task::spawn_blocking(move || {
        let mut file = File::open(&path)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut buf = vec![0; len as usize];
        file.read_exact(&mut buf)?;
        Ok(Bytes::from(buf))
    })
    .await
    .map_err(io::Error::other)?
}

/// Lowercase hex of `bytes`.
///
/// # Examples
///
/// ```
/// assert_eq!(s3_multipart::source::hex(&[0x00, 0xab]), "00ab");
/// ```
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// splitmix64: a tiny seeded generator, good enough for test data and fault
/// decisions.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_are_seeded_and_sized() {
        let dir = std::env::temp_dir().join(format!("s3-multipart-src-{}", std::process::id()));
        let a = dir.join("a.bin");
        let b = dir.join("b.bin");
        generate(&a, 1_000_003, 7).unwrap();
        generate(&b, 1_000_003, 7).unwrap();
        let (ha, la) = sha256_file(&a).unwrap();
        assert_eq!((ha.clone(), la), sha256_file(&b).unwrap());
        assert_eq!(la, 1_000_003);
        generate(&b, 1_000_003, 8).unwrap();
        assert_ne!(ha, sha256_file(&b).unwrap().0);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
