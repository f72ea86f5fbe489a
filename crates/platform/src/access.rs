//! Who is asking and what they may do: a person of the console (an account
//! and its session) or an integration (an API token), each with a role and,
//! for a lot operator or booth, the lots assigned.
//!
//! | role | reads | changes (lists, refunds, lot commands) | opens barriers | accounts, tokens, integrators, city-wide reports |
//! |---|---|---|---|---|
//! | admin | every lot | every lot | every lot | yes |
//! | operator | its lots | its lots | its lots | no |
//! | auditor | every lot | no | no | reads only |
//! | booth | its lot | no | its lot | no |
//!
//! A leaf: the HTTP layers build a [`Who`] and ask it; it knows no handler.

use std::collections::BTreeSet;

pub use crate::store::Role;

/// What a request needs of its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Look (every role, within its lots).
    Read,
    /// Change a lot's lists, refund, send a lot a command.
    Change,
    /// Open a lot's barrier from afar.
    Open,
    /// Run the city: accounts, tokens, integrators (writes).
    Admin,
}

/// The caller of a console page or an admin API call.
#[derive(Clone, Debug)]
pub struct Who {
    /// The account's name, `token:<name>` for an integration, `admin_token`
    /// for the configured bootstrap token.
    pub actor: String,
    pub role: Role,
    /// The lots of a scoped role; `None`: the whole city.
    pub lots: Option<BTreeSet<String>>,
    /// The client's address, as the audit trail keeps it.
    pub client: String,
    /// The form token of a console session (empty for a bearer token).
    pub csrf: String,
}

/// Refused: what the caller is told, in both languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Denied {
    pub zh: &'static str,
    pub en: &'static str,
}

pub const NOT_YOUR_LOT: Denied = Denied { zh: "无权访问该车场", en: "this lot is not assigned to you" };
pub const READ_ONLY: Denied =
    Denied { zh: "当前角色只读，不能修改", en: "your role may not change anything" };
pub const ADMIN_ONLY: Denied =
    Denied { zh: "仅城市管理员可执行", en: "only a city administrator may do this" };
pub const CITY_WIDE: Denied = Denied {
    zh: "全市范围的数据仅对城市管理员与审计开放",
    en: "city-wide figures are for administrators and auditors",
};

impl Who {
    /// Someone on this machine's command line (the audit trail's `cli`).
    pub fn cli() -> Who {
        Who { actor: "cli".into(), role: Role::Admin, lots: None, client: "-".into(), csrf: String::new() }
    }

    pub fn new(actor: String, role: Role, lots: &[String], client: String, csrf: String) -> Who {
        // A scoped role with no lot assigned sees none: never the city.
        let lots = role.scoped().then(|| lots.iter().cloned().collect());
        Who { actor, role, lots, client, csrf }
    }

    /// Whether the role may do `need` at all (somewhere).
    pub fn may(&self, need: Need) -> bool {
        matches!(
            (self.role, need),
            (_, Need::Read)
                | (Role::Admin, _)
                | (Role::Operator, Need::Change | Need::Open)
                | (Role::Booth, Need::Open)
        )
    }

    pub fn sees(&self, lot: &str) -> bool {
        self.lots.as_ref().is_none_or(|lots| lots.contains(lot))
    }

    /// Whether the caller sees the whole city.
    pub fn city_wide(&self) -> bool {
        self.lots.is_none()
    }

    /// May the caller do `need` at `lot`?
    pub fn check(&self, need: Need, lot: &str) -> Result<(), Denied> {
        if !self.may(need) {
            return Err(if need == Need::Admin { ADMIN_ONLY } else { READ_ONLY });
        }
        if !self.sees(lot) {
            return Err(NOT_YOUR_LOT);
        }
        Ok(())
    }

    /// May the caller do `need` city-wide (every lot at once, or no lot)?
    pub fn check_city(&self, need: Need) -> Result<(), Denied> {
        if !self.may(need) {
            return Err(if need == Need::Admin { ADMIN_ONLY } else { READ_ONLY });
        }
        if !self.city_wide() {
            return Err(CITY_WIDE);
        }
        Ok(())
    }

    /// The lots a scoped caller may see, for queries (`None`: all).
    pub fn lot_filter(&self) -> Option<Vec<String>> {
        self.lots.as_ref().map(|lots| lots.iter().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role, lots: &[&str]) -> Who {
        let lots: Vec<String> = lots.iter().map(|s| (*s).to_owned()).collect();
        Who::new("x".into(), role, &lots, "127.0.0.1".into(), String::new())
    }

    #[test]
    fn each_role_does_what_its_table_row_says() {
        let admin = who(Role::Admin, &["A"]);
        assert!(admin.city_wide(), "an admin's lots are ignored: the whole city");
        for need in [Need::Read, Need::Change, Need::Open, Need::Admin] {
            assert_eq!(admin.check(need, "B"), Ok(()));
        }
        let operator = who(Role::Operator, &["A"]);
        assert_eq!(operator.check(Need::Change, "A"), Ok(()));
        assert_eq!(operator.check(Need::Change, "B"), Err(NOT_YOUR_LOT));
        assert_eq!(operator.check(Need::Admin, "A"), Err(ADMIN_ONLY));
        assert_eq!(operator.check_city(Need::Read), Err(CITY_WIDE));
        let auditor = who(Role::Auditor, &[]);
        assert_eq!(auditor.check(Need::Read, "B"), Ok(()));
        assert_eq!(auditor.check_city(Need::Read), Ok(()));
        for need in [Need::Change, Need::Open, Need::Admin] {
            assert!(auditor.check(need, "B").is_err(), "{need:?}");
        }
        let booth = who(Role::Booth, &["A"]);
        assert_eq!(booth.check(Need::Open, "A"), Ok(()));
        assert_eq!(booth.check(Need::Change, "A"), Err(READ_ONLY));
        assert_eq!(booth.check(Need::Read, "B"), Err(NOT_YOUR_LOT));
        let nowhere = who(Role::Operator, &[]);
        assert!(!nowhere.city_wide() && !nowhere.sees("A"), "a scoped role without lots sees none");
    }
}
