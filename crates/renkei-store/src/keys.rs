//! Secret key files: created once with random bytes and mode 0600, then read
//! back at every start. A key file that exists but is malformed is an error,
//! never silently replaced (replacing a signing key would orphan every signed
//! tree head, replacing a token key would unlink every person).

use std::io::Write;
use std::path::Path;

use rand::RngCore;

use crate::{Error, Result};

/// Reads the `LEN`-byte secret at `path` (hex text), creating it with fresh
/// random bytes and mode 0600 if it does not exist. Returns whether it was
/// created.
pub fn load_or_create_secret<const LEN: usize>(path: &Path) -> Result<([u8; LEN], bool)> {
    let io_err = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            check_private(path)?;
            let bytes = hex::decode(text.trim()).map_err(|e| Error::InvalidKey {
                path: path.to_owned(),
                reason: format!("not hex: {e}"),
            })?;
            let key: [u8; LEN] = bytes.try_into().map_err(|b: Vec<u8>| Error::InvalidKey {
                path: path.to_owned(),
                reason: format!("expected {LEN} bytes, found {}", b.len()),
            })?;
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                crate::private::create_dir(dir)?;
            }
            let mut key = [0u8; LEN];
            rand::rngs::OsRng.fill_bytes(&mut key);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(path).map_err(io_err)?;
            file.write_all(hex::encode(key).as_bytes())
                .and_then(|()| file.write_all(b"\n"))
                .and_then(|()| file.sync_all())
                .map_err(io_err)?;
            Ok((key, true))
        }
        Err(e) => Err(io_err(e)),
    }
}

/// Refuses a key file that others can read: a secret that leaked is not a
/// secret, and the operator must know.
fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::InvalidKey {
                path: path.to_owned(),
                reason: format!("mode {mode:o} lets others read it; expected 600"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_created_private_then_read_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("keys/k.hex");
        let (a, created) = load_or_create_secret::<32>(&path).expect("created");
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (b, created) = load_or_create_secret::<32>(&path).expect("read back");
        assert!(!created);
        assert_eq!(a, b);
    }

    #[test]
    fn malformed_secret_is_refused_not_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("k.hex");
        load_or_create_secret::<16>(&path).expect("created");
        let err = load_or_create_secret::<32>(&path).expect_err("wrong length");
        assert!(
            err.to_string().contains("expected 32 bytes, found 16"),
            "{err}"
        );
    }
}
