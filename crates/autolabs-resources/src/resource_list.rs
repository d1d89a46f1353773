//! `ResourceList` (resource name → exact quantity) and the list arithmetic the API server
//! uses: adding, taking the maximum, masking and comparing lists.
//!
//! Sums follow `resource.Quantity.Add`: a zero left-hand side takes the suffix family of
//! the right-hand side, so `0 + 512Mi` prints as `512Mi`, as in upstream messages.

use std::collections::BTreeMap;

use autolabs_k8s::Quantity;
use autolabs_k8s::k8s::K8sQuantity;

use crate::ResourcesError;

/// Resource name → quantity, sorted by name (upstream maps are unordered; sorted
/// iteration makes our messages deterministic).
pub type ResourceList = BTreeMap<String, Quantity>;

/// Parses an API resource map, naming `field[key]` when a quantity does not parse.
pub fn parse_list(
    map: Option<&BTreeMap<String, K8sQuantity>>,
    field: &str,
) -> Result<ResourceList, ResourcesError> {
    let mut list = ResourceList::new();
    for (name, raw) in map.into_iter().flatten() {
        let quantity = Quantity::parse(raw.0.trim()).map_err(|source| ResourcesError::Quantity {
            field: format!("{field}[{name}]"),
            value: raw.0.clone(),
            source,
        })?;
        list.insert(name.clone(), quantity);
    }
    Ok(list)
}

/// The API form of a list, canonical strings; `None` for an empty list (`omitempty`).
pub fn to_k8s_list(list: &ResourceList) -> Option<BTreeMap<String, K8sQuantity>> {
    (!list.is_empty()).then(|| list.iter().map(|(k, v)| (k.clone(), v.to_k8s())).collect())
}

/// `a + b` with `Quantity.Add`'s format rule (a zero `a` adopts `b`'s suffix family).
// k8s.io/apimachinery/pkg/api/resource/quantity.go Quantity.Add
pub fn add_quantities(a: Quantity, b: Quantity, field: &str) -> Result<Quantity, ResourcesError> {
    let format = if a.is_zero() { b.format() } else { a.format() };
    a.checked_add(b)
        .map(|sum| sum.with_format(format))
        .ok_or_else(|| ResourcesError::Overflow { field: field.to_string() })
}

/// `a - b` with `Quantity.Sub`'s format rule.
// k8s.io/apimachinery/pkg/api/resource/quantity.go Quantity.Sub
pub fn sub_quantities(a: Quantity, b: Quantity, field: &str) -> Result<Quantity, ResourcesError> {
    let format = if a.is_zero() { b.format() } else { a.format() };
    a.checked_sub(b)
        .map(|diff| diff.with_format(format))
        .ok_or_else(|| ResourcesError::Overflow { field: field.to_string() })
}

/// Adds every entry of `other` into `list` (`addResourceList`).
// k8s.io/component-helpers/resource/helpers.go addResourceList
pub fn add_into(list: &mut ResourceList, other: &ResourceList, field: &str) -> Result<(), ResourcesError> {
    for (name, quantity) in other {
        let sum = match list.get(name) {
            Some(existing) => add_quantities(*existing, *quantity, field)?,
            None => *quantity,
        };
        list.insert(name.clone(), sum);
    }
    Ok(())
}

/// Raises every entry of `list` to at least the entry of `other` (`maxResourceList`).
// k8s.io/component-helpers/resource/helpers.go maxResourceList
pub fn max_into(list: &mut ResourceList, other: &ResourceList) {
    for (name, quantity) in other {
        if list.get(name).is_none_or(|existing| quantity > existing) {
            list.insert(name.clone(), *quantity);
        }
    }
}

/// `quota.Add`: the union of both lists, summing shared names.
// k8s.io/apiserver/pkg/quota/v1/resources.go Add
pub fn sum_lists(a: &ResourceList, b: &ResourceList, field: &str) -> Result<ResourceList, ResourcesError> {
    let mut result = a.clone();
    add_into(&mut result, b, field)?;
    Ok(result)
}

