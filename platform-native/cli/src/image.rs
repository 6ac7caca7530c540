//! Image files as the data URLs the web client sends.

use std::path::Path;

use crate::error::CliError;

/// The largest data URL sent: the backend closes a WebSocket on messages over 1 MiB, and the
/// frame around the image needs some room.
pub(crate) const MAX_DATA_URL_BYTES: usize = 1024 * 1024 - 4 * 1024;

/// The image's MIME type, from its file name's extension.
pub(crate) fn mime_type(path: &Path) -> Result<&'static str, CliError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    Ok(match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "svg" => "image/svg+xml",
        "avif" => "image/avif",
        other => {
            return Err(CliError::Invalid(format!(
                "cannot tell the image type of {} (extension {other:?}): use a .png, .jpg, \
                 .jpeg, .gif, .webp, .bmp, .svg or .avif file",
                path.display()
            )));
        }
    })
}

/// `data:<mime>;base64,<file contents>`.
pub(crate) fn data_url(path: &Path) -> Result<String, CliError> {
    let mime = mime_type(path)?;
    let bytes = std::fs::read(path).map_err(|source| CliError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    let mut url = format!("data:{mime};base64,");
    quickchat_core::encoding::b64_encode_into(&bytes, &mut url);
    if url.len() > MAX_DATA_URL_BYTES {
        return Err(CliError::Invalid(format!(
            "{} is too large to send: {} bytes as a data URL, the server accepts about {} \
             (1 MiB per WebSocket message)",
            path.display(),
            url.len(),
            MAX_DATA_URL_BYTES
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_follow_the_extension_in_any_case() {
        assert_eq!(mime_type(Path::new("a.PNG")).unwrap(), "image/png");
        assert_eq!(mime_type(Path::new("dir/b.jpeg")).unwrap(), "image/jpeg");
        assert_eq!(mime_type(Path::new("c.svg")).unwrap(), "image/svg+xml");
        assert!(mime_type(Path::new("d.txt")).is_err());
        assert!(mime_type(Path::new("noext")).is_err());
    }

    #[test]
    fn data_urls_hold_the_file_in_base64() {
        let dir = std::env::temp_dir().join(format!("qc-image-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pixel.gif");
        std::fs::write(&path, b"GIF89a").unwrap();
        assert_eq!(data_url(&path).unwrap(), "data:image/gif;base64,R0lGODlh");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
