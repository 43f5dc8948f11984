//! Reading a `multipart/form-data` body (RFC 7578) the way a server does:
//! the boundary from the `Content-Type` header, then each part's headers and
//! bytes. For the fake Gitea's upload endpoint; written from the format,
//! independent of the client's encoder.

/// One part: its form field name, file name (if any) and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub bytes: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

fn param(header: &str, key: &str) -> Option<String> {
    header.split(';').map(str::trim).find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(key)).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The parts of `body`, or why it is not multipart.
pub fn parse(content_type: &str, body: &[u8]) -> Result<Vec<Part>, String> {
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return Err(format!("not multipart/form-data: {content_type}"));
    }
    let boundary = param(content_type, "boundary").ok_or("no boundary")?;
    let delimiter = format!("--{boundary}").into_bytes();
    let mut at = find(body, &delimiter, 0).ok_or("no first boundary")? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Ok(parts);
        }
        at += 2; // CRLF after the boundary
        let head_end = find(body, b"\r\n\r\n", at).ok_or("part headers not ended")?;
        let head = String::from_utf8_lossy(&body[at..head_end]).into_owned();
        let start = head_end + 4;
        let mut end_marker = b"\r\n".to_vec();
        end_marker.extend_from_slice(&delimiter);
        let end = find(body, &end_marker, start).ok_or("part not closed")?;
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .ok_or("part without Content-Disposition")?;
        parts.push(Part {
            name: param(disposition, "name").ok_or("part without a name")?,
            filename: param(disposition, "filename"),
            bytes: body[start..end].to_vec(),
        });
        at = end + end_marker.len();
    }
}
