//! The suppliers a site trusts, and their keys.

use crate::key::PublicKey;
use std::collections::BTreeMap;

/// Supplier name → the public keys trusted to sign that supplier's
/// plugins. A key trusted for one supplier proves nothing about another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustList {
    suppliers: BTreeMap<String, Vec<PublicKey>>,
}

impl TrustList {
    pub fn new() -> TrustList {
        TrustList::default()
    }

    /// Trusts `key` to sign plugins of `supplier` (the name exactly as the
    /// plugins' manifests and `describe` give it).
    pub fn trust(&mut self, supplier: impl Into<String>, key: PublicKey) -> &mut TrustList {
        let keys = self.suppliers.entry(supplier.into()).or_default();
        if !keys.contains(&key) {
            keys.push(key);
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.suppliers.is_empty()
    }

    /// The keys trusted for `supplier` (none if it is not trusted).
    pub fn keys_for(&self, supplier: &str) -> &[PublicKey] {
        self.suppliers.get(supplier).map_or(&[], Vec::as_slice)
    }

    /// The suppliers for which `key` is trusted.
    pub fn suppliers_of(&self, key: &PublicKey) -> Vec<String> {
        self.suppliers
            .iter()
            .filter(|(_, keys)| keys.contains(key))
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// Every (supplier, key) pair, by supplier.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &PublicKey)> {
        self.suppliers
            .iter()
            .flat_map(|(s, keys)| keys.iter().map(move |k| (s.as_str(), k)))
    }
}
