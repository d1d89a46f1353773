//! Patch bodies: JSON merge patch (RFC 7386) and JSON patch (RFC 6902), by the `json-patch`
//! crate (Rust's counterpart of the evanphx/json-patch library kube-apiserver uses).
//!
//! Strategic merge patch is served as a JSON merge patch: the two agree except on lists
//! with merge keys (containers, ports, …), which a merge patch replaces whole.

use serde_json::Value;

/// Applies an RFC 7386 merge patch: objects merge key by key, `null` deletes, anything
/// else replaces.
// k8s.io/apiserver/pkg/endpoints/handlers/patch.go jsonPatcher (evanphx/json-patch MergePatch)
pub fn merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

/// Applies an RFC 6902 JSON patch (`add`, `remove`, `replace`, `move`, `copy`, `test`); on an
/// error `target` is left as it was.
// k8s.io/apiserver/pkg/endpoints/handlers/patch.go jsonPatcher (evanphx/json-patch DecodePatch, Apply)
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    let operations: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| format!("not a JSON patch: {e}"))?;
    json_patch::patch(target, &operations).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc7386() {
        // (target, patch, result): the RFC 7386 appendix examples.
        let rows = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": {"b": "c"}}), json!({"a": {"b": "d", "c": null}}), json!({"a": {"b": "d"}})),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (json!({}), json!({"a": {"bb": {"ccc": null}}}), json!({"a": {"bb": {}}})),
        ];
        for (mut target, patch, expected) in rows {
            merge_patch(&mut target, &patch);
            assert_eq!(target, expected);
        }
    }

    #[test]
    fn json_patch_follows_rfc6902() {
        let mut doc = json!({"metadata": {"labels": {"a": "b"}}, "list": [1, 2]});
        json_patch(
            &mut doc,
            &json!([
                {"op": "add", "path": "/metadata/labels/c~1d", "value": "e"},
                {"op": "replace", "path": "/metadata/labels/a", "value": "z"},
                {"op": "add", "path": "/list/-", "value": 3},
                {"op": "remove", "path": "/list/0"},
                {"op": "copy", "from": "/list/0", "path": "/first"},
                {"op": "move", "from": "/first", "path": "/moved"},
                {"op": "test", "path": "/moved", "value": 2}
            ]),
        )
        .unwrap();
        assert_eq!(doc, json!({"metadata": {"labels": {"a": "z", "c/d": "e"}}, "list": [2, 3], "moved": 2}));
        assert!(json_patch(&mut doc, &json!([{"op": "test", "path": "/moved", "value": 9}])).is_err());
        assert!(json_patch(&mut doc, &json!([{"op": "remove", "path": "/nope"}])).is_err());
        assert!(json_patch(&mut doc, &json!({"op": "add"})).is_err());
        let before = doc.clone();
        let half = json!([{"op": "add", "path": "/x", "value": 1}, {"op": "remove", "path": "/nope"}]);
        assert!(json_patch(&mut doc, &half).is_err());
        assert_eq!(doc, before, "a patch that fails leaves the object as it was");
    }
}
