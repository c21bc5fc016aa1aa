//! What the proxy reads from an HTTP/1.1 request head (which S3 operation it
//! is, how long its body is) and from a response head (its status, how long
//! its body is).

/// The S3 requests a fault can be aimed at, recognised by method and query.
///
/// # Examples
///
/// ```
/// use s3_multipart::proxy::S3Request;
///
/// let create = S3Request::from_request_line("POST /b/k?uploads&x-id=CreateMultipartUpload HTTP/1.1");
/// assert_eq!(create, Some(S3Request::CreateMultipartUpload));
/// let part = S3Request::from_request_line("PUT /b/k?partNumber=3&uploadId=u HTTP/1.1");
/// assert_eq!(part, Some(S3Request::UploadPart(3)));
/// let complete = S3Request::from_request_line("POST /b/k?uploadId=u HTTP/1.1");
/// assert_eq!(complete, Some(S3Request::CompleteMultipartUpload));
/// assert_eq!(S3Request::from_request_line("GET /b/k HTTP/1.1"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Request {
    /// `POST /bucket/key?uploads`.
    CreateMultipartUpload,
    /// `PUT /bucket/key?partNumber=N&uploadId=…`, with its part number.
    UploadPart(i32),
    /// `POST /bucket/key?uploadId=…`.
    CompleteMultipartUpload,
}

impl S3Request {
    /// Which of these requests a request line (`METHOD TARGET HTTP/1.1`) is,
    /// if any.
    pub fn from_request_line(line: &str) -> Option<S3Request> {
        let mut words = line.split(' ');
        let method = words.next().unwrap_or_default();
        let target = words.next().unwrap_or_default();
        let (_, query) = target.split_once('?')?;
        let param = |name: &str| {
            query.split('&').find_map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (key == name).then_some(value)
            })
        };
        match method {
            "PUT" if param("uploadId").is_some() => {
                param("partNumber")?.parse().ok().map(S3Request::UploadPart)
            }
            "POST" if param("uploads").is_some() => Some(S3Request::CreateMultipartUpload),
            "POST" if param("uploadId").is_some() => Some(S3Request::CompleteMultipartUpload),
            _ => None,
        }
    }
}

/// The parts of a request head the proxy needs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Head {
    /// The request line, for the record of a lost response.
    pub(crate) request_line: String,
    pub(crate) request: Option<S3Request>,
    pub(crate) content_length: u64,
    pub(crate) chunked: bool,
}

impl Head {
    /// The part number, for an `UploadPart`.
    pub(crate) fn upload_part(&self) -> Option<i32> {
        match self.request {
            Some(S3Request::UploadPart(n)) => Some(n),
            _ => None,
        }
    }
}

pub(crate) fn parse_head(head: &[u8]) -> Head {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let (content_length, chunked) = body_framing(lines);
    Head {
        request: S3Request::from_request_line(&request_line),
        request_line,
        content_length,
        chunked,
    }
}

/// `Content-Length` (0 without one) and whether the body is chunked.
fn body_framing<'a>(header_lines: impl Iterator<Item = &'a str>) -> (u64, bool) {
    let mut content_length = 0;
    let mut chunked = false;
    for line in header_lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.trim().parse().unwrap_or(0);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    (content_length, chunked)
}

/// A response head's status code (0 if the status line is not HTTP) and its
/// `Content-Length` (0 without one).
pub(crate) fn parse_response_head(head: &[u8]) -> (u16, u64) {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .unwrap_or_default()
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let (content_length, _) = body_framing(lines);
    (status, content_length)
}

pub(crate) fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upload_part_heads() {
        let head = b"PUT /b/k?partNumber=12&uploadId=abc&x-id=UploadPart HTTP/1.1\r\nHost: x\r\ncontent-length: 42\r\n\r\n";
        let parsed = parse_head(head);
        assert_eq!(parsed.request, Some(S3Request::UploadPart(12)));
        assert_eq!(parsed.upload_part(), Some(12));
        assert_eq!((parsed.content_length, parsed.chunked), (42, false));
        let put_object = b"PUT /b/k HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let parsed = parse_head(put_object);
        assert_eq!(parsed.request, None);
        assert_eq!((parsed.content_length, parsed.chunked), (0, true));
    }

    #[test]
    fn tells_create_from_complete_and_from_other_posts() {
        let kind = S3Request::from_request_line;
        assert_eq!(
            kind("POST /b/k?uploads HTTP/1.1"),
            Some(S3Request::CreateMultipartUpload)
        );
        assert_eq!(
            kind("POST /b/k?uploads= HTTP/1.1"),
            Some(S3Request::CreateMultipartUpload)
        );
        assert_eq!(
            kind("POST /b/k?x-id=CompleteMultipartUpload&uploadId=u HTTP/1.1"),
            Some(S3Request::CompleteMultipartUpload)
        );
        // A name that only starts like one of the parameters.
        assert_eq!(kind("POST /b/k?uploadsx=1 HTTP/1.1"), None);
        assert_eq!(kind("POST /b/k?delete HTTP/1.1"), None);
        assert_eq!(kind("PUT /b/k?uploadId=u HTTP/1.1"), None);
        assert_eq!(kind("GET /b/k?uploadId=u HTTP/1.1"), None);
        assert_eq!(kind(""), None);
    }

    #[test]
    fn reads_a_response_head() {
        let head =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 311\r\n\r\n";
        assert_eq!(parse_response_head(head), (200, 311));
        assert_eq!(
            parse_response_head(b"HTTP/1.1 404 Not Found\r\n\r\n"),
            (404, 0)
        );
        assert_eq!(parse_response_head(b"garbage\r\n\r\n"), (0, 0));
    }
}
