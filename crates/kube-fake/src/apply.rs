//! Server-side apply, the subset this fake plays: the fields an applier sends are created or
//! set (maps merged key by key, lists replaced whole), and the applier is recorded in
//! `managedFields` with the fields it sent. Fields it stopped sending are kept, and conflicts
//! between managers are not detected (only the ones a script injects).

use serde_json::{Map, Value, json};

/// Merges `patch` into `object`, leaving server-owned metadata and the status alone.
pub(crate) fn merge(object: &mut Value, patch: &Value, manager: &str, operation: &str, now: &str) {
    for (field, value) in patch.as_object().into_iter().flatten() {
        match field.as_str() {
            "status" | "apiVersion" | "kind" => {}
            "metadata" => merge_metadata(object, value),
            _ => merge_value(&mut object[field.as_str()], value),
        }
    }
    record_manager(object, patch, manager, operation, now);
}

const USER_METADATA: &[&str] = &["labels", "annotations", "ownerReferences", "finalizers"];

fn merge_metadata(object: &mut Value, patch: &Value) {
    for field in USER_METADATA {
        let value = &patch[*field];
        if !value.is_null() {
            merge_value(&mut object["metadata"][*field], value);
        }
    }
}

fn merge_value(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(into), Value::Object(patch)) => {
            for (key, value) in patch {
                merge_value(into.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (into, patch) => *into = patch.clone(),
    }
}

fn record_manager(object: &mut Value, patch: &Value, manager: &str, operation: &str, now: &str) {
    let entry = json!({
        "manager": manager,
        "operation": operation,
        "apiVersion": object["apiVersion"],
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields_of(patch),
    });
    let managed = &mut object["metadata"]["managedFields"];
    if !managed.is_array() {
        *managed = json!([]);
    }
    let list = managed.as_array_mut().expect("an array");
    list.retain(|m| !(m["manager"] == manager && m["operation"] == operation));
    list.push(entry);
}

/// The fields a patch sets, as `fieldsV1` spells them (`f:spec: {f:replicas: {}}`).
fn fields_of(patch: &Value) -> Value {
    let mut fields = Map::new();
    for (key, value) in patch.as_object().into_iter().flatten() {
        if matches!(key.as_str(), "apiVersion" | "kind" | "status") {
            continue;
        }
        let nested = match value {
            Value::Object(_) if key != "metadata" || !value["name"].is_null() => {
                strip_identity(fields_of(value))
            }
            Value::Object(_) => fields_of(value),
            _ => json!({}),
        };
        fields.insert(format!("f:{key}"), nested);
    }
    Value::Object(fields)
}

fn strip_identity(mut fields: Value) -> Value {
    if let Some(map) = fields.as_object_mut() {
        map.remove("f:name");
        map.remove("f:namespace");
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_merge_lists_replace_and_the_manager_is_recorded() {
        let mut object = json!({
            "apiVersion": "apps/v1",
            "metadata": {"name": "a", "labels": {"x": "1"}, "uid": "u"},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}},
            "status": {"replicas": 1},
        });
        let patch = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "a", "labels": {"y": "2"}, "uid": "forged"},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "c"}]}}},
            "status": {"replicas": 9},
        });
        merge(
            &mut object,
            &patch,
            "bellwether",
            "Apply",
            "2026-01-01T00:00:00Z",
        );
        assert_eq!(object["metadata"]["labels"], json!({"x": "1", "y": "2"}));
        assert_eq!(object["metadata"]["uid"], "u");
        assert_eq!(object["spec"]["replicas"], 3);
        assert_eq!(
            object["spec"]["template"]["spec"]["containers"],
            json!([{"name": "c"}])
        );
        assert_eq!(object["status"]["replicas"], 1);
        let managed = &object["metadata"]["managedFields"][0];
        assert_eq!(managed["manager"], "bellwether");
        assert_eq!(managed["operation"], "Apply");
        assert_eq!(managed["fieldsV1"]["f:spec"]["f:replicas"], json!({}));
        assert_eq!(
            managed["fieldsV1"]["f:metadata"]["f:labels"]["f:y"],
            json!({})
        );
    }
}
