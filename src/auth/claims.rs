//! From a verified token's claims to who is writing: its id, scopes, department and plans.
//!
//! Providers put these in different places — Entra ID: `scp` (a space-separated string), `roles` (an
//! array), `uti`; Keycloak: `realm_access.roles`, `resource_access.<client>.roles`, `jti` — so each
//! is found by JSON Pointers the operator configures, and the provider's own role names are mapped
//! onto the service's scopes, departments and plans.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::{PlanLimit, Principal, Scope};
use crate::error::ApiError;

/// Where the claims are and what their values mean.
#[derive(Debug, Clone)]
pub struct ClaimRules {
    scope_claims: Vec<String>,
    /// `None`: the values are the service's scope names. `Some`: only mapped values count.
    scope_map: Option<HashMap<String, Vec<Scope>>>,
    id_claims: Vec<String>,
    dept_claim: String,
    dept_map: HashMap<String, i64>,
    plan_claim: String,
    plan_map: HashMap<String, PlanLimit>,
}

/// The settings the rules are read from, as configured.
pub struct ClaimSettings<'a> {
    pub scope_claims: &'a str,
    pub scope_map: Option<&'a str>,
    pub id_claims: &'a str,
    pub dept_claim: &'a str,
    pub dept_map: Option<&'a str>,
    pub plan_claim: &'a str,
    pub plan_map: Option<&'a str>,
}

impl ClaimRules {
    /// The claims of tokens this service issues itself (`token issue`): `scope`, `jti`, `dept`, `plan`.
    pub fn own() -> Self {
        ClaimRules {
            scope_claims: vec!["/scope".into()],
            scope_map: None,
            id_claims: vec!["/jti".into()],
            dept_claim: "/dept".into(),
            dept_map: HashMap::new(),
            plan_claim: "/plan".into(),
            plan_map: HashMap::new(),
        }
    }

