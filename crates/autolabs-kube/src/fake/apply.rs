//! Server-side apply, approximated without managed fields.
//!
//! Real SSA tracks, per field manager, the fields it applied. This approximation keeps the
//! last configuration each manager applied to each object and computes the same result in
//! the common cases: fields the manager applied before and no longer applies are removed;
//! everything it applies is merged into the live object; fields set by anyone else (other
//! managers, defaulting, admission such as LimitRanger, controllers) stay. Lists whose items
//! all carry a `name` (containers, volumes, env, ports…) merge item by item like SSA's
//! associative lists; other lists are atomic and replaced. Conflicts between managers are
//! not detected (`force` changes nothing).
// sigs.k8s.io/structured-merge-diff/v4/merge/update.go Updater.Apply (the model approximated)

use serde_json::Value;

/// The object after `applied` is applied over `live` by a manager whose previous applied
/// configuration was `previous`.
pub fn merge_applied(live: &Value, previous: Option<&Value>, applied: &Value) -> Value {
    let mut merged = live.clone();
    if let Some(previous) = previous {
        remove_dropped(&mut merged, previous, applied);
    }
    merge_into(&mut merged, applied);
    merged
}

fn item_key(item: &Value) -> Option<&str> {
    item.get("name").and_then(Value::as_str)
}

/// A list SSA merges by key: every item is an object with a `name`.
fn is_keyed(items: &[Value]) -> bool {
    items.iter().all(|i| item_key(i).is_some())
}

/// Removes from `live` what `previous` held and `applied` no longer does.
fn remove_dropped(live: &mut Value, previous: &Value, applied: &Value) {
    match (live, previous) {
        (Value::Object(live), Value::Object(previous)) => {
            for (key, before) in previous {
                match applied.get(key) {
                    None => {
                        live.remove(key);
                    }
                    Some(now) => {
                        if let Some(field) = live.get_mut(key) {
                            remove_dropped(field, before, now);
                        }
                    }
                }
            }
        }
        (Value::Array(live), Value::Array(previous)) if is_keyed(live) && is_keyed(previous) => {
            let now: &[Value] = applied.as_array().map(Vec::as_slice).unwrap_or(&[]);
            if !is_keyed(now) {
                return;
            }
            for before in previous {
                let key = item_key(before);
                match now.iter().find(|i| item_key(i) == key) {
                    None => live.retain(|i| item_key(i) != key),
                    Some(item_now) => {
                        if let Some(item) = live.iter_mut().find(|i| item_key(i) == key) {
                            remove_dropped(item, before, item_now);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// Merges `applied` into `live`: maps field by field, keyed lists item by item (applied
/// order first, then items only the live object has), anything else replaced.
fn merge_into(live: &mut Value, applied: &Value) {
    match (live, applied) {
        (Value::Object(live), Value::Object(applied)) => {
            for (key, value) in applied {
                match live.get_mut(key) {
                    Some(field) => merge_into(field, value),
                    None => {
                        live.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(live), Value::Array(applied))
            if !applied.is_empty() && is_keyed(live) && is_keyed(applied) =>
        {
            let mut merged = Vec::with_capacity(applied.len().max(live.len()));
            for item in applied {
                match live.iter().position(|i| item_key(i) == item_key(item)) {
                    Some(at) => {
                        let mut existing = live.remove(at);
                        merge_into(&mut existing, item);
                        merged.push(existing);
                    }
                    None => merged.push(item.clone()),
                }
            }
            merged.append(live);
            *live = merged;
        }
        (live, applied) => *live = applied.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_set_by_others_survive_a_reapply() {
        // LimitRanger filled resources and an annotation at create; the same apply is a no-op.
        let applied = json!({"metadata": {"name": "p", "labels": {"a": "1"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
        let live = json!({"metadata": {"name": "p", "labels": {"a": "1"}, "annotations": {"kubernetes.io/limit-ranger": "x"}},
                          "spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "1"}}}]}});
        assert_eq!(merge_applied(&live, Some(&applied), &applied), live);
    }

    #[test]
    fn fields_the_manager_stops_applying_are_removed() {
        let before = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "c", "image": "i"}, {"name": "d", "image": "j"}]}});
        let now = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "c", "image": "i2"}]}});
        let live = json!({"metadata": {"labels": {"a": "1", "b": "2", "other": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}, {"name": "d", "image": "j"}]}});
        let merged = merge_applied(&live, Some(&before), &now);
        assert_eq!(merged["metadata"]["labels"], json!({"a": "1", "other": "x"}));
        assert_eq!(merged["spec"]["containers"], json!([{"name": "c", "image": "i2"}]));
    }

    #[test]
    fn atomic_lists_are_replaced() {
        let live = json!({"args": ["a", "b"]});
        assert_eq!(merge_applied(&live, None, &json!({"args": ["c"]})), json!({"args": ["c"]}));
    }
}
