//! Server-side apply, approximated without managed fields.
//!
//! Real SSA tracks, per field manager, the fields it applied. This approximation keeps the
//! last configuration each manager applied to each object and computes the same result in
//! the common cases: fields the manager applied before and no longer applies are removed;
//! everything it applies is merged into the live object; fields set by anyone else (other
//! managers, defaulting, admission such as LimitRanger, controllers) stay. Lists whose items
//! all carry a `name` (containers, volumes, env, ports…) merge item by item like SSA's
//! associative lists; other lists are atomic and replaced.
//!
//! Field ownership, for conflicts: a manager owns the leaf fields of its last applied
//! configuration, and a non-apply writer (create, update, patch) the leaf fields its write
//! changed, which also takes them from the appliers. An apply that would change a field
//! another manager owns fails with 409 unless forced; forcing takes the field over. Leaves
//! are what the merge above treats as one value: scalars, atomic lists, and the fields of
//! list items keyed by `name`.
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

/// One step of a field path: a map key, or the item of a keyed list with this `name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Field(String),
    Named(String),
}

/// A leaf field's path, rendered as structured-merge-diff prints it: `.data.a`,
/// `.spec.containers[name="c"].image`.
pub type FieldPath = Vec<Step>;

pub fn render_path(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Field(key) => {
                out.push('.');
                out.push_str(key);
            }
            Step::Named(name) => out.push_str(&format!("[name={name:?}]")),
        }
    }
    out
}

/// The parts of an object whose fields ownership is tracked for: everything but the
/// type, the identity and server-set metadata, and the status.
fn owned_part(object: &Value) -> Value {
    let mut part = object.clone();
    if let Some(map) = part.as_object_mut() {
        for field in ["apiVersion", "kind", "status"] {
            map.remove(field);
        }
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            meta.retain(|k, _| {
                matches!(k.as_str(), "labels" | "annotations" | "ownerReferences" | "finalizers")
            });
        }
    }
    part
}

/// Every leaf field of `object` (see [`owned_part`]) with its value.
pub fn leaves(object: &Value) -> Vec<(FieldPath, Value)> {
    let mut out = Vec::new();
    collect_leaves(&owned_part(object), &mut Vec::new(), &mut out);
    out
}

fn collect_leaves(value: &Value, path: &mut FieldPath, out: &mut Vec<(FieldPath, Value)>) {
    match value {
        // An empty map holds no field of its own.
        Value::Object(map) => {
            for (key, child) in map {
                path.push(Step::Field(key.clone()));
                collect_leaves(child, path, out);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() && is_keyed(items) => {
            for item in items {
                path.push(Step::Named(item_key(item).unwrap_or("").to_string()));
                collect_leaves(item, path, out);
                path.pop();
            }
        }
        _ => out.push((path.clone(), value.clone())),
    }
}

/// The value at `path` in `object`, if any.
pub fn value_at<'a>(object: &'a Value, path: &[Step]) -> Option<&'a Value> {
    let mut current = object;
    for step in path {
        current = match (step, current) {
            (Step::Field(key), Value::Object(map)) => map.get(key)?,
            (Step::Named(name), Value::Array(items)) => {
                items.iter().find(|i| item_key(i) == Some(name.as_str()))?
            }
            _ => return None,
        };
    }
    Some(current)
}

/// Removes the field at `path` from an applied configuration (its manager lost it).
pub fn remove_at(object: &mut Value, path: &[Step]) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut current = object;
    for step in parents {
        let next = match (step, current) {
            (Step::Field(key), Value::Object(map)) => map.get_mut(key),
            (Step::Named(name), Value::Array(items)) => {
                items.iter_mut().find(|i| item_key(i) == Some(name.as_str()))
            }
            _ => None,
        };
        let Some(next) = next else { return };
        current = next;
    }
    match (last, current) {
        (Step::Field(key), Value::Object(map)) => {
            map.remove(key);
        }
        (Step::Named(name), Value::Array(items)) => items.retain(|i| item_key(i) != Some(name.as_str())),
        _ => {}
    }
}

/// A field another manager owns that an apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// As the message names it: `"other"`, or `"kubectl-create" using v1` for a non-apply writer.
    pub manager: String,
    pub path: FieldPath,
}

/// The 409 of an apply with conflicts.
// k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager/internal/conflict.go NewConflictError
pub fn conflict_status(conflicts: &[Conflict]) -> super::status::Status {
    use super::status::{Status, StatusCause, StatusReason};
    let message = match conflicts {
        [one] => {
            format!("Apply failed with 1 conflict: conflict with {}: {}", one.manager, render_path(&one.path))
        }
        many => {
            let mut by_manager: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
            for c in many {
                by_manager.entry(c.manager.as_str()).or_default().push(render_path(&c.path));
            }
            let mut lines = Vec::new();
            for (manager, paths) in by_manager {
                lines.push(format!("conflicts with {manager}:"));
                lines.extend(paths.into_iter().map(|p| format!("- {p}")));
            }
            format!("Apply failed with {} conflicts: {}", many.len(), lines.join("\n"))
        }
    };
    let mut status = Status::new(409, StatusReason::Conflict, message);
    status.details.causes = conflicts
        .iter()
        .map(|c| StatusCause {
            reason: "FieldManagerConflict".into(),
            message: format!("conflict with {}", c.manager),
            field: render_path(&c.path),
        })
        .collect();
    status
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
    fn leaves_follow_keyed_lists_and_render_like_structured_merge_diff() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1"}},
            "spec": {"containers": [{"name": "c", "image": "i", "args": ["x"]}]}, "status": {"phase": "P"}});
        let mut rendered: Vec<String> = leaves(&pod).iter().map(|(p, _)| render_path(p)).collect();
        rendered.sort();
        assert_eq!(
            rendered,
            [
                ".metadata.labels.a",
                ".spec.containers[name=\"c\"].args",
                ".spec.containers[name=\"c\"].image",
                ".spec.containers[name=\"c\"].name"
            ]
        );
        let all = leaves(&pod);
        let (image, value) =
            all.iter().find(|(p, _)| render_path(p).ends_with("image")).expect("the image is a leaf");
        assert_eq!(value_at(&pod, image), Some(value));
        let mut config = pod.clone();
        remove_at(&mut config, image);
        assert!(config.pointer("/spec/containers/0/image").is_none());
    }

    #[test]
    fn atomic_lists_are_replaced() {
        let live = json!({"args": ["a", "b"]});
        assert_eq!(merge_applied(&live, None, &json!({"args": ["c"]})), json!({"args": ["c"]}));
    }
}
