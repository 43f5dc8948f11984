//! Files attached to a comment (Gitea's comment assets, docs/gitea.md,
//! "Comment attachments"): the list of a comment's attachments, and an
//! upload as `multipart/form-data` with the file in the field `attachment`.

use reqwest::{Method, header};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{GiteaClient, GiteaError};

/// The largest file the bridge uploads (bytes): a screenshot is a few
/// hundred KiB; anything this big is not one worth showing on a PR.
pub const MAX_ASSET_BYTES: u64 = 5 * 1024 * 1024;

/// An attachment as Gitea describes it (`Attachment` in its API).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Attachment {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub size: i64,
    /// Where a browser fetches it; what a comment links or shows inline.
    pub browser_download_url: String,
}

/// A `multipart/form-data` body with one file part, and its boundary. The
/// boundary is derived from the content, so it cannot occur in it (short of
/// a SHA-256 collision).
fn multipart(field: &str, file_name: &str, content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("ccci-{}", hex::encode(&Sha256::digest(bytes)[..16]));
    // Names come from the naming rules; quotes and line breaks would break
    // the header all the same, so they never pass.
    let safe = |s: &str| s.replace(['"', '\r', '\n', '\\'], "_");
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {content_type}\r\n\r\n",
        safe(field),
        safe(file_name)
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (boundary, body)
}

impl GiteaClient {
    /// `GET /repos/{o}/{r}/issues/comments/{id}/assets`.
    pub async fn comment_assets(
        &self,
        repo: &str,
        comment: u64,
    ) -> Result<Vec<Attachment>, GiteaError> {
        let ep = "comment_assets";
        let path = format!("/repos/{repo}/issues/comments/{comment}/assets");
        let resp = self.send(ep, Method::GET, &path, &[], None).await?;
        Self::json(ep, resp).await
    }

    /// `POST /repos/{o}/{r}/issues/comments/{id}/assets?name=<name>`, the
    /// file in the form field `attachment`. Not idempotent: each call adds
    /// an attachment, so a caller whose answer was lost looks for it by name
    /// before uploading again.
    pub async fn upload_comment_asset(
        &self,
        repo: &str,
        comment: u64,
        name: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<Attachment, GiteaError> {
        let ep = "upload_comment_asset";
        let path = format!("/repos/{repo}/issues/comments/{comment}/assets");
        let (boundary, body) = multipart("attachment", name, content_type, bytes);
        let req = self
            .request(Method::POST, &path)
            .query(&[("name", name)])
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        let resp = self.finish(ep, req).await?;
        Self::json(ep, resp).await
    }
}

#[cfg(test)]
mod tests {
    use super::multipart;

    #[test]
    fn the_multipart_body_has_one_file_part_closed_by_its_boundary() {
        let (boundary, body) = multipart("attachment", "screenshot.png", "image/png", b"\x89PNG..");
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"screenshot.png\"\r\nContent-Type: image/png\r\n\r\n")));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
        assert!(body.windows(6).any(|w| w == b"\x89PNG.."));
    }

    #[test]
    fn a_hostile_file_name_cannot_break_the_part_header() {
        let (_, body) = multipart("attachment", "a\"\r\nX-Evil: 1.png", "image/png", b"x");
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("\r\nX-Evil"));
        assert!(text.contains("filename=\"a___X-Evil: 1.png\""));
    }
}
