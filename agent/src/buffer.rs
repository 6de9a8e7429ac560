//! The durable buffer of sealed extracts: written and flushed before any
//! upload, removed only after the coordinator's receipt. A damaged database
//! is set aside and a fresh one started (the coordinator still holds the
//! jobs as not done, so they are run again): a buffer fault costs time,
//! never data.

use gpes_canon::ContentHash;
use gpes_store::{Store, StoreError, StoreOptions, Tree};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One sealed extract waiting for its receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Buffered {
    pub job_id: String,
    pub extract: String,
    pub extract_hash: ContentHash,
}

#[derive(Debug, Clone)]
pub struct Buffer {
    store: Store,
    extracts: Tree,
}

impl Buffer {
    pub fn open(path: &Path) -> Result<Buffer, StoreError> {
        let (store, aside) = Store::open_or_set_aside(
            path,
            StoreOptions {
                cache_bytes: 8 << 20,
            },
        )?;
        if let Some(aside) = aside {
            tracing::error!(aside = %aside.display(), "the buffer was damaged and set aside; its jobs will run again");
        }
        let extracts = store.tree("extracts")?;
        Ok(Buffer { store, extracts })
    }

    /// Stores an extract and flushes it to disk before returning.
    pub async fn put(&self, b: &Buffered) -> Result<(), StoreError> {
        self.extracts.put_json(b.job_id.as_bytes(), b)?;
        self.store.flush_async().await
    }

    /// Drops an extract once its receipt has come back.
    pub async fn remove(&self, job_id: &str) -> Result<(), StoreError> {
        self.extracts.remove(job_id.as_bytes())?;
        self.store.flush_async().await
    }

    /// Everything still waiting for a receipt, in job order. Damaged
    /// records are set aside and reported, not returned.
    pub fn pending(&self) -> Result<Vec<Buffered>, StoreError> {
        let mut out = Vec::new();
        for (key, _) in self.extracts.scan_prefix(b"", |e| {
            tracing::error!(error = %e, "a buffered extract was damaged; its job will run again");
        })? {
            match self.extracts.get_json::<Buffered>(&key) {
                Ok(Some(b)) => out.push(b),
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "a buffered extract could not be read"),
            }
        }
        Ok(out)
    }

    pub fn contains(&self, job_id: &str) -> Result<bool, StoreError> {
        Ok(self.extracts.get(job_id.as_bytes())?.is_some())
    }
}
