//! The admission driver: gathers what the plugins read (the namespace, its LimitRanges and
//! quotas, PriorityClasses; decoded once per change, see `inputs.rs`) and runs the plugins in
//! order on a create or update, as kube-apiserver's admission chain does between decoding and
//! storage.
// k8s.io/apiserver/pkg/admission/chain.go chainAdmissionHandler.Admit

use super::*;

impl Store {
    /// Runs the admission chain (a create when there is no `old` object, else an update) with
    /// the typed namespace, LimitRanges and ResourceQuotas the plugins read (decoded once per
    /// change, see `inputs.rs`).
    pub(super) fn run_admission(
        &mut self,
        resource: &'static ResourceType,
        subresource: Option<&str>,
        namespace: &str,
        old: Option<&Value>,
        object: &mut Value,
        dry_run: bool,
    ) -> Result<(), Status> {
        if self.admission.is_empty() {
            return Ok(());
        }
        let priority_classes = if resource.plural == "pods" {
            let objects = &self.objects;
            self.inputs.priority_classes(|| {
                Self::range_of(objects, find("priorityclasses"), None).map(|(_, v)| v).collect()
            })
        } else {
            Arc::default()
        };
        let (namespace_object, limit_ranges, quotas) = if resource.namespaced {
            let objects = &self.objects;
            let ns_key = ObjectKey {
                group: "",
                plural: "namespaces",
                namespace: String::new(),
                name: namespace.into(),
            };
            (
                self.inputs.namespace(namespace, || objects.get(&ns_key).cloned()),
                self.inputs.limit_ranges(namespace, || {
                    LimitRangeInputs::build(
                        Self::range_of(objects, find("limitranges"), Some(namespace)).map(|(_, v)| v),
                    )
                }),
                self.quota_inputs(namespace),
            )
        } else {
            (
                None,
                Arc::new(LimitRangeInputs::build(std::iter::empty())),
                Arc::new(QuotaInputs::build(std::iter::empty())),
            )
        };
        let ctx = AdmissionCtx {
            resource,
            subresource,
            namespace: resource.namespaced.then_some(namespace),
            namespace_object: namespace_object.as_deref(),
            limit_ranges: &limit_ranges.typed,
            resource_quotas: &quotas.typed,
            priority_classes: &priority_classes,
            old_object: old,
            dry_run,
            parsed: Some(inputs::parsed(&limit_ranges, &quotas)),
        };
        let operation = if old.is_some() { Operation::Update } else { Operation::Create };
        for plugin in &self.admission {
            plugin.admit(&ctx, operation, object)?;
        }
        Ok(())
    }

    /// The namespace's quotas, decoded (cached until one of them is written).
    pub(super) fn quota_inputs(&mut self, namespace: &str) -> Arc<QuotaInputs> {
        let objects = &self.objects;
        self.inputs.quotas(namespace, || {
            QuotaInputs::build(Self::range_of(objects, find("resourcequotas"), Some(namespace)))
        })
    }
}