    pub fn from_settings(settings: &ClaimSettings) -> Result<Self, String> {
        let scope_map = settings
            .scope_map
            .map(|text| {
                let raw: HashMap<String, Value> = json_map("JWT_SCOPE_MAP", text)?;
                raw.into_iter()
                    .map(|(value, scopes)| {
                        let names: Vec<&str> = match &scopes {
                            Value::String(name) => vec![name.as_str()],
                            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                            _ => Vec::new(),
                        };
                        let scopes: Option<Vec<Scope>> = names.iter().map(|name| Scope::parse(name)).collect();
                        match scopes {
                            Some(scopes) if !scopes.is_empty() => Ok((value, scopes)),
                            _ => Err(format!(
                                "JWT_SCOPE_MAP: {value:?} must map to a list of {}",
                                Scope::ALL.map(Scope::as_str).join(", ")
                            )),
                        }
                    })
                    .collect::<Result<HashMap<_, _>, String>>()
            })
            .transpose()?;
        let dept_map = settings
            .dept_map
            .map(|text| {
                let raw: HashMap<String, Value> = json_map("JWT_DEPT_MAP", text)?;
                raw.into_iter()
                    .map(|(value, department)| match department.as_i64() {
                        Some(id) => Ok((value, id)),
                        None => Err(format!("JWT_DEPT_MAP: {value:?} must map to a department id")),
                    })
                    .collect::<Result<HashMap<_, _>, String>>()
            })
            .transpose()?
            .unwrap_or_default();
        let plan_map = settings
            .plan_map
            .map(|text| {
                let raw: HashMap<String, Value> = json_map("JWT_PLAN_MAP", text)?;
                raw.into_iter()
                    .map(|(value, plan)| match PlanLimit::of_value(&plan) {
                        Some(limit) => Ok((value, limit)),
                        None => Err(format!("JWT_PLAN_MAP: {value:?} must map to a plan id or plan code")),
                    })
                    .collect::<Result<HashMap<_, _>, String>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(ClaimRules {
            scope_claims: pointers("JWT_SCOPE_CLAIMS", settings.scope_claims)?,
            scope_map,
            id_claims: pointers("JWT_ID_CLAIMS", settings.id_claims)?,
            dept_claim: pointer("JWT_DEPT_CLAIM", settings.dept_claim)?,
            dept_map,
            plan_claim: pointer("JWT_PLAN_CLAIM", settings.plan_claim)?,
            plan_map,
        })
    }

    /// Who a verified token names. Unmapped roles are ignored (a missing scope is a 403 later); a
    /// token without an id is refused, since it could never be revoked.
    pub fn principal(&self, claims: &Value) -> Result<Principal, ApiError> {
        let issuer = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let Some(id) = self
            .id_claims
            .iter()
            .filter_map(|pointer| claims.pointer(pointer))
            .find_map(|value| text_of(value).filter(|id| !id.trim().is_empty()))
        else {
            return Err(ApiError::InvalidToken(format!(
                "it carries no token id (looked for {}), so it could not be revoked",
                self.id_claims.join(", ")
            )));
        };
        let mut scopes = Vec::new();
        for value in self.scope_claims.iter().filter_map(|pointer| claims.pointer(pointer)) {
            for name in values_of(value) {
                let granted: Vec<Scope> = match &self.scope_map {
                    None => Scope::parse(&name).into_iter().collect(),
                    Some(map) => map.get(&name).cloned().unwrap_or_default(),
                };
                for scope in granted {
                    if !scopes.contains(&scope) {
                        scopes.push(scope);
                    }
                }
            }
        }
        let department = self.department(claims, scopes.contains(&Scope::Admin))?;
        let admin = scopes.contains(&Scope::Admin);
        let plans = match claims.pointer(&self.plan_claim) {
            // Where the deployment maps plan claims, a writer's token must carry one: its absence
            // (a user without the attribute, an app-only token) limits to nothing, not to everything.
            None if !self.plan_map.is_empty() && !admin => {
                return Err(ApiError::Forbidden(format!(
                    "the token has no plan claim {} (JWT_PLAN_MAP is set, so every writer needs one)",
                    self.plan_claim
                )))
            }
            None => Vec::new(),
            Some(value) => {
                let limits: Vec<PlanLimit> = plan_values(value)
                    .into_iter()
                    .map(|plan| match plan {
                        Value::String(text) => self.plan_map.get(&text).cloned().unwrap_or(PlanLimit::Code(text)),
                        other => PlanLimit::of_value(&other).unwrap_or(PlanLimit::Code(other.to_string())),
                    })
                    .collect();
                if limits.is_empty() {
                    // A plan claim that names nothing limits the token to nothing, never to everything.
                    return Err(ApiError::Forbidden(format!(
                        "the token's plan claim {} names no plan",
                        self.plan_claim
                    )));
                }
                limits
            }
        };
        Ok(Principal {
            subject,
            issuer,
            jti: id,
            scopes,
            department,
            plans,
        })
    }

    /// The one department a token's claim names. A claim that is present but names none this
    /// service knows (or several) limits a non-admin to nothing rather than to everything.
    fn department(&self, claims: &Value, admin: bool) -> Result<Option<i64>, ApiError> {
        let Some(value) = claims.pointer(&self.dept_claim) else {
            // Entra ID leaves `groups` out when a user is in too many, naming it in `_claim_names`.
            let claim_name = self.dept_claim.rsplit('/').next().unwrap_or_default();
            if claims
                .pointer("/_claim_names")
                .and_then(|names| names.get(claim_name))
                .is_some()
            {
                return Err(ApiError::Forbidden(format!(
                    "the identity provider left the department claim {} out of the token (group overage); \
                     map an app role or a smaller set of groups",
                    self.dept_claim
                )));
            }
            // Where the deployment maps department claims, a writer without one reaches nothing.
            if !self.dept_map.is_empty() && !admin {
                return Err(ApiError::Forbidden(format!(
                    "the token has no department claim {} (JWT_DEPT_MAP is set, so every writer needs one)",
                    self.dept_claim
                )));
            }
            return Ok(None);
        };
        let departments: BTreeSet<i64> = values_of(value)
            .iter()
            .filter_map(|text| self.dept_map.get(text).copied().or_else(|| text.parse().ok()))
            .collect();
        match departments.len() {
            1 => Ok(departments.first().copied()),
            _ if admin => Ok(None),
            0 => Err(ApiError::Forbidden(format!(
                "the token's department claim {} names no department of this service (see JWT_DEPT_MAP)",
                self.dept_claim
            ))),
            _ => Err(ApiError::Forbidden(format!(
                "the token's department claim {} names several departments ({departments:?}); a token reaches one",
                self.dept_claim
            ))),
        }
    }
}

/// A claim's values: a space-separated string, an array of strings or numbers, or one number.
fn values_of(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => text.split_whitespace().map(str::to_string).collect(),
        Value::Array(items) => items.iter().filter_map(text_of).collect(),
        other => text_of(other).into_iter().collect(),
    }
}

/// A plan claim's values: one string or number, or an array of them (a code may hold spaces).
fn plan_values(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.iter().filter(|item| text_of(item).is_some()).cloned().collect(),
        other if text_of(other).is_some() => vec![other.clone()],
        _ => Vec::new(),
    }
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn json_map(setting: &str, text: &str) -> Result<HashMap<String, Value>, String> {
    serde_json::from_str(text).map_err(|error| format!("{setting} must be a JSON object: {error}"))
}

fn pointer(setting: &str, text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.starts_with('/') {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{setting}: {text:?} is not a JSON Pointer (like /scp or /realm_access/roles)"
        ))
    }
}