/// `quota.Mask`: only the entries whose names are in `names`.
// k8s.io/apiserver/pkg/quota/v1/resources.go Mask
pub fn mask<'a>(list: &ResourceList, names: impl IntoIterator<Item = &'a String>) -> ResourceList {
    names.into_iter().filter_map(|name| list.get(name).map(|q| (name.clone(), *q))).collect()
}

/// `quota.RemoveZeros`: drops zero entries.
// k8s.io/apiserver/pkg/quota/v1/resources.go RemoveZeros
pub fn remove_zeros(list: &ResourceList) -> ResourceList {
    list.iter().filter(|(_, q)| !q.is_zero()).map(|(k, q)| (k.clone(), *q)).collect()
}

/// `quota.LessThanOrEqual`: the names whose value in `a` exceeds the value in `b`
/// (names missing from either list are not compared).
// k8s.io/apiserver/pkg/quota/v1/resources.go LessThanOrEqual
pub fn exceeding(a: &ResourceList, b: &ResourceList) -> Vec<String> {
    b.iter()
        .filter(|(name, limit)| a.get(*name).is_some_and(|value| value > limit))
        .map(|(n, _)| n.clone())
        .collect()
}

/// `prettyPrint`: `name=value` pairs sorted by name, joined by commas.
// k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go prettyPrint
pub fn pretty_print(list: &ResourceList) -> String {
    list.iter().map(|(name, q)| format!("{name}={q}")).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    fn list(entries: &[(&str, &str)]) -> ResourceList {
        entries.iter().map(|(k, v)| (k.to_string(), q(v))).collect()
    }

    #[test]
    fn list_rules() {
        // (rule, computed, expected)
        let rows: Vec<(&str, String, String)> = vec![
            (
                "Quantity.Add: a zero left side takes the right side's format",
                add_quantities(q("0"), q("512Mi"), "x").unwrap().to_string(),
                "512Mi".into(),
            ),
            (
                "Quantity.Add: a non-zero left side keeps its format",
                add_quantities(q("1"), q("500m"), "x").unwrap().to_string(),
                "1500m".into(),
            ),
            (
                "addResourceList: names only in the new list are copied",
                pretty_print(&{
                    let mut l = list(&[("cpu", "1")]);
                    add_into(&mut l, &list(&[("cpu", "1"), ("memory", "1Gi")]), "x").unwrap();
                    l
                }),
                "cpu=2,memory=1Gi".into(),
            ),
            (
                "maxResourceList: the larger value wins per name",
                pretty_print(&{
                    let mut l = list(&[("cpu", "1"), ("memory", "1Gi")]);
                    max_into(&mut l, &list(&[("cpu", "2"), ("memory", "1Mi"), ("pods", "1")]));
                    l
                }),
                "cpu=2,memory=1Gi,pods=1".into(),
            ),
            (
                "quota.Mask keeps only the named entries",
                pretty_print(&mask(&list(&[("cpu", "1"), ("memory", "1Gi")]), &["memory".to_string()])),
                "memory=1Gi".into(),
            ),
            (
                "quota.RemoveZeros drops zero entries",
                pretty_print(&remove_zeros(&list(&[("cpu", "0"), ("memory", "1Gi")]))),
                "memory=1Gi".into(),
            ),
            (
                "quota.LessThanOrEqual compares only shared names",
                exceeding(&list(&[("cpu", "2"), ("pods", "1")]), &list(&[("cpu", "1"), ("memory", "0")]))
                    .join(","),
                "cpu".into(),
            ),
        ];
        for (rule, got, want) in rows {
            assert_eq!(got, want, "{rule}");
        }
    }

    #[test]
    fn parse_names_the_field() {
        let mut raw = BTreeMap::new();
        raw.insert("cpu".to_string(), K8sQuantity("one".into()));
        let err = parse_list(Some(&raw), "spec.containers[0].resources.limits").unwrap_err();
        assert!(
            err.to_string().starts_with("spec.containers[0].resources.limits[cpu]: invalid quantity \"one\"")
        );
    }
}
