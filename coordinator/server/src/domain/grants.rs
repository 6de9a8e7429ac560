//! Roles, the permissions routes need, and which role grants which, with
//! the scope a grant reaches. The one table of who may do what: the HTTP
//! layer names a permission per route (`http::permissions`) and asks here.

use super::Refusal;
use gpes_protocol::GrantSpec;
use std::collections::BTreeSet;

/// A role a user may be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Operators: everything.
    Admin,
    /// Operators: collections and their runs.
    CollectionManager,
    /// Operators: reads everything but the audit trail.
    Viewer,
    /// A practice's: request an ad-hoc extraction of the practice.
    B1842,
    /// A practice's: view the practice's results.
    B1843,
    /// A practice's: maintain participation preferences.
    B1844,
    /// A practice's: record participation decisions.
    B1845,
    /// A practice's: declare its payment results.
    Declarer,
    /// A region's: approves declarations of its practices.
    Commissioner,
    /// A requesting organisation's: receives its deliveries.
    Recipient,
    /// A supplier's: its agents and its practices.
    Supplier,
}

/// What a role's scope names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    None,
    Practice,
    Region,
    Organisation,
    Supplier,
}

impl ScopeKind {
    pub fn describe(self) -> &'static str {
        match self {
            ScopeKind::None => "no scope",
            ScopeKind::Practice => "a practice code",
            ScopeKind::Region => "a region (commissioner code)",
            ScopeKind::Organisation => "a requesting organisation's code",
            ScopeKind::Supplier => "a supplier's name",
        }
    }
}

pub const ROLES: [Role; 11] = [
    Role::Admin,
    Role::CollectionManager,
    Role::Viewer,
    Role::B1842,
    Role::B1843,
    Role::B1844,
    Role::B1845,
    Role::Declarer,
    Role::Commissioner,
    Role::Recipient,
    Role::Supplier,
];

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::CollectionManager => "collection-manager",
            Role::Viewer => "viewer",
            Role::B1842 => "B1842",
            Role::B1843 => "B1843",
            Role::B1844 => "B1844",
            Role::B1845 => "B1845",
            Role::Declarer => "declarer",
            Role::Commissioner => "commissioner",
            Role::Recipient => "recipient",
            Role::Supplier => "supplier",
        }
    }

    pub fn parse(text: &str) -> Result<Role, Refusal> {
        ROLES
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| {
                let known: Vec<&str> = ROLES.iter().map(|r| r.as_str()).collect();
                Refusal::Invalid(format!(
                    "'{text}' is not a role; the roles are {}",
                    known.join(", ")
                ))
            })
    }

    pub fn scope_kind(self) -> ScopeKind {
        match self {
            Role::Admin | Role::CollectionManager | Role::Viewer => ScopeKind::None,
            Role::B1842 | Role::B1843 | Role::B1844 | Role::B1845 | Role::Declarer => {
                ScopeKind::Practice
            }
            Role::Commissioner => ScopeKind::Region,
            Role::Recipient => ScopeKind::Organisation,
            Role::Supplier => ScopeKind::Supplier,
        }
    }
}

/// A role held, with its scope ('' for the operator roles).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    pub role: Role,
    pub scope: String,
}

impl Grant {
    pub fn operator(role: Role) -> Grant {
        Grant {
            role,
            scope: String::new(),
        }
    }

    /// A grant as the API names it, checked for the scope its role needs
    /// (only the shape here: the store checks the scope exists).
    pub fn from_spec(spec: &GrantSpec) -> Result<Grant, Refusal> {
        let role = Role::parse(&spec.role)?;
        let scope = spec.scope.as_deref().map(str::trim).unwrap_or("");
        let kind = role.scope_kind();
        match (kind, scope.is_empty()) {
            (ScopeKind::None, true) => {}
            (ScopeKind::None, false) => {
                return Err(Refusal::Invalid(format!(
                    "the role {} has no scope, but '{scope}' was given",
                    role.as_str()
                )));
            }
            (_, true) => {
                return Err(Refusal::Invalid(format!(
                    "the role {} needs a scope: {}",
                    role.as_str(),
                    kind.describe()
                )));
            }
            (ScopeKind::Practice, false) => super::check_practice_code(scope)?,
            (ScopeKind::Region | ScopeKind::Organisation, false) => {
                if !(3..=10).contains(&scope.len())
                    || !scope.chars().all(|c| c.is_ascii_alphanumeric())
                {
                    return Err(Refusal::Invalid(format!(
                        "'{scope}' is not {}: 3 to 10 letters and digits (an ODS code)",
                        kind.describe()
                    )));
                }
            }
            (ScopeKind::Supplier, false) => {
                if scope.len() > 64 || scope.chars().any(char::is_control) {
                    return Err(Refusal::Invalid(format!(
                        "'{scope}' is not a supplier's name: at most 64 printable characters"
                    )));
                }
            }
        }
        let scope = match kind {
            ScopeKind::Practice | ScopeKind::Region | ScopeKind::Organisation => {
                scope.to_ascii_uppercase()
            }
            _ => scope.to_owned(),
        };
        Ok(Grant { role, scope })
    }

