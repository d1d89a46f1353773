//! Lists and their pagination: `limit` and `continue` as etcd pages over keys. A continue
//! token is the revision, namespace and name of the last item returned (hex-encoded), so later
//! pages show the current state (no consistent snapshot) and a token older than the watch
//! history is answered 410 Expired, as after a compaction.
// k8s.io/apiserver/pkg/storage/etcd3/store.go GetList

use super::*;

impl Store {
    /// GET on a collection: filtered, paged list at the current revision.
    pub fn list(
        &self,
        resource: &'static ResourceType,
        namespace: Option<&str>,
        query: &ListQuery,
    ) -> Result<Value, Status> {
        let start_after = match &query.continue_token {
            Some(token) => Some(self.decode_continue(token)?),
            None => None,
        };
        let mut items = Vec::new();
        let mut next_key: Option<&ObjectKey> = None;
        let mut remaining = 0usize;
        // etcd pages over keys: once the page is full, any later key in the range (matching
        // the selectors or not) means another page, which may come back empty.
        // k8s.io/apiserver/pkg/storage/etcd3/store.go GetList (hasMore)
        let mut more_keys = false;
        for (key, object) in self.range(resource, namespace) {
            if let Some((ns, name)) = &start_after
                && (key.namespace.as_str(), key.name.as_str()) <= (ns.as_str(), name.as_str())
            {
                continue;
            }
            let full = query.limit.is_some_and(|limit| limit > 0 && items.len() >= limit);
            if full {
                more_keys = true;
            }
            if !query.labels.matches(&labels_of(object)) || !query.fields.matches(object) {
                continue;
            }
            if full {
                remaining += 1;
                continue;
            }
            next_key = Some(key);
            items.push((**object).clone());
        }
        let mut metadata = json!({"resourceVersion": self.revision.to_string()});
        if more_keys && let Some(last) = next_key {
            metadata["continue"] = json!(encode_continue(self.revision, &last.namespace, &last.name));
            // k8s.io/apiserver/pkg/storage/etcd3/store.go GetList: only without a selector
            if query.labels.is_everything() && query.fields.is_everything() {
                metadata["remainingItemCount"] = json!(remaining);
            }
        }
        // Items of a typed list carry no kind or apiVersion (the list names them once).
        // k8s.io/apimachinery/pkg/runtime/serializer/versioning (typed lists encode items without TypeMeta)
        for item in &mut items {
            if let Some(item) = item.as_object_mut() {
                item.remove("kind");
                item.remove("apiVersion");
            }
        }
        Ok(json!({
            "kind": format!("{}List", resource.kind),
            "apiVersion": resource.api_version(),
            "metadata": metadata,
            "items": items,
        }))
    }

    pub(super) fn decode_continue(&self, token: &str) -> Result<(String, String), Status> {
        let bad = || Status::bad_request(format!("continue key is not valid: {token:?}"));
        let text = decode_hex(token).ok_or_else(bad)?;
        let mut parts = text.splitn(3, '\n');
        let revision: u64 = parts.next().and_then(|r| r.parse().ok()).ok_or_else(bad)?;
        let namespace = parts.next().ok_or_else(bad)?.to_string();
        let name = parts.next().ok_or_else(bad)?.to_string();
        if revision < self.oldest_servable {
            // k8s.io/apiserver/pkg/storage/etcd3/store.go (compacted continue token)
            return Err(Status::expired(
                "The provided continue parameter is too old to display a consistent list result. You can start a \
                 new list without the continue parameter, or use the continue token in this response to retrieve \
                 the remainder of the results. Continuing with the provided token results in an inconsistent list - \
                 objects that were created, modified, or deleted between the time the first chunk was returned and \
                 now may show up in the list.",
            ));
        }
        Ok((namespace, name))
    }
}

pub(super) fn encode_continue(revision: u64, namespace: &str, name: &str) -> String {
    format!("{revision}\n{namespace}\n{name}").bytes().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn decode_hex(token: &str) -> Option<String> {
    if !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| token.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let token = encode_continue(7, "ns", "a-b");
        assert_eq!(decode_hex(&token).unwrap(), "7\nns\na-b");
        assert!(decode_hex("zz").is_none());
    }
}
