//! Who asks ([`UserInfo`]) and what they ask for ([`Attributes`]).
//!
//! A request is judged exactly as the API server's authorizer sees it: a user name plus the
//! complete list of groups the authenticator produced, and the request attributes of
//! `k8s.io/apiserver/pkg/authorization/authorizer.Attributes`.

use std::fmt;

/// `system:serviceaccount:` — prefix of every ServiceAccount user name.
// k8s.io/apiserver/pkg/authentication/serviceaccount/util.go ServiceAccountUsernamePrefix
pub const SERVICE_ACCOUNT_USER_PREFIX: &str = "system:serviceaccount:";
/// Group every ServiceAccount belongs to.
pub const ALL_SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";
/// Group of every authenticated user.
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";
/// Group of the anonymous user.
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
/// The anonymous user.
pub const ANONYMOUS_USER: &str = "system:anonymous";

/// The user name of a ServiceAccount: `system:serviceaccount:<namespace>:<name>`.
// k8s.io/apiserver/pkg/authentication/serviceaccount/util.go MakeUsername
pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("{SERVICE_ACCOUNT_USER_PREFIX}{namespace}:{name}")
}

/// Whether `username` is the user name of ServiceAccount `namespace/name` (plain string
/// equality with the concatenation, as upstream compares).
// k8s.io/apiserver/pkg/authentication/serviceaccount/util.go MatchesUsername
pub fn matches_service_account_username(namespace: &str, name: &str, username: &str) -> bool {
    username
        .strip_prefix(SERVICE_ACCOUNT_USER_PREFIX)
        .and_then(|rest| rest.strip_prefix(namespace))
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|rest| rest == name)
}

/// An authenticated identity: the user name and its complete group list. Nothing is implied:
/// the authorizer uses exactly these groups (as a SubjectAccessReview does).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UserInfo {
    pub name: String,
    pub groups: Vec<String>,
}

impl UserInfo {
    /// A user with exactly these groups.
    pub fn new(name: impl Into<String>, groups: impl IntoIterator<Item = impl Into<String>>) -> Self {
        UserInfo { name: name.into(), groups: groups.into_iter().map(Into::into).collect() }
    }

    /// A ServiceAccount as the token authenticator presents it: its user name plus the groups
    /// `system:serviceaccounts`, `system:serviceaccounts:<namespace>` and `system:authenticated`.
    // k8s.io/apiserver/pkg/authentication/serviceaccount/util.go MakeGroupNames (+ the
    // authenticated-group union of k8s.io/apiserver/pkg/authentication/group)
    pub fn service_account(namespace: &str, name: &str) -> Self {
        UserInfo {
            name: service_account_username(namespace, name),
            groups: vec![
                ALL_SERVICE_ACCOUNTS_GROUP.to_string(),
                format!("{ALL_SERVICE_ACCOUNTS_GROUP}:{namespace}"),
                AUTHENTICATED_GROUP.to_string(),
            ],
        }
    }

    /// The anonymous user (`system:anonymous`, group `system:unauthenticated`).
    pub fn anonymous() -> Self {
        UserInfo::new(ANONYMOUS_USER, [UNAUTHENTICATED_GROUP])
    }
}

/// The attributes of one request, as the authorizer sees them.
///
/// Resource requests use `verb`, `namespace` (empty: cluster scope or all namespaces),
/// `api_group` (empty: the core group), `resource`, `subresource` and `name`; non-resource
/// requests use `verb` and `path`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Attributes {
    pub verb: String,
    pub namespace: String,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    pub path: String,
    pub resource_request: bool,
}

impl Attributes {
    /// A cluster-scoped resource request without subresource and name; refine it with
    /// [`Attributes::in_namespace`], [`Attributes::subresource`], [`Attributes::named`].
    pub fn resource(
        verb: impl Into<String>,
        api_group: impl Into<String>,
        resource: impl Into<String>,
    ) -> Self {
        Attributes {
            verb: verb.into(),
            api_group: api_group.into(),
            resource: resource.into(),
            resource_request: true,
            ..Attributes::default()
        }
    }

    /// A non-resource request (`get /healthz`).
    pub fn non_resource(verb: impl Into<String>, path: impl Into<String>) -> Self {
        Attributes { verb: verb.into(), path: path.into(), resource_request: false, ..Attributes::default() }
    }

    /// The same request in a namespace.
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The same request on a subresource (`log`, `exec`, `status`…).
    pub fn subresource(mut self, subresource: impl Into<String>) -> Self {
        self.subresource = subresource.into();
        self
    }

    /// The same request on one named object.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// `resource` or `resource/subresource`, the form rules are matched against.
    pub fn combined_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

impl fmt::Display for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.resource_request {
            return write!(f, "{} {}", self.verb, self.path);
        }
        write!(f, "{} {}", self.verb, self.resource)?;
        if !self.api_group.is_empty() {
            write!(f, ".{}", self.api_group)?;
        }
        if !self.subresource.is_empty() {
            write!(f, "/{}", self.subresource)?;
        }
        if !self.name.is_empty() {
            write!(f, " named {:?}", self.name)?;
        }
        if self.namespace.is_empty() {
            write!(f, " cluster-wide")
        } else {
            write!(f, " in namespace {:?}", self.namespace)
        }
    }
}