    pub fn spec(&self) -> GrantSpec {
        GrantSpec {
            role: self.role.as_str().to_owned(),
            scope: (!self.scope.is_empty()).then(|| self.scope.clone()),
        }
    }

    /// How the audit trail names it: `admin`, `B1843:A81001`.
    pub fn label(&self) -> String {
        if self.scope.is_empty() {
            self.role.as_str().to_owned()
        } else {
            format!("{}:{}", self.role.as_str(), self.scope)
        }
    }
}

/// What a route needs. Each route of the operator listener names one in
/// `http::permissions::ROUTES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// No one in particular: enrollment (its own secret) and the API
    /// document.
    Public,
    /// Anyone signed in: who am I.
    SignedIn,
    ManageUsers,
    ManageRegistry,
    /// Enrollment tokens and revocation.
    ManageAgents,
    ViewAgents,
    ManageCollections,
    ViewCollections,
    /// Run now, cancel, retry.
    OperateRuns,
    ViewRuns,
    /// A run's results: all of them for operators, a practice's for its
    /// B1843 users and its region's commissioners.
    ViewResults,
    /// One practice's record-level answer: operators who run
    /// collections, and the practice's own B1843 users. Never a viewer or
    /// a region.
    DownloadRecords,
    ViewPractices,
    /// Upcoming runs: operators all of them, a practice's, region's or
    /// supplier's users those reaching their practices.
    ViewTimetable,
    ViewAudit,
    /// The collections offered to a practice, its decisions and
    /// preferences: operators all; a practice's users and its region's
    /// commissioners theirs.
    ViewOffers,
    /// Accept or decline an offered collection for a practice: its B1845
    /// users.
    DecideParticipation,
    /// A practice's standing preferences: its B1844 users.
    KeepPreferences,
    /// Run a collection now for one's own practice: its B1842 users.
    RequestAdhoc,
    /// Declare a practice's result, and enter its values by hand: its
    /// declarers.
    Declare,
    /// See declarations and payment lines: operators all; a practice's
    /// declarers and B1843 users theirs; a commissioner their region's.
    ViewDeclarations,
    /// Approve or reject declarations: the commissioner of the practice's
    /// region.
    ApproveDeclarations,
}

impl Permission {
    /// In words, for refusals: "may not manage users".
    pub fn describe(self) -> &'static str {
        match self {
            Permission::Public => "use an open route",
            Permission::SignedIn => "sign in",
            Permission::ManageUsers => "manage users",
            Permission::ManageRegistry => "change the practices registry",
            Permission::ManageAgents => "enroll or revoke agents",
            Permission::ViewAgents => "see agents",
            Permission::ManageCollections => "make collections",
            Permission::ViewCollections => "see collections",
            Permission::OperateRuns => "run, cancel or retry runs",
            Permission::ViewRuns => "see runs",
            Permission::ViewResults => "read results",
            Permission::DownloadRecords => "download record-level results",
            Permission::ViewPractices => "see practices",
            Permission::ViewTimetable => "see the timetable",
            Permission::ViewAudit => "read the audit trail",
            Permission::ViewOffers => "see offers, participation and what needs attention",
            Permission::DecideParticipation => "accept or decline collections for a practice",
            Permission::KeepPreferences => "keep a practice's standing preferences",
            Permission::RequestAdhoc => "run an ad-hoc extraction for a practice",
            Permission::Declare => "declare or enter a practice's results",
            Permission::ViewDeclarations => "see declarations and payments",
            Permission::ApproveDeclarations => "approve or reject declarations",
        }
    }
}

/// How far a role reaches for a permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reaches {
    Nothing,
    Everything,
    /// Only what the grant's scope names.
    Scope,
}