fn pointers(setting: &str, text: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = text
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| pointer(setting, part))
        .collect::<Result<_, _>>()?;
    if list.is_empty() {
        return Err(format!("{setting} names no claim"));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(scope_map: Option<&str>, dept_map: Option<&str>, plan_map: Option<&str>) -> ClaimRules {
        ClaimRules::from_settings(&ClaimSettings {
            scope_claims: "/scope,/scp,/roles,/realm_access/roles,/resource_access/strategy-api/roles",
            scope_map,
            id_claims: "/jti,/uti",
            dept_claim: "/groups",
            dept_map,
            plan_claim: "/plan",
            plan_map,
        })
        .unwrap()
    }

    #[test]
    fn entra_scopes_and_roles_map_to_the_services_scopes() {
        let rules = rules(
            Some(r#"{"Strategy.Write": ["kpis:write"], "Strategy.Admin": ["admin"]}"#),
            None,
            None,
        );
        let principal = rules
            .principal(
                &json!({"iss": "i", "sub": "s", "uti": "u-1", "scp": "User.Read Strategy.Write", "roles": ["Other"]}),
            )
            .unwrap();
        assert_eq!(principal.jti, "u-1");
        assert_eq!(principal.scopes, vec![Scope::KpisWrite]);
        // Without a mapping entry, even a value named like a scope grants nothing.
        let unmapped = rules
            .principal(&json!({"iss": "i", "sub": "s", "uti": "u-2", "scp": "admin"}))
            .unwrap();
        assert!(unmapped.scopes.is_empty());
    }

    #[test]
    fn departments_and_plans_are_mapped_and_fail_closed() {
        let rules = rules(
            None,
            Some(r#"{"grp-planning": 3}"#),
            Some(r#"{"city-a": "atsugi-2", "seven": 7}"#),
        );
        let base = json!({"iss": "i", "sub": "s", "jti": "j", "scope": "projects:write", "groups": ["grp-planning"], "plan": "city-a"});
        let with = |extra: Value, without: &[&str]| {
            let mut claims = base.clone();
            let fields = claims.as_object_mut().unwrap();
            fields.extend(extra.as_object().unwrap().clone());
            for name in without {
                fields.remove(*name);
            }
            rules.principal(&claims)
        };
        let forbidden = |result: Result<Principal, ApiError>| matches!(result, Err(ApiError::Forbidden(_)));
        assert_eq!(
            with(json!({"groups": ["x", "grp-planning"]}), &[]).unwrap().department,
            Some(3)
        );
        assert!(forbidden(with(json!({"groups": ["x"]}), &[])));
        assert!(forbidden(with(json!({"groups": ["grp-planning", 4]}), &[])));
        assert_eq!(
            with(json!({}), &[]).unwrap().plans,
            vec![PlanLimit::Code("atsugi-2".into())]
        );
        assert_eq!(
            with(json!({"plan": "seven"}), &[]).unwrap().plans,
            vec![PlanLimit::Id(7)]
        );
        assert_eq!(with(json!({"plan": 2}), &[]).unwrap().plans, vec![PlanLimit::Id(2)]);
        assert!(forbidden(with(json!({"plan": []}), &[])));
        // With the claims mapped, a writer whose token lacks one reaches nothing (a user without
        // the attribute, an app-only token, Entra's group overage); an admin keeps its reach.
        assert!(forbidden(with(json!({}), &["groups"])));
        assert!(forbidden(with(json!({}), &["plan"])));
        assert!(forbidden(with(
            json!({"_claim_names": {"groups": "src1"}, "scope": "admin"}),
            &["groups"]
        )));
        let admin = with(json!({"scope": "admin"}), &["groups", "plan"]).unwrap();
        assert_eq!((admin.department, admin.plans), (None, vec![]));
    }

    #[test]
    fn a_token_without_an_id_is_refused() {
        let refusal = rules(None, None, None)
            .principal(&json!({"iss": "i", "sub": "s", "scope": "admin"}))
            .unwrap_err();
        assert!(
            matches!(refusal, ApiError::InvalidToken(ref reason) if reason.contains("/uti")),
            "{refusal:?}"
        );
    }

    #[test]
    fn settings_are_checked() {
        let settings = |scope_claims, scope_map| ClaimSettings {
            scope_claims,
            scope_map,
            id_claims: "/jti",
            dept_claim: "/dept",
            dept_map: None,
            plan_claim: "/plan",
            plan_map: None,
        };
        assert!(ClaimRules::from_settings(&settings("scp", None)).is_err());
        assert!(ClaimRules::from_settings(&settings("/scp", Some(r#"{"a": ["root"]}"#))).is_err());
        assert!(ClaimRules::from_settings(&settings("/scp", Some("[1]"))).is_err());
        assert!(ClaimRules::from_settings(&settings("/scp", Some(r#"{"a": "admin"}"#))).is_ok());
    }
}
