//! Patch bodies: JSON merge patch (RFC 7386) and JSON patch (RFC 6902).
//!
//! Strategic merge patch is served as a JSON merge patch: the two agree except on lists
//! with merge keys (containers, ports, …), which a merge patch replaces whole.

use serde_json::Value;

/// Applies an RFC 7386 merge patch: objects merge key by key, `null` deletes, anything
/// else replaces.
// k8s.io/apimachinery/pkg/util/jsonmergepatch (evanphx/json-patch MergePatch)
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(target_map) = target {
        for (key, value) in patch_map {
            if value.is_null() {
                target_map.remove(key);
            } else {
                merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Applies an RFC 6902 JSON patch (`add`, `remove`, `replace`, `move`, `copy`, `test`).
// k8s.io/apiserver/pkg/endpoints/handlers/patch.go jsonPatcher (evanphx/json-patch Apply)
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    let operations = patch.as_array().ok_or("a JSON patch must be a list of operations")?;
    for (i, operation) in operations.iter().enumerate() {
        let field = |name: &str| {
            operation
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("operation {i}: missing {name:?}"))
        };
        let op = field("op")?;
        let path = field("path")?;
        let value =
            || operation.get("value").cloned().ok_or_else(|| format!("operation {i}: missing \"value\""));
        match op {
            "add" => add(target, path, value()?),
            "remove" => remove(target, path).map(drop),
            "replace" => {
                remove(target, path)?;
                add(target, path, value()?)
            }
            "move" => {
                let moved = remove(target, field("from")?)?;
                add(target, path, moved)
            }
            "copy" => {
                let copied = lookup(target, field("from")?)?.clone();
                add(target, path, copied)
            }
            "test" => {
                if *lookup(target, path)? == value()? {
                    Ok(())
                } else {
                    Err(format!("testing value {path} failed"))
                }
            }
            other => Err(format!("Unexpected kind: {other}")),
        }
        .map_err(|e| format!("operation {i} ({op} {path}): {e}"))?;
    }
    Ok(())
}

/// Splits a JSON pointer into unescaped tokens.
fn tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let rest = pointer.strip_prefix('/').ok_or_else(|| format!("invalid JSON pointer {pointer:?}"))?;
    Ok(rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect())
}

fn lookup<'a>(target: &'a Value, pointer: &str) -> Result<&'a Value, String> {
    target.pointer(pointer).ok_or_else(|| format!("path {pointer:?} does not exist"))
}

fn parent<'a>(target: &'a mut Value, pointer: &str) -> Result<(&'a mut Value, String), String> {
    let mut tokens = tokens(pointer)?;
    let last = tokens.pop().ok_or("the whole document cannot be the target")?;
    let mut current = target;
    for token in &tokens {
        current = match current {
            Value::Object(map) => map.get_mut(token),
            Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| format!("path {pointer:?}: parent does not exist"))?;
    }
    Ok((current, last))
}

fn add(target: &mut Value, pointer: &str, value: Value) -> Result<(), String> {
    let (container, last) = parent(target, pointer)?;
    match container {
        Value::Object(map) => {
            map.insert(last, value);
            Ok(())
        }
        Value::Array(items) => {
            let index = if last == "-" {
                items.len()
            } else {
                last.parse::<usize>().map_err(|_| format!("invalid array index {last:?}"))?
            };
            if index > items.len() {
                return Err(format!("array index {index} out of bounds"));
            }
            items.insert(index, value);
            Ok(())
        }
        _ => Err(format!("path {pointer:?}: parent is not a container")),
    }
}

fn remove(target: &mut Value, pointer: &str) -> Result<Value, String> {
    let (container, last) = parent(target, pointer)?;
    match container {
        Value::Object(map) => map.remove(&last).ok_or_else(|| format!("path {pointer:?} does not exist")),
        Value::Array(items) => {
            let index = last.parse::<usize>().map_err(|_| format!("invalid array index {last:?}"))?;
            if index >= items.len() {
                return Err(format!("array index {index} out of bounds"));
            }
            Ok(items.remove(index))
        }
        _ => Err(format!("path {pointer:?}: parent is not a container")),
    }
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
    }
}