/// The table: for each role, what it may do.
fn reaches(role: Role, permission: Permission) -> Reaches {
    use Permission as P;
    use Reaches::*;
    match (permission, role) {
        (P::Public | P::SignedIn, _) => Everything,
        (_, Role::Admin) => Everything,
        (P::ManageUsers | P::ManageRegistry | P::ManageAgents | P::ViewAudit, _) => Nothing,
        (P::ManageCollections | P::OperateRuns | P::DownloadRecords, Role::CollectionManager) => {
            Everything
        }
        (P::DownloadRecords, Role::B1843) => Scope,
        (P::DownloadRecords, _) => Nothing,
        (P::ManageCollections | P::OperateRuns, _) => Nothing,
        (
            P::ViewAgents | P::ViewCollections | P::ViewRuns | P::ViewResults | P::ViewPractices,
            Role::CollectionManager | Role::Viewer,
        ) => Everything,
        (P::ViewAgents, Role::Supplier) => Scope,
        (P::ViewResults, Role::B1843 | Role::Commissioner) => Scope,
        (P::ViewTimetable | P::ViewOffers, Role::CollectionManager | Role::Viewer) => Everything,
        (P::DecideParticipation, Role::B1845) => Scope,
        (P::KeepPreferences, Role::B1844) => Scope,
        (P::RequestAdhoc, Role::B1842) => Scope,
        (P::Declare, Role::Declarer) => Scope,
        (P::ApproveDeclarations, Role::Commissioner) => Scope,
        (P::ViewDeclarations, Role::CollectionManager | Role::Viewer) => Everything,
        (P::ViewDeclarations, Role::Declarer | Role::B1843 | Role::Commissioner) => Scope,
        (
            P::DecideParticipation
            | P::KeepPreferences
            | P::RequestAdhoc
            | P::Declare
            | P::ApproveDeclarations
            | P::ViewDeclarations,
            _,
        ) => Nothing,
        (
            P::ViewPractices | P::ViewTimetable | P::ViewOffers,
            Role::B1842
            | Role::B1843
            | Role::B1844
            | Role::B1845
            | Role::Declarer
            | Role::Commissioner
            | Role::Supplier,
        ) => Scope,
        _ => Nothing,
    }
}

/// What a caller's grants reach for one permission: everything, or the
/// practices, regions and suppliers their scoped grants name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reach {
    pub everything: bool,
    pub practices: BTreeSet<String>,
    pub regions: BTreeSet<String>,
    pub suppliers: BTreeSet<String>,
}

impl Reach {
    pub fn of(grants: &[Grant], permission: Permission) -> Reach {
        let mut out = Reach::default();
        for g in grants {
            match reaches(g.role, permission) {
                Reaches::Nothing => {}
                Reaches::Everything => out.everything = true,
                Reaches::Scope => match g.role.scope_kind() {
                    ScopeKind::Practice => {
                        out.practices.insert(g.scope.clone());
                    }
                    ScopeKind::Region => {
                        out.regions.insert(g.scope.clone());
                    }
                    ScopeKind::Supplier => {
                        out.suppliers.insert(g.scope.clone());
                    }
                    ScopeKind::None | ScopeKind::Organisation => {}
                },
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        !self.everything
            && self.practices.is_empty()
            && self.regions.is_empty()
            && self.suppliers.is_empty()
    }

    /// Whether a practice (with its region and supplier) is within reach.
    pub fn covers(&self, code: &str, region: &str, supplier: Option<&str>) -> bool {
        self.everything
            || self.practices.contains(code)
            || self.regions.contains(region)
            || supplier.is_some_and(|s| self.suppliers.contains(s))
    }
}

/// The first grant that allows a permission at all (for the audit trail's
/// "which grant"), or `None` when none does.
pub fn allowing(grants: &[Grant], permission: Permission) -> Option<&Grant> {
    grants
        .iter()
        .find(|g| reaches(g.role, permission) == Reaches::Everything)
        .or_else(|| {
            grants
                .iter()
                .find(|g| reaches(g.role, permission) != Reaches::Nothing)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_checked_against_the_role() {
        let spec = |role: &str, scope: Option<&str>| GrantSpec {
            role: role.into(),
            scope: scope.map(str::to_owned),
        };
        assert!(Grant::from_spec(&spec("admin", None)).is_ok());
        assert!(Grant::from_spec(&spec("admin", Some("A81001"))).is_err());
        assert!(Grant::from_spec(&spec("B1843", None)).is_err());
        assert_eq!(
            Grant::from_spec(&spec("B1843", Some("a81001")))
                .expect("grant")
                .label(),
            "B1843:A81001"
        );
        assert!(Grant::from_spec(&spec("B1843", Some("not a code"))).is_err());
        assert!(Grant::from_spec(&spec("owner", None)).is_err());
    }

    #[test]
    fn a_practice_grant_reaches_its_practice_only() {
        let grants = [Grant {
            role: Role::B1843,
            scope: "A81001".into(),
        }];
        let reach = Reach::of(&grants, Permission::ViewResults);
        assert!(reach.covers("A81001", "Q1", None));
        assert!(!reach.covers("B82002", "Q1", None));
        assert!(Reach::of(&grants, Permission::ViewRuns).is_empty());
        assert!(allowing(&grants, Permission::ManageCollections).is_none());
    }
}
